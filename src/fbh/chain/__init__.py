"""fbh.chain."""
