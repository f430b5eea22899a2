"""ml_collections config files, one per method (see each file's docstring)."""
