"""fbh.bench."""
