"""What a simulator request works with: the app's state and the caller's account."""

from __future__ import annotations

from flask import current_app, g

from .accounts import Account
from .state import EXTENSION_KEY, SandboxState


def sandbox_state() -> SandboxState:
    """The state of the current simulator app."""
    return current_app.extensions[EXTENSION_KEY]


def current_account() -> Account:
    """The account the request's credentials belong to (set by :func:`.guard.check_call`)."""
    return g.icp_account
