"""The writing side of the datasets: episodes generated in worker processes,
encoded as RLDS records and statistics, for the TFDS builders in `datasets/`.

It sits above `play/` and `envs/` (it runs them) and beside `data/`, which
only reads what this writes.
"""
