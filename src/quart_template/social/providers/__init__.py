"""One module per provider, each with `exchange(payload, *, http, settings) -> Identity`."""
