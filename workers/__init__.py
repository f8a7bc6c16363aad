"""The chiroref Celery workers: delivery, routing, deadlines."""
