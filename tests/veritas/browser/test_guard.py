"""The browser reaches the network only through the guarded proxy: private addresses, refused.

The page /private is allowed (its name passes the guard); once loaded, its script reaches
for 127.0.0.1, 0x7f.1, localhost and a name resolving to loopback, by fetch, XHR, an
image, a frame, a WebSocket, https, and a redirect from the allowed host. The site counts
every request it gets: none of them may arrive.
"""

from __future__ import annotations

import pytest

from tests.veritas.browser.conftest import DeepSite

pytestmark = pytest.mark.browser


async def test_a_page_reaching_for_private_addresses_loads_but_reaches_none(
    deep_site: DeepSite,
) -> None:
    before = len(deep_site.state.hits)
    rendered = await deep_site.render("/private")
    hits = deep_site.state.hits[before:]
    assert "/private" in hits  # the entry page loaded, through the proxy
    assert "/static/private.js" in hits  # so did its same-site script
    assert "/static/pixel.gif" in hits  # and a subresource added after load
    assert any(h.startswith("/redirect?to=") for h in hits)  # the allowed first hop
    assert [h for h in hits if h.startswith("/secret")] == []
    refusals = "\n".join(rendered.summary["refusals"])
    for target in (
        "http://127.0.0.1:{port}/secret/fetch",  # fetch
        "http://private.test:{port}/secret/xhr",  # XHR, a name resolving to loopback
        "http://localhost:{port}/secret/img",  # an image
        "http://127.0.0.1:{port}/secret/document",  # a frame, 0x7f.1 read as 127.0.0.1
        "http://127.0.0.1:{port}/secret/redirect",  # the redirect's second hop
        "127.0.0.1:{port}: 127.0.0.1 is refused",  # CONNECT: https and the WebSocket
    ):
        assert target.format(port=deep_site.port) in refusals
