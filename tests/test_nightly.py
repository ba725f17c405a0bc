"""The nightly run: once a day after ADDON_CHECK_HOUR, on one worker only, it prunes old
events and checks every connected integration; None turns it off."""

import dataclasses
import datetime as dt

from addon.engine.context import Clock
from addon.engine.nightly import run_nightly_if_due
from addon.engine.reconcile import latest_check
from tests.conftest import configure


def _at(app, hour):
    ctx = app.extensions["addon"].state(app).context
    when = dt.datetime(2026, 12, 4, hour, 30)
    return dataclasses.replace(ctx, clock=Clock(now=lambda: when))


def test_the_night_checks_every_integration_once_a_day(app, integration, run_jobs):
    configure(app, ADDON_CHECK_HOUR=3)
    with app.app_context():
        assert run_nightly_if_due(_at(app, 2)) is None  # before the hour
        summary = run_nightly_if_due(_at(app, 3))
        assert summary == "pruned 0 old event(s) and 0 old alarm(s), asked for 1 check(s)"
        assert run_nightly_if_due(_at(app, 4)) is None  # once a day, whichever worker asks
    run_jobs()
    with app.app_context():
        check = latest_check(_at(app, 5), integration.id)
        assert check.started_by == "schedule" and check.status == "done"


def test_no_hour_no_nightly_run(app, integration):
    configure(app, ADDON_CHECK_HOUR=None)
    with app.app_context():
        assert run_nightly_if_due(_at(app, 23)) is None
