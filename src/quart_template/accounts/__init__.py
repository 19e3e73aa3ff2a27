"""People, passwords, verification and reset."""
