"""Real little servers on 127.0.0.1 standing in for the internet services (SMTP, ...)."""
