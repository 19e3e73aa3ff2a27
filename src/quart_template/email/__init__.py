"""Email messages and delivery backends."""
