"""Local launcher for a real Kafka and PostgreSQL without Docker."""
