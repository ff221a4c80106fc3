"""Pieces every domain module shares: errors, time, the database session helpers."""
