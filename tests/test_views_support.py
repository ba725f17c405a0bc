"""What the merchant-screen tests share: a signed-in merchant driving the test client.

Import the fixtures into a test module with ``from tests.test_views_support import merchant``.
(No tests here.)
"""

from __future__ import annotations

import re

import pytest
from flask import url_for

TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Merchant:
    """A merchant's browser: full pages, htmx requests (with the CSRF header htmx sends),
    and plain form posts."""

    def __init__(self, client, marketplace: str = "acme"):
        self.client = client
        # The demo's sign-in form carries its CSRF token (CSRFProtect).
        token = LOGIN_TOKEN.search(client.get("/login").text).group(1)
        client.post("/login", data={"marketplace": marketplace, "csrf_token": token})
        page = client.get(url_for("addon.settings"))
        assert page.status_code == 200, page.status_code
        self.token = TOKEN.search(page.text).group(1)

    def get(self, endpoint: str, htmx: bool = False, headers=None, **values):
        return self.client.get(url_for(endpoint, **values), headers=self._headers(htmx, headers))

    def post(self, endpoint: str, data=None, htmx: bool = True, csrf: bool = True, **values):
        headers = self._headers(htmx)
        if csrf:
            headers["X-CSRFToken"] = self.token
        return self.client.post(url_for(endpoint, **values), data=data or {}, headers=headers)

    @staticmethod
    def _headers(htmx: bool, extra=None) -> dict[str, str]:
        headers = dict(extra or {})
        if htmx:
            headers["HX-Request"] = "true"
            # The page the merchant is on, as htmx says: the add-on's own screens by default.
            headers.setdefault("HX-Current-URL", "http://localhost" + url_for("addon.settings"))
        return headers


@pytest.fixture
def merchant(client, engine):
    """Acme's merchant, signed in."""
    return Merchant(client, "acme")


def fresh(engine, model, pk):
    """Re-read a row the app changed in another request."""
    session = engine.db.session
    session.expire_all()
    return session.get(model, pk)
