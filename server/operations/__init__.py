"""Running the service: metrics, log lines, retention, and recovery after a restart."""
