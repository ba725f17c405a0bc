"""Test a rule before trusting it: on each rule, a dry run for a sample or real customer (the
calls it would make, nothing sent) and a real send to a test contact, in a dialog over the
place that lists the rule (Global Rules, or the product's tab)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ...engine import rules, trials
from ...engine.events import is_valid_email
from ...state import context
from .guard import owned
from .htmx import render_dialog
from .log_entry import pretty_json
from .rules import place_of

TEMPLATE = "addon/rule_test.html"
MAX_EMAIL = 254


def test_rule(rule_id: int):
    """GET: the dialog, with a dry run when ``?email=`` was sent (blank: a sample customer).
    POST: send to the test contact ``email`` for real, and show what happened."""
    rule = owned(rules.get_rule, rule_id)
    place = place_of(rule)
    ctx = context()
    values: dict[str, Any] = {"rule": rule, "place": place, "pretty_json": pretty_json}
    status = 200
    if request.method == "POST":
        email = request.form.get("test_email", "").strip()
        values["test_email"] = email
        if not _looks_like_email(email):
            values["send_error"] = "Enter the email address of a test contact you own."
            status = 422
        else:
            values["sent"] = trials.send_test(ctx, rule, email)
    elif "email" in request.args:
        email = request.args.get("email", "").strip()
        values["email"] = email
        if email and not _looks_like_email(email):
            values["dry_error"] = "Enter a customer's whole email address, or leave it blank."
            status = 400
        else:
            values["dry"] = trials.dry_run(ctx, rule, email)

    def screen() -> dict[str, Any]:
        return {name: value for name, value in place.context().items() if name != "place"}

    return render_dialog(TEMPLATE, screen, status, parent_template=place.template, **values)


def _looks_like_email(email: str) -> bool:
    return len(email) <= MAX_EMAIL and is_valid_email(email) and email.isprintable()


def register(bp: Blueprint) -> None:
    bp.add_url_rule(
        "/rules/<addon_id:rule_id>/test", "test_rule", test_rule, methods=["GET", "POST"]
    )
