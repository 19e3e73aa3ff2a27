"""Social sign-in and account linking."""
