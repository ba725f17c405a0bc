"""Logs: the marketplace's integration events, searched as you type, filtered, paged, each
one expandable to what was sent and answered, and failed ones retried."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ...engine import history, integrations, logs, reasons, retries
from ...engine.events import is_valid_email
from ...errors import IntegrationError
from ...providers import PROVIDERS
from ...state import context, engine, session
from ...store.models import FAILED, Delivery, Integration
from ..forms import LogFilterForm
from . import log_chart
from .guard import marketplace, owned
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
        formdata or None, integrations=integrations.list_integrations(marketplace())
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
    mid = marketplace()
    total, failed = logs.count_logs_and_failed(mid, **filters)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    entries = logs.search_logs(mid, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **filters)
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


def log_entry(entry_id: int):
    """One entry's details: inline under its row for htmx, a page of its own otherwise (its
    link in an opened row without JavaScript, a reload, a bookmark).

    The page's way back keeps the search it was opened from (the link carries its filters
    and page); an invalid filter is left out, as the search leaves it out.
    """
    entry = owned(logs.get_log_entry, entry_id)
    if is_htmx():
        return render_template("addon/_log_detail.html", entry=entry)
    back = query_args(filter_form(request.args))
    page = request.args.get("page", 1, type=int)
    if page > 1:
        back["page"] = str(page)
    return render_template("addon/log_entry.html", entry=entry, tab="logs", back=back)


def retry_entry(entry_id: int):
    """Retry one failed entry; answers its updated row."""
    entry = owned(logs.get_log_entry, entry_id)
    try:
        retries.retry_delivery(marketplace(), entry.id)
    except IntegrationError as exc:
        abort(409, description=str(exc))
    if not is_htmx():
        flash("Queued the entry again.", "success")
        return redirect(url_for(".logs"), 303)
    return render_template(
        "addon/_log_entry.html",
        entry=entry,
        expanded=True,
        entry_notice="Queued again: it runs shortly.",
    )


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
    count = retries.retry_failed(marketplace(), **filters)
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


def explain_failure(entry: Delivery) -> str | None:
    """Why a failed entry failed and what the merchant can do, in their words.

    Read from the provider's answer when there was one; else the entry's own message, which
    the engine already writes for merchants.
    """
    if entry.status != FAILED:
        return None
    calls = (entry.detail or {}).get("calls") or []
    status = calls[-1].get("status") if calls else None
    name = _provider_name(entry)
    if status in (401, 403):
        return (
            f"{name} refused this integration's credentials: the application password was "
            "changed or the App ID was disabled. Edit the integration, enter the current "
            "application password, then retry."
        )
    if status == 404:
        return (
            f"{name} no longer has this list. Refresh the integration's lists, edit the rule "
            "to use an existing list, then retry."
        )
    if status is not None and status >= 500:
        return (
            f"{name} kept failing (HTTP {status}) until the automatic retries ran out. "
            f"Retry once {name} is back."
        )
    if status is not None and status >= 400:
        return f"{name} rejected what was sent (HTTP {status}); its answer is below."
    return entry.message or "The failure was not explained; retry it, or contact support."


def _provider_name(entry: Delivery) -> str:
    """The display name of the provider the entry was sent to (its integration's)."""
    integration = session().get(Integration, entry.integration_id) if entry.integration_id else None
    provider = PROVIDERS.get(integration.provider) if integration is not None else None
    # The integration was deleted since: the entry keeps its log, not its provider.
    return provider.display_name if provider is not None else "The provider"


def pretty_json(value: Any) -> str:
    """A request or answer body as indented JSON text (autoescaped where it is shown)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def entry_reason(entry: Delivery) -> str | None:
    """Why an entry is waiting, on hold, skipped or failed, in the merchant's words."""
    integration = session().get(Integration, entry.integration_id) if entry.integration_id else None
    provider = PROVIDERS.get(integration.provider) if integration is not None else None
    name = provider.display_name if provider is not None else None
    return reasons.entry_reason(entry, name, context().clock.now())


def template_context() -> dict[str, Any]:
    return {
        "explain_failure": explain_failure,
        "pretty_json": pretty_json,
        "entry_reason": entry_reason,
    }


def register(bp: Blueprint) -> None:
    bp.context_processor(template_context)
    bp.add_url_rule("/logs", "logs", logs_screen)
    bp.add_url_rule("/logs/<addon_id:entry_id>", "log_entry", log_entry)
    bp.add_url_rule("/logs/<addon_id:entry_id>/retry", "retry_entry", retry_entry, methods=["POST"])
    bp.add_url_rule("/logs/retry-failed", "retry_failed", retry_failed, methods=["POST"])
