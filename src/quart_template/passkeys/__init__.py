"""Passkeys (WebAuthn): registering, listing and removing a person's passkeys, and the
ceremonies' checks that signing in with one (`signin.passkey`) builds on."""
