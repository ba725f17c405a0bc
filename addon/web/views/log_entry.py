"""One log entry: its details (what was sent and answered, why it failed and what to do),
inline under its row or a page of its own, and its retry."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ...engine import logs, reasons, retries
from ...errors import IntegrationError
from ...providers import PROVIDERS, Provider
from ...state import context, session
from ...store.models import FAILED, Delivery, Integration
from .guard import marketplace, owned
from .htmx import is_htmx
from .logs import filter_form, query_args


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
        retries.retry_delivery(context(), marketplace(), entry.id)
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


def explain_failure(entry: Delivery) -> str | None:
    """Why a failed entry failed and what the merchant can do, in their words.

    Read from the provider's answer when there was one; else the entry's own message, which
    the engine already writes for merchants.
    """
    if entry.status != FAILED:
        return None
    calls = (entry.detail or {}).get("calls") or []
    status = calls[-1].get("status") if calls else None
    provider = _provider(entry)
    # The integration was deleted since: the entry keeps its log, not its provider.
    name = provider.display_name if provider is not None else "The provider"
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


def _provider(entry: Delivery) -> Provider | None:
    """The provider the entry was sent to (its integration's); None once that was deleted."""
    integration = session().get(Integration, entry.integration_id) if entry.integration_id else None
    return PROVIDERS.get(integration.provider) if integration is not None else None


def pretty_json(value: Any) -> str:
    """A request or answer body as indented JSON text (autoescaped where it is shown)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def entry_reason(entry: Delivery) -> str | None:
    """Why an entry is waiting, on hold, skipped or failed, in the merchant's words."""
    provider = _provider(entry)
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
    bp.add_url_rule("/logs/<addon_id:entry_id>", "log_entry", log_entry)
    bp.add_url_rule("/logs/<addon_id:entry_id>/retry", "retry_entry", retry_entry, methods=["POST"])
