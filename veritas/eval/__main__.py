"""`python -m veritas.eval`: see the package docstring."""

from veritas.eval.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
