"""A seeded marketplace simulator that feeds a running platform (see README)."""
