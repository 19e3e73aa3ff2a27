"""Access tokens backed by revocable server-side sessions."""
