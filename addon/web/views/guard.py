"""What every merchant screen shares: whose marketplace it is, CSRF, security headers, errors.

Runs on the add-on's blueprint only; the webhook and the static files are public
(:data:`addon.web.api.PUBLIC_VIEWS`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import generate_csrf, validate_csrf  # type: ignore[import-untyped]
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response
from wtforms import ValidationError  # type: ignore[import-untyped]

from ...engine.triggers import ACTIONS, BY_NAME, TRIGGERS, title
from ...errors import IntegrationError
from ...providers import PROVIDERS
from ...state import context, engine, settings
from ..api import is_public_endpoint
from . import csp
from .htmx import fragment, is_htmx, pushes_history

T = TypeVar("T")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")

# What a merchant reads instead of a bare status code.
MESSAGES = {
    400: "This page has expired or the request was not understood. Reload the page and try again.",
    401: "You are signed out. Sign in again to manage integrations.",
    403: "You may not manage the integrations of this marketplace.",
    404: "That was not found. It may have been deleted; reload the page.",
    405: "That action is not available here.",
    409: "That cannot be done in its current state. Reload the page.",
    500: "Something went wrong on our side. Try again in a minute.",
}


def marketplace() -> str:
    """The current request's marketplace id (set by the guard before any view runs)."""
    return g._addon_marketplace


def owned(getter: Callable[..., T], *args: Any) -> T:
    """Call an engine getter (``getter(ctx, marketplace_id, ...)``) for the current
    marketplace; an unknown id (or another marketplace's) answers 404."""
    try:
        return getter(context(), marketplace(), *args)
    except IntegrationError:
        abort(404)


def _wants_json() -> bool:
    # HTML wins a tie (*/*): only a client that prefers JSON gets JSON.
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return request.is_json or best == "application/json"


def _login_redirect() -> Response | None:
    endpoint = settings().login_endpoint
    if endpoint is None and "login" in current_app.view_functions:
        endpoint = "login"
    if not endpoint:
        return None
    return redirect(url_for(endpoint, next=request.full_path.rstrip("?")))


def load_marketplace() -> Response | None:
    """Find the merchant's marketplace, or send them to sign in; check CSRF on writes."""
    if is_public_endpoint(request.endpoint):
        return None
    eng = engine()
    marketplace_id = eng.current_marketplace()
    if marketplace_id is None:
        if not (is_htmx() or _wants_json()):
            login = _login_redirect()
            if login is not None:
                return login
        abort(401)
    if eng.permission_check_callback is not None and not eng.permission_check_callback(
        marketplace_id
    ):
        abort(403)
    g._addon_marketplace = marketplace_id
    check_csrf()
    return None


def check_csrf() -> None:
    """Validate the CSRF token of an unsafe request, unless the host's CSRFProtect does.

    htmx sends the token in ``X-CSRFToken`` (``hx-headers`` on the screen's root); plain forms
    send ``csrf_token``. Button-only htmx posts carry no form, so FlaskForm alone is not enough.
    Flask-WTF's ``CSRFProtect`` reads the same field and headers, so under it the screens
    work unchanged; it checks before this runs, unless the host turned its default check off
    (``WTF_CSRF_CHECK_DEFAULT = False``), and then the add-on still checks its own.
    """
    if request.method in SAFE_METHODS or host_csrf_checks():
        return
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    token = next((request.headers[h] for h in CSRF_HEADERS if request.headers.get(h)), None)
    try:
        validate_csrf(token or request.form.get("csrf_token"))
    except ValidationError:
        abort(400)
    # FlaskForm then trusts this request instead of asking for its own hidden field.
    g.csrf_valid = True


def host_csrf_checks() -> bool:
    """Whether the host's Flask-WTF ``CSRFProtect`` checks every unsafe request already."""
    return "csrf" in current_app.extensions and current_app.config.get(
        "WTF_CSRF_CHECK_DEFAULT", True
    )


def security_headers(response: Response) -> Response:
    """Headers on every add-on response; the screens also vary on htmx's request header."""
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if is_public_endpoint(request.endpoint):
        return response
    csp.send_policy(response)
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    # Merchant and customer data: never kept by a shared or browser cache.
    headers.setdefault("Cache-Control", "no-store")
    response.vary.add("HX-Request")
    return response


def handle_http_error(error: HTTPException) -> Response | HTTPException:
    """Errors in words a merchant understands; htmx shows them in the screen's alert region."""
    status = error.code or 500
    # A view's own description (abort(409, description=...)) beats the generic words.
    custom = error.description != type(error).description
    message = error.description if custom else MESSAGES.get(status, MESSAGES[500])
    if _wants_json() and not is_htmx():
        response = jsonify({"error": message})
        response.status_code = status
        return response
    if is_htmx():
        html = render_template("addon/_alert.html", message=message, status=status)
        return fragment(html, status, retarget="#addon-alert", reswap="innerHTML")
    return make_response(
        render_template("addon/error.html", message=message, status=status), status
    )


def template_context() -> dict[str, Any]:
    """Names every add-on template may use."""
    return {
        "csrf_token": generate_csrf,
        "base_template": settings().base_template,
        "hx_push": "true" if pushes_history() else "false",
        "ui": current_app.jinja_env.get_template("addon/_macros.html").module,
        "providers": PROVIDERS,
        "trigger_info": BY_NAME,
        "trigger_title": title,
        "trigger_descriptions": {t.name: t.description for t in TRIGGERS},
        "actions": ACTIONS,
        "product_name": _product_name,
    }


def settings_context() -> dict[str, Any]:
    """``addon_settings`` in every template of the app, the add-on's and the host's: a host
    page that includes ``addon/_assets.html`` renders it outside the add-on's blueprint."""
    return {"addon_settings": settings()}


def _product_name(product_id: str | None) -> str | None:
    """A product's name as the current merchant's marketplace knows it (templates)."""
    marketplace_id = g.get("_addon_marketplace")
    return None if marketplace_id is None else engine().product_name(marketplace_id, product_id)


def register(bp: Blueprint) -> None:
    bp.before_request(load_marketplace)
    bp.after_request(security_headers)
    bp.context_processor(template_context)
    bp.app_context_processor(settings_context)
    for status in MESSAGES:
        bp.register_error_handler(status, handle_http_error)
