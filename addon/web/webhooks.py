"""Stripe-style webhook signatures: ``X-Addon-Signature: t=<unix>,v1=<hex>``.

The signed text is ``"<t>.<raw body>"`` under HMAC-SHA256 with ``ADDON_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time

HEADER = "X-Addon-Signature"
# A unix time in ASCII digits; str.isdigit() also takes "²" (int() refuses it), and hundreds of
# digits overflow a float: both were errors before any secret was checked.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class BadSignature(Exception):
    """The signature is missing, malformed, wrong or too old."""


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The header value that signs ``body`` (for storefronts and tests)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(header: str | None, body: bytes, secret: str, tolerance: int, now: float | None = None):
    """Check a signature header against the raw body, in constant time.

    Raises:
        BadSignature: saying what is wrong.
    """
    if not header:
        raise BadSignature(f"Missing {HEADER} header")
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif key == "v1" and value and value.isascii():
            # hmac.compare_digest() raises TypeError on a non-ASCII str.
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(f"Malformed {HEADER} header: expected t=<unix time>,v1=<hex digest>")
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        raise BadSignature(f"Signature timestamp is outside the {tolerance} s tolerance")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    expected_hex = expected.hexdigest()
    # Compare every candidate so timing says nothing about which (if any) matched.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(expected_hex, candidate)
    if not matched:
        raise BadSignature("Signature does not match the body")
