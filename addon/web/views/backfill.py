"""*Apply to past events* from a rule's row: a since-date, a preview (customers, calls and
time at the account's allowance), then a job whose progress bar updates itself (htmx) or
offers a refresh link (no JavaScript); *Cancel* stops it. Forms post and redirect."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from ...engine import backfill as backfills
from ...engine import backfill_preview, rules
from ...errors import IntegrationError
from ...state import context
from ...state import engine as host
from ...store.models import Rule
from .guard import owned
from .htmx import render_screen

SCREEN = "addon/backfill.html"
#: What the date field offers first: a year back.
DEFAULT_DAYS = 365


def backfill_page(rule_id: int) -> str:
    """The since-date form, its preview when a date was given, and the last run's progress."""
    rule = owned(rules.get_rule, rule_id)
    ctx = context()
    since = _since(request.args.get("since"))
    from_host = request.args.get("from_host") == "1"
    preview = None
    if since is not None:
        try:
            preview = backfill_preview.preview(ctx, rule, since, from_host)
        except IntegrationError as exc:
            flash(str(exc), "error")
    last = backfills.active_backfill(ctx, rule.id)
    return render_screen(
        SCREEN,
        tab="global_rules" if rule.product_id is None else "product",
        rule=rule,
        back=_back(rule),
        since=since or (ctx.clock.now() - dt.timedelta(days=DEFAULT_DAYS)),
        asked=since is not None or "since" in request.args,
        from_host=from_host,
        host_hook=host().past_events_callback is not None,
        preview=preview,
        last=last,
        progress=backfills.progress(ctx, last) if last is not None else None,
        running=last is not None and last.status in backfills.ACTIVE,
    )


def start_backfill(rule_id: int) -> Response:
    """*Apply*: start the job the preview described."""
    rule = owned(rules.get_rule, rule_id)
    since = _since(request.form.get("since"))
    if since is None:
        flash("Choose the date to start from.", "error")
    elif since > context().clock.now():
        # Nothing happened after today yet: a job for it would only record an empty run.
        flash("Choose a date that has passed.", "error")
    else:
        try:
            backfills.start_backfill(context(), rule, since, request.form.get("from_host") == "1")
        except IntegrationError as exc:
            flash(str(exc), "error")
    return redirect(url_for(".backfill_rule", rule_id=rule.id), 303)


def cancel_backfill(rule_id: int) -> Response:
    """*Cancel*: nothing more is applied; what was applied stays."""
    rule = owned(rules.get_rule, rule_id)
    ctx = context()
    last = backfills.active_backfill(ctx, rule.id)
    if last is not None:
        skipped = backfills.cancel_backfill(ctx, last)
        flash(f"Cancelled; {skipped} customer(s) left untouched.", "success")
    return redirect(url_for(".backfill_rule", rule_id=rule.id), 303)


def _since(raw: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(raw or "", "%Y-%m-%d")
    except ValueError:
        return None


def _back(rule: Rule) -> dict[str, Any]:
    if rule.product_id is None:
        return {"url": url_for(".global_rules"), "title": "Global Rules"}
    return {
        "url": url_for(".product_tab", product_id=rule.product_id),
        "title": "the product's rules",
    }


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rules/<addon_id:rule_id>/past", "backfill_rule", backfill_page)
    # A path of its own, as the check's start (views/reconcile.py): an odd id is then 404.
    bp.add_url_rule(
        "/rules/<addon_id:rule_id>/past/start", "start_backfill", start_backfill, methods=["POST"]
    )
    bp.add_url_rule(
        "/rules/<addon_id:rule_id>/past/cancel",
        "cancel_backfill",
        cancel_backfill,
        methods=["POST"],
    )
