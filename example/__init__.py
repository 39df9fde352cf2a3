"""The bundled example: a tiny order service over PostgreSQL, Redis and NATS JetStream."""
