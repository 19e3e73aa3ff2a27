"""Swagger UI at `/docs`, served from the app itself (no CDN): it works with no internet."""
