"""fbh.model."""
