"""playtable_demos dataset (see playtable_demos_dataset_builder.py)."""
