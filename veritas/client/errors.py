"""What can go wrong between the client and a server; each maps to one exit status.

ClientFailure            the server could not be used (exit 4)
 +-- ServerRefused       the server answered with an error: `status`, `code`, `message`
"""

from __future__ import annotations

from veritas.errors import VeritasError


class ClientFailure(VeritasError):
    """No result from the server; the message says why, for one line on stderr."""


class ServerRefused(ClientFailure):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"the server answered {status} {code}: {message}")
        self.status = status
        self.code = code
