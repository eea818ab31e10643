"""The streaming core: auditor processes run and read, their events logged and served as SSE."""
