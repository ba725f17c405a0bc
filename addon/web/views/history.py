"""One customer's story: every event of theirs, what each rule did with it or why none acted,
and the lists the rules say they should be on now; reached from any log entry, an event, or
a search by email."""

from __future__ import annotations

from flask import Blueprint, request

from ...engine import history
from ...engine.events import is_valid_email
from ...state import context
from .guard import marketplace
from .htmx import render_screen
from .logs import product_namer

SCREEN = "addon/customer.html"


def customer_story():
    """``?email=``: that customer's story; without one, the form that asks for it. An email
    that cannot be a customer's is 400, with the form saying why."""
    email = request.args.get("email", "").strip()
    error = None
    story = None
    if email:
        if not is_valid_email(email) or any(ord(char) < 32 for char in email):
            error = "Enter a customer's whole email address, like jane@example.com."
        else:
            story = history.customer_story(context(), marketplace(), email, product_namer())
    html = render_screen(SCREEN, tab="logs", email=email, error=error, story=story)
    return html, 400 if error else 200, {"Vary": "HX-Target"}


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/logs/customer", "customer_story", customer_story)
