"""The updates waiting for each integration and their time at the allowance, on its row of
Integration Setup while a burst drains (issue 18)."""

from __future__ import annotations

from flask import Blueprint

from ...engine.backlog import Backlog, backlog
from ...state import context
from ...store.models import Integration


def backlog_of(integration: Integration) -> Backlog | None:
    """The integration's waiting updates and their expected time, or None (templates)."""
    return backlog(context(), integration)


def register(bp: Blueprint) -> None:
    bp.context_processor(lambda: {"backlog_of": backlog_of})
