"""Reports a person keeps: the result as JSON or as one self-contained HTML page."""
