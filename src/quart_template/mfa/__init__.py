"""TOTP multi-factor authentication and recovery codes."""
