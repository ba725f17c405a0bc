"""Logs: the marketplace's integration events, searched as you type, filtered, paged, each
one expandable to what was sent and answered, and failed ones retried."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from ...engine import integrations, logs, retries
from ...errors import IntegrationError
from ...providers import PROVIDERS
from ...state import session
from ...store.models import FAILED, Delivery, Integration
from ..forms import LogFilterForm
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
FILTER_NAMES = ("q", "status", "trigger", "integration_id", "date_from", "date_to")


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
    mid = marketplace()
    filters = search_filters(form)
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
    }


def logs_screen():
    """The Logs tab; htmx searches swap only the results (``HX-Target: addon-log-results``)."""
    form = filter_form(request.args)
    context = results_context(form, request.args.get("page", 1, type=int))
    block = "log_results" if hx_target() == RESULTS_ID else "screen"
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


def template_context() -> dict[str, Any]:
    return {"explain_failure": explain_failure, "pretty_json": pretty_json}


def register(bp: Blueprint) -> None:
    bp.context_processor(template_context)
    bp.add_url_rule("/logs", "logs", logs_screen)
    bp.add_url_rule("/logs/<addon_id:entry_id>", "log_entry", log_entry)
    bp.add_url_rule("/logs/<addon_id:entry_id>/retry", "retry_entry", retry_entry, methods=["POST"])
    bp.add_url_rule("/logs/retry-failed", "retry_failed", retry_failed, methods=["POST"])
