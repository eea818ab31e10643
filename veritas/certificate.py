"""A TLS peer certificate, read into the `TlsInfo` the analysers use, verified or not."""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from veritas.page import TlsInfo

CertDict = Mapping[str, Any]


def tls_info(
    ssl_object: ssl.SSLObject | ssl.SSLSocket, host: str, verify_error: str | None
) -> TlsInfo:
    """The session and certificate of a live TLS connection to `host`."""
    cert: CertDict = ssl_object.getpeercert() or {}
    if not cert:
        # Without verification the parsed form is empty; decode the DER form ourselves.
        der = ssl_object.getpeercert(binary_form=True)
        cert = decode_der(der) if der else {}
    cipher = ssl_object.cipher()
    return from_cert(cert, host, ssl_object.version(), cipher[0] if cipher else None, verify_error)


def from_cert(
    cert: CertDict, host: str, version: str | None, cipher: str | None, verify_error: str | None
) -> TlsInfo:
    subject = _names(cert.get("subject", ()))
    issuer = _names(cert.get("issuer", ()))
    san = tuple(value for kind, value in cert.get("subjectAltName", ()) if kind == "DNS")
    return TlsInfo(
        version=version,
        cipher=cipher,
        subject=subject,
        issuer=issuer,
        not_before=_seconds(cert.get("notBefore")),
        not_after=_seconds(cert.get("notAfter")),
        san=san,
        self_signed=bool(subject) and subject == issuer,
        hostname_matches=hostname_matches(host, san or _common_names(subject)),
        verify_error=verify_error,
    )


def _names(rdns: Iterable[Iterable[tuple[str, str]]]) -> dict[str, str]:
    return {key: value for rdn in rdns for key, value in rdn}


def _common_names(subject: Mapping[str, str]) -> tuple[str, ...]:
    name = subject.get("commonName")
    return (name,) if name else ()


def _seconds(text: object) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return float(ssl.cert_time_to_seconds(text))
    except ValueError:
        return None


def hostname_matches(host: str, names: Iterable[str]) -> bool:
    """RFC 6125 matching: exact, or one leftmost wildcard label covering exactly one label."""
    host = host.lower().rstrip(".")
    for name in (n.lower().rstrip(".") for n in names):
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            label, rest = host.split(".", 1)
            if label and rest == name[2:]:
                return True
    return False


def decode_der(der: bytes) -> CertDict:
    """The `getpeercert()` form of a DER certificate, or {} when it cannot be decoded.

    The standard library decodes certificates only from a file (`ssl._ssl._test_decode_cert`,
    the function its own tests use); the alternative is an ASN.1 parser of our own.
    """
    decode = getattr(getattr(ssl, "_ssl", None), "_test_decode_cert", None)
    if decode is None:
        return {}
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(ssl.DER_cert_to_PEM_cert(der))
        decoded = decode(path)
    except (OSError, ValueError, ssl.SSLError):
        return {}
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return decoded if isinstance(decoded, dict) else {}
