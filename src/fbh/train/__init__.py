"""fbh.train."""
