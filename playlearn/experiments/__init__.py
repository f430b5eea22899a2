"""Experiments that join every layer: the sanity ladder (`ladder.py`)."""
