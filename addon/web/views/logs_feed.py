"""The Logs beyond the list: the filtered log as a CSV file, and the entries that arrive while
the tab is open."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from jinja2_fragments.flask import render_block

from ...engine import logs
from ...engine.triggers import title
from ...state import context, engine
from ...store.models import Delivery
from .guard import marketplace
from .htmx import fragment, is_htmx
from .logs import (
    PAGE_SIZE,
    SCREEN,
    filter_errors,
    filter_form,
    query_args,
    results_context,
    search_filters,
)
from .paths import MAX_ID

#: A CSV cell a spreadsheet would run as a formula starts with one of these.
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def export_csv():
    """The filtered log as a CSV file (every entry the filters match, newest first). An
    invalid filter is refused (400): a file of other entries than asked would mislead."""
    form = filter_form(request.args)
    if form.errors:
        abort(400, description=f"Nothing was exported. {filter_errors(form)}")
    filters = search_filters(form)
    filters.pop("show", None)
    ctx, mid = context(), marketplace()
    total, _ = logs.count_logs_and_failed(ctx, mid, **filters)
    rows = logs.search_logs(ctx, mid, limit=max(total, 1), **filters)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "Time (UTC)",
            "Status",
            "Trigger",
            "Event id",
            "Customer",
            "Product id",
            "Product",
            "Integration",
            "Action",
            "List",
            "Result",
            "Attempts",
        ]
    )
    names: dict[str, str | None] = {}
    for entry in rows:
        if entry.product_id and entry.product_id not in names:
            names[entry.product_id] = engine().product_name(mid, entry.product_id)
        writer.writerow(_cells(entry, names.get(entry.product_id or "")))
    stamp = context().clock.now().strftime("%Y-%m-%d")
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="logs-{stamp}.csv"'},
    )


def _cells(entry: Delivery, product: str | None) -> list[str]:
    cells = [
        entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        entry.status,
        title(entry.trigger),
        entry.event_id,
        entry.email,
        entry.product_id or "",
        product or "",
        entry.integration_label,
        "add" if entry.action == "add" else "remove",
        entry.list_name,
        entry.message,
        str(entry.attempts),
    ]
    # A customer's email or a list name may start like a formula: kept as text.
    return [f"'{cell}" if cell.startswith(FORMULA) else cell for cell in cells]


def new_entries():
    """While the Logs tab is open (htmx polls this): the entries newer than ``after`` that
    the filters match, to put above the list; 204 when there are none.

    ``after=0`` (the list was empty) answers the whole results, or 204.
    """
    form = filter_form(request.args)
    if not is_htmx():
        # Nothing polls without JavaScript: a reload of this address (whatever its ``after``,
        # or none) shows the Logs.
        return redirect(url_for(".logs", **query_args(form)), 303)
    after = request.args.get("after", "")
    if not after.isascii() or not after.isdigit() or int(after) > MAX_ID:
        abort(400)
    filters = search_filters(form)
    filters.pop("show", None)
    mid = marketplace()
    newer = [
        entry
        for entry in logs.search_logs(context(), mid, limit=PAGE_SIZE + 1, **filters)
        if entry.id > int(after)
    ]
    if not newer:
        return "", 204
    if int(after) == 0 or len(newer) > PAGE_SIZE:
        html = render_block(SCREEN, "log_results", **results_context(form))
        return fragment(html, retarget="#addon-log-results", reswap="outerHTML")
    html = render_template(
        "addon/_log_new.html", entries=newer, newest=newer[0].id, args=query_args(form)
    )
    # The count and *Retry all failed (N)* above the list take the new entries in too.
    summary = render_block(SCREEN, "log_summary", **results_context(form), summary_oob=True)
    return fragment(html + summary)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/logs/export.csv", "export_logs", export_csv)
    bp.add_url_rule("/logs/new", "new_log_entries", new_entries)
