"""The HTTP edge: the application, its routes, and what every request passes through."""
