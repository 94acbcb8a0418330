"""Load test: wrk against gunicorn, idle and while indexer jobs publish (`make loadtest`)."""
