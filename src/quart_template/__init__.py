"""Quart Template: an async account-and-authentication API service."""

__version__ = "0.1.0"
