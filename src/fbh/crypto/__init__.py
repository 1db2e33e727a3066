"""fbh.crypto."""
