"""Small htmx helpers: detect an htmx request, answer it with a fragment, steer the swap.

One view serves both: the full page to a normal request (a reload, a bookmark, the back
button) and one named block of the same template to htmx (jinja2-fragments).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Request,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from jinja2_fragments.flask import render_block
from werkzeug.wrappers import Response


def is_htmx(req: Request | None = None) -> bool:
    """Whether the request wants a fragment.

    A history restore (the back button after a cache miss) also says ``HX-Request: true``
    but wants the whole page, so it counts as a normal request.
    """
    req = req or request
    return (
        req.headers.get("HX-Request") == "true"
        and req.headers.get("HX-History-Restore-Request") != "true"
    )


def hx_target(req: Request | None = None) -> str | None:
    """The id of the element htmx will swap (``HX-Target``), for htmx requests only."""
    req = req or request
    return req.headers.get("HX-Target") if is_htmx(req) else None


def pushes_history(req: Request | None = None) -> bool:
    """Whether navigation inside the add-on should push its URLs into the browser history.

    Not when the add-on is embedded in a host page (the Product Integrations tab inside the
    storefront's product page): that page's history belongs to the host.
    """
    req = req or request
    if not is_htmx(req):
        return True
    try:
        path = urlsplit(req.headers.get("HX-Current-URL", "")).path
    except ValueError:  # not a URL ("http://["): where the page is, is unknown; leave it be
        return False
    prefix = url_for(".settings").rstrip("/")
    return path == prefix or path.startswith(prefix + "/")


def render_screen(template: str, block: str = "screen", **context: Any) -> str:
    """The full page for a normal request, or the template's ``block`` for htmx."""
    if is_htmx():
        return render_block(template, block, **context)
    return render_template(template, **context)


def fragment(
    html: str,
    status: int = 200,
    *,
    retarget: str | None = None,
    reswap: str | None = None,
    push_url: str | None = None,
) -> Response:
    """An htmx answer, optionally swapped somewhere else than the requester asked.

    Args:
        retarget: CSS selector for ``HX-Retarget`` (also honoured for 4xx/5xx, because
            htmx-ext-response-targets prefers that header).
        reswap: ``HX-Reswap`` swap style.
        push_url: ``HX-Push-Url``: the URL the browser should now show.
    """
    response = make_response(html, status)
    if retarget:
        response.headers["HX-Retarget"] = retarget
    if reswap:
        response.headers["HX-Reswap"] = reswap
    if push_url:
        response.headers["HX-Push-Url"] = push_url
    return response


def render_dialog(
    template: str, screen: Callable[[], dict[str, Any]], status: int = 200, **context: Any
) -> Response:
    """A dialog (a wizard step, a confirmation) shown over a screen.

    htmx gets the template's ``dialog`` block alone; a reload or a bookmark gets the whole
    screen with the dialog open, so the template extends the screen's template.

    Args:
        screen: builds the screen's context; only called for a full page.
        status: 422 when the dialog shows validation errors.
    """
    if is_htmx():
        html = render_block(template, "dialog", **context)
    else:
        html = render_template(template, **screen(), **context)
    return make_response(html, status)


def close_dialog(
    template: str, url: str, screen: Callable[[], dict[str, Any]], notice: str
) -> Response:
    """After a dialog's action succeeded: show the updated screen with a notice.

    htmx swaps the whole screen (which also removes the dialog) and the address bar goes back
    to the screen's URL; a plain form post is redirected there (post/redirect/get).
    """
    if not is_htmx():
        flash(notice, "success")
        return redirect(url, 303)
    html = render_block(template, "screen", **screen(), notice=notice)
    return fragment(
        html,
        retarget="#addon-screen",
        reswap="outerHTML",
        push_url=url if pushes_history() else None,
    )
