"""fbh.protocol."""
