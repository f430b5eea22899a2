"""playtable_play dataset (see playtable_play_dataset_builder.py)."""
