"""Hosts and registrable domains, from the bundled Public Suffix List snapshot only."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

# The bundled snapshot, never a download: an audit must not depend on a list server.
_EXTRACT = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


def host_of(url: str) -> str:
    """The lower-case host of a URL, without port or brackets; '' when there is none."""
    try:
        return (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str:
    """example.co.uk for a.b.example.co.uk; the host itself for IPs and unknown suffixes."""
    if not host or is_ip(host):
        return host
    parts = _EXTRACT(host)
    return str(parts.top_domain_under_public_suffix or host)


@lru_cache(maxsize=4096)
def split_host(host: str) -> tuple[str, str, str]:
    """(subdomain, domain label, public suffix) of a host."""
    if not host or is_ip(host):
        return ("", host, "")
    parts = _EXTRACT(host)
    return (str(parts.subdomain), str(parts.domain), str(parts.suffix))


def same_site(url_a: str, url_b: str) -> bool:
    """Both URLs under one registrable domain (what browsers call same-site, minus scheme)."""
    return registrable_domain(host_of(url_a)) == registrable_domain(host_of(url_b))
