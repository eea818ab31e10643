"""The auditor: one process per audit, fetching a site and streaming what it finds as events."""
