"""Where audits and their events are kept: the `Store` interface and its implementations."""
