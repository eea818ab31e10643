"""The one build step pyproject.toml cannot state stably: the reader's C fast path.

It is optional: without a C compiler the package installs and runs on the pure-Python
path, which is the reference (protocol/_fastpath.c says how the two relate). `make test`
installs a compiler, so the tests run both.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "protocol._fastpath",
            ["protocol/_fastpath.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
