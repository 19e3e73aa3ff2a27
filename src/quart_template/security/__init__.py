"""Security events: one structured log line for each, and a per-person history the person can
read (`GET /security_events`)."""
