"""fbh.data."""
