"""*Check against iContact*: an integration's lists beside what its rules imply, and *Fix*.

The page polls itself (htmx) while a check runs; without JavaScript it offers a refresh link.
Both buttons are plain forms that post and redirect back to the page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for
from werkzeug.wrappers import Response

from ...engine import integrations, reconcile, reconcile_fix
from ...state import context
from ...store.bookkeeping import Check
from .guard import owned
from .htmx import render_screen

SCREEN = "addon/check.html"
#: Differences listed per kind and list; the rest is counted ("and 120 more").
SHOWN = 200


def check_page(integration_id: int) -> str:
    """The integration's last check: what differs, list by list."""
    integration = owned(integrations.get_integration, integration_id)
    ctx = context()
    check = reconcile.latest_check(ctx, integration.id)
    return render_screen(
        SCREEN,
        tab="settings",
        integration=integration,
        check=check,
        running=reconcile.is_running(ctx, check),
        groups=_groups(check),
        fixable=len(reconcile_fix.fixable(check)) if check else 0,
        waiting=reconcile_fix.fixes_pending(ctx, integration.id),
        kinds=reconcile.KINDS,
        shown=SHOWN,
    )


def start_check(integration_id: int) -> Response:
    """*Check now*."""
    integration = owned(integrations.get_integration, integration_id)
    reconcile.start_check(context(), integration, started_by="merchant")
    return redirect(url_for(".check_integration", integration_id=integration.id), 303)


def fix_check(integration_id: int) -> Response:
    """*Fix these N*: the missing and extra customers of the last check, as deliveries."""
    integration = owned(integrations.get_integration, integration_id)
    ctx = context()
    check = reconcile.latest_check(ctx, integration.id)
    queued = reconcile_fix.fix_check(ctx, check) if check is not None else 0
    if queued:
        flash(
            f"{queued} fix{'es' if queued != 1 else ''} queued: the log shows each one.", "success"
        )
    else:
        flash("Nothing to fix: these were queued already, or the check found nothing to fix.")
    return redirect(url_for(".check_integration", integration_id=integration.id), 303)


def last_check(integration_id: int) -> Check | None:
    """The integration's newest check (Integration Setup's rows show it)."""
    return reconcile.latest_check(context(), integration_id)


def _groups(check: Check | None) -> list[tuple[str, dict[str, list[dict[str, Any]]]]]:
    """``[(list name, {kind: [differences]})]``, lists by name, kinds in screen order."""
    by_list: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for difference in (check.differences or []) if check else []:
        kinds = by_list.setdefault(difference["list_name"], {})
        kinds.setdefault(difference["kind"], []).append(difference)
    return sorted(by_list.items())


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/<addon_id:integration_id>/check", "check_integration", check_page)
    # A path of its own, not a POST beside the page's GET: werkzeug answers an id its
    # converter refuses on a shared path with 405 instead of 404.
    bp.add_url_rule(
        "/<addon_id:integration_id>/check/start", "start_check", start_check, methods=["POST"]
    )
    bp.add_url_rule(
        "/<addon_id:integration_id>/check/fix", "fix_check", fix_check, methods=["POST"]
    )
    bp.context_processor(lambda: {"last_check": last_check})
