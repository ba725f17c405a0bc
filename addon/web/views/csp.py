"""The add-on's Content-Security-Policy: strict on its own pages, never imposed on the host's.

A page rendered in the add-on's standalone layout is the add-on's own, and gets
``ADDON_CONTENT_SECURITY_POLICY`` (no inline script or style: the screens need none). A page
rendered in the host's layout (``ADDON_BASE_TEMPLATE``) is the host's page: its inline
``<style>`` and scripts are the host's business, so the add-on sends no policy there unless the
host opts in with ``ADDON_CSP_IN_HOST_LAYOUT``. A host that opts in and keeps inline code marks
it with ``nonce="{{ csp_nonce() }}"``; the policy of that response then allows that nonce.
"""

from __future__ import annotations

import secrets

from flask import Flask, g
from werkzeug.wrappers import Response

from ... import config as defaults
from ...state import settings

#: The directives a nonce is added to (the others take no nonce).
NONCE_DIRECTIVES = ("script-src", "style-src")


def csp_nonce() -> str:
    """This request's nonce for inline ``<style>``/``<script>`` of the host's layout.

    The same value for every call within one request, a fresh one for the next request.
    """
    nonce = g.get("_addon_csp_nonce")
    if nonce is None:
        nonce = g._addon_csp_nonce = secrets.token_urlsafe(18)
    return nonce


def policy_for_response() -> str | None:
    """The policy the current add-on response carries, or None for none.

    Returns:
        ``ADDON_CONTENT_SECURITY_POLICY`` (plus the request's nonce when a template used
        ``csp_nonce()``) on the add-on's standalone pages, or on every page when the host set
        ``ADDON_CSP_IN_HOST_LAYOUT``; None when the page sits in the host's layout, or when
        the policy is set empty.
    """
    checked = settings()
    policy = checked.content_security_policy
    standalone = checked.base_template == defaults.ADDON_BASE_TEMPLATE
    if not policy or not (standalone or checked.csp_in_host_layout):
        return None
    nonce = g.get("_addon_csp_nonce")
    return with_nonce(policy, nonce) if nonce else policy


def with_nonce(policy: str, nonce: str) -> str:
    """``policy`` with ``'nonce-<nonce>'`` allowed for scripts and styles.

    A directive the policy leaves to ``default-src`` gets that list plus the nonce, so
    adding a nonce never widens nor narrows anything else.
    """
    directives = [part.strip() for part in policy.split(";") if part.strip()]
    names = [part.split()[0].lower() for part in directives]
    default = next((d for d, n in zip(directives, names, strict=True) if n == "default-src"), "")
    source = f"'nonce-{nonce}'"
    for wanted in NONCE_DIRECTIVES:
        if wanted in names:
            index = names.index(wanted)
            directives[index] = f"{directives[index]} {source}"
        elif default:
            directives.append(" ".join([wanted, *default.split()[1:], source]))
    return "; ".join(directives)


def send_policy(response: Response) -> None:
    """Set the response's ``Content-Security-Policy`` when :func:`policy_for_response` has one
    (a policy the view set already is kept)."""
    policy = policy_for_response()
    if policy:
        response.headers.setdefault("Content-Security-Policy", policy)


def register(app: Flask) -> None:
    """Offer ``csp_nonce()`` to every template of the app, the host's layout included; a host
    that already has one (Flask-Talisman's) keeps its own."""
    app.jinja_env.globals.setdefault("csp_nonce", csp_nonce)
