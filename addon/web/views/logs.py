"""Logs: the marketplace's integration events, searched as you type, filtered, paged, and the
failed ones among them retried at once (one entry's details and retry: :mod:`.log_entry`)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ...engine import history, integrations, logs, retries
from ...engine.events import is_valid_email
from ...state import context, engine
from ..forms import LogFilterForm
from . import log_chart
from .guard import marketplace
from .htmx import (
    fragment,
    hx_target,
    is_htmx,
    render_screen,
)

SCREEN = "addon/logs.html"
PAGE_SIZE = 50
RESULTS_ID = "addon-log-results"
FILTER_NAMES = ("show", "q", "status", "trigger", "integration_id", "date_from", "date_to")


def filter_form(formdata: MultiDict) -> LogFilterForm:
    form = LogFilterForm(
        formdata or None, integrations=integrations.list_integrations(context(), marketplace())
    )
    if formdata:
        form.validate()
    return form


def search_filters(form: LogFilterForm) -> dict[str, Any]:
    """The engine's search arguments from the form; a field with an error is left out."""
    filters: dict[str, Any] = {}
    for name in FILTER_NAMES:
        field = form[name]
        value = field.data.strip() if isinstance(field.data, str) else field.data
        # Optional() lets blank input through without errors; blank means "any".
        if field.errors or not value:
            continue
        filters[name] = value
    if "integration_id" in filters:
        filters["integration_id"] = int(filters["integration_id"])
    # Whole days, in UTC like the stored times: "to" includes its day.
    if "date_from" in filters:
        filters["date_from"] = dt.datetime.combine(filters["date_from"], dt.time())
    if "date_to" in filters:
        last_day = filters.pop("date_to")
        # The calendar's last day has no next day to stop before: no end at all.
        if last_day < dt.date.max:
            filters["date_to"] = dt.datetime.combine(last_day + dt.timedelta(1), dt.time())
    return filters


def query_args(form: LogFilterForm) -> dict[str, str]:
    """The filters in force as query arguments, for paging links and *Retry all failed*; an
    invalid value is left out, as the search leaves it out."""
    args = {}
    for name in FILTER_NAMES:
        raw = form[name].raw_data
        if raw and raw[0] and not form[name].errors:
            args[name] = str(raw[0])
    return args


def filter_errors(form: LogFilterForm) -> str:
    """The form's errors in one sentence, each after its field's label."""
    return " ".join(
        f"{form[name].label.text}: {' '.join(errors)}" for name, errors in form.errors.items()
    )


def results_context(form: LogFilterForm, page: int = 1, notice: str | None = None) -> dict:
    filters = search_filters(form)
    if filters.pop("show", None) == "events":
        return events_context(form, filters, page)
    ctx, mid = context(), marketplace()
    total, failed = logs.count_logs_and_failed(ctx, mid, **filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    entries = logs.search_logs(ctx, mid, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
    return {
        "tab": "logs",
        "form": form,
        "entries": entries,
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1,
        "failed": failed,
        "args": query_args(form),
        "notice": notice,
        "events_found": events_found(filters),
        "story_email": story_email(filters),
    }


def story_email(filters: dict[str, Any]) -> str | None:
    """The searched-for text when it is a customer's email: their story is offered."""
    q = filters.get("q")
    return q if isinstance(q, str) and is_valid_email(q) else None


def events_found(filters: dict[str, Any]) -> int | None:
    """How many events a search of the entries also matches (those no rule acted on
    included), to offer them; None when nothing was searched for."""
    if not filters.get("q"):
        return None
    return history.count_events(context(), marketplace(), **filters)


def events_context(form: LogFilterForm, filters: dict[str, Any], page: int) -> dict:
    """The Logs' events: every stored event the filters match, with what its rules did or
    why none acted."""
    ctx, mid = context(), marketplace()
    total = history.count_events(ctx, mid, **filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    events = history.search_events(
        ctx, mid, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters
    )
    return {
        "tab": "logs",
        "form": form,
        "showing_events": True,
        "stories": history.stories(ctx, mid, events, product_namer()),
        "total": total,
        "page": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1,
        "entries": events,
        "failed": 0,
        "args": query_args(form),
        "notice": None,
        "story_email": story_email(filters),
    }


def product_namer():
    """The host's names of the current marketplace's products, each asked once a request."""
    mid, names = marketplace(), {}

    def name(product_id: str | None) -> str | None:
        if product_id is None:
            return None
        if product_id not in names:
            names[product_id] = engine().product_name(mid, product_id)
        return names[product_id]

    return name


def logs_screen():
    """The Logs tab; htmx searches swap only the results (``HX-Target: addon-log-results``)."""
    form = filter_form(request.args)
    context = results_context(form, request.args.get("page", 1, type=int))
    block = "log_results" if hx_target() == RESULTS_ID else "screen"
    if block == "screen":
        context.update(log_chart.chart_context())
    response = render_screen(SCREEN, block, **context)
    return response, 200, {"Vary": "HX-Target"}


def retry_failed():
    """Retry every failed entry the current filters show.

    An invalid filter refuses the whole action (422): leaving it out, as the search does,
    would retry entries the merchant did not mean.
    """
    form = filter_form(request.form)
    if form.errors:
        return refuse_retry(form)
    filters = search_filters(form)
    filters.pop("status", None)
    filters.pop("show", None)
    count = retries.retry_failed(context(), marketplace(), **filters)
    notice = f"Queued {count} failed entr{'ies' if count != 1 else 'y'} again."
    if not is_htmx():
        flash(notice, "success")
        return redirect(url_for(".logs", **query_args(form)), 303)
    return render_screen(SCREEN, "log_results", **results_context(form, notice=notice))


def refuse_retry(form: LogFilterForm):
    """Nothing retried: say which filter is wrong (htmx: in the screen's alert region; a plain
    form: the Logs screen with the errors next to the filters)."""
    message = f"Nothing was retried. {filter_errors(form)}"
    if is_htmx():
        html = render_template("addon/_alert.html", message=message, status=422)
        return fragment(html, 422, retarget="#addon-alert", reswap="innerHTML")
    flash(message, "error")
    return render_template(SCREEN, **results_context(form)), 422


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/logs", "logs", logs_screen)
    bp.add_url_rule("/logs/retry-failed", "retry_failed", retry_failed, methods=["POST"])
