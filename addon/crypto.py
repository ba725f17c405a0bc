"""Credentials at rest: Fernet tokens under one or more keys (newest first) for rotation."""

from __future__ import annotations

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

log = logging.getLogger("addon")

MISSING_KEY = (
    "ADDON_ENCRYPTION_KEY is not set: the add-on will not store iContact passwords unencrypted. "
    'Generate a key with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class Vault:
    """Encrypts with the first key and decrypts with any, so keys can be rotated.

    Args:
        keys: Fernet keys, newest first; a comma-separated string is split.
    """

    def __init__(self, keys: str | list[str]):
        if isinstance(keys, str):
            keys = [k.strip() for k in keys.split(",") if k.strip()]
        if not keys:
            raise ValueError(MISSING_KEY)
        try:
            self._fernet = MultiFernet([Fernet(k) for k in keys])
        except ValueError:
            raise ValueError(
                "ADDON_ENCRYPTION_KEY is not a valid Fernet key (32 url-safe base64-encoded bytes)"
            ) from None

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "A stored credential cannot be decrypted with ADDON_ENCRYPTION_KEY "
                "(was the key changed without keeping the old one?)"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key."""
        return self._fernet.rotate(token.encode()).decode()


def derived_key(secret: str) -> str:
    """A stable Fernet key derived from another secret, for debug and test runs only."""
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()).decode()


def encryption_key(configured: str | None, development: bool, secret_key: object = None) -> str:
    """The key(s) to keep credentials under: ``ADDON_ENCRYPTION_KEY``; in a debug or testing
    app without one, a key derived from its ``SECRET_KEY``, so a demo needs no set-up.

    Raises:
        RuntimeError: no key in production, where a derived key would tie every stored
            password to a secret that hosts rotate for other reasons.
    """
    if configured:
        return configured
    if development:
        log.warning("ADDON_ENCRYPTION_KEY unset: using a key derived from SECRET_KEY (dev only)")
        return derived_key(str(secret_key or "addon-insecure-development-key"))
    raise RuntimeError(MISSING_KEY)
