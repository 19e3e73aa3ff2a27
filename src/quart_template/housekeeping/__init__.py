"""Housekeeping: deleting, in small batches, the rows that are no longer live (ended sessions,
spent challenges, delivered outbox rows, old history), on one instance at a time."""
