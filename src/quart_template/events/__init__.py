"""Entity events: the outbox, its relay, RabbitMQ and Pusher."""
