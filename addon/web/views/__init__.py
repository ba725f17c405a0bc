"""The merchant screens: server-rendered pages that htmx updates a fragment at a time.

``register(bp)`` adds them to the add-on's blueprint. Each module is one tab or concern:
``paths`` (the URL converters of ids), ``guard`` (whose marketplace, CSRF, headers,
errors), ``htmx`` (fragment helpers), ``integrations`` (Integration Setup), ``rules`` (Global
Rules, a product's tab), ``rule_wizard``, ``rule_trial`` (Test a rule), ``logs``,
``log_entry`` (one entry's details and retry), ``log_chart`` and ``logs_feed`` (the Logs'
chart, CSV and new entries), ``history`` (one customer's story), ``alarms`` (integrations'
health, alarms), ``reconcile`` (Check against iContact), ``backfill`` (Apply to past events)
and ``backlog`` (the updates waiting on each integration's row).
"""

from __future__ import annotations

from flask import Blueprint

from . import (
    alarms,
    backfill,
    backlog,
    guard,
    history,
    integrations,
    log_entry,
    logs,
    logs_feed,
    paths,
    reconcile,
    rule_trial,
    rule_wizard,
    rules,
)


def register(bp: Blueprint) -> None:
    paths.register(bp)  # first: the routes below use its converters
    guard.register(bp)
    integrations.register(bp)
    rules.register(bp)
    rule_wizard.register(bp)
    rule_trial.register(bp)
    logs.register(bp)
    log_entry.register(bp)
    alarms.register(bp)
    reconcile.register(bp)
    backfill.register(bp)
    backlog.register(bp)
    logs_feed.register(bp)
    history.register(bp)
