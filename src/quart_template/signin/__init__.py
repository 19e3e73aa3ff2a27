"""Signing in: the password step, the MFA challenge that binds a second factor to the first,
the second factor (TOTP or recovery code), and the one response every sign-in answers with."""
