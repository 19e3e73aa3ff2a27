"""ASGI entry point for Hypercorn workers: `hypercorn quart_template.asgi:app`."""

from quart_template.app import create_app

app = create_app()
