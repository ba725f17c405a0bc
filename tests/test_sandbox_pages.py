"""The simulator's pages answer a browser's every request: the favicon is served, not a 404
(issue 14 §4), and each page points at it."""

from __future__ import annotations

import struct

from addon.sandbox import SandboxState, create_sandbox_app


def test_the_favicon_is_a_16_pixel_icon():
    client = create_sandbox_app(SandboxState()).test_client()
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/x-icon"
    assert response.cache_control.max_age == 86400
    icon = response.get_data()
    reserved, kind, count = struct.unpack_from("<HHH", icon)
    width, height, _, _, planes, bits, size, offset = struct.unpack_from("<BBBBHHII", icon, 6)
    assert (reserved, kind, count) == (0, 1, 1)
    assert (width, height, planes, bits) == (16, 16, 1, 32)
    assert offset + size == len(icon)


def test_every_page_links_the_favicon():
    client = create_sandbox_app(SandboxState()).test_client()
    for path in ("/", "/icp/", "/icp/core/externallogin"):
        assert '<link rel="icon" href="/favicon.ico">' in client.get(path).get_data(as_text=True)
