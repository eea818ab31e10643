"""The terminal and CI client of a Veritas server: `python -m veritas URL --server BASE`."""
