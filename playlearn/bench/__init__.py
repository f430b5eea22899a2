"""Speed measurements (not tests): results are printed and written as JSON."""
