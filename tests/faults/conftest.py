"""The fault suite's stack: its own Redis, the simulator, the app in this process and three
``worker.py`` processes, all on the database of ``tests/conftest.py``'s ``database_uri``."""

from __future__ import annotations

import os

import pytest

from tests.faults.scenario import APP_ID, WEBHOOK_SECRET, FaultStack
from tests.faults.stack import RestartableRedis, Simulator, Workers
from wsgi import create_app

ENCRYPTION_KEY = "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA="
SETTINGS = {
    "SECRET_KEY": "fault-secret",
    "ADDON_ICONTACT_APP_ID": APP_ID,
    "ADDON_ENCRYPTION_KEY": ENCRYPTION_KEY,
    # Short leases and sweeps, so a killed worker's work and lost jobs come back in seconds.
    # A batch must still finish inside its lease (25 deliveries at 0.1 s a call do): what
    # happens when it does not is test_lease_expiry.py's subject, not this suite's.
    "ADDON_LEASE_SECONDS": "10",
    "ADDON_CLAIM_BATCH": "25",
    "ADDON_SWEEP_INTERVAL": "2",
    # Keep every log entry: the audit reads each one.
    "ADDON_LOG_LIMIT": "100000000",
    # The engine's own pacing stays out of the way: the simulator's throttle is the fault.
    "ADDON_ICONTACT_CALLS_PER_MINUTE": "1000000",
}
WORKERS = 3


@pytest.fixture
def fault_events() -> int:
    """Distinct events in the run: ``FAULT_EVENTS`` (``make faults`` sets 5000), else 400."""
    return int(os.environ.get("FAULT_EVENTS") or 400)


@pytest.fixture
def fault_settings() -> dict[str, str]:
    """``ADDON_*`` settings of the app and the workers; a test module may override this."""
    return dict(SETTINGS)


@pytest.fixture
def fault_workers() -> int:
    return WORKERS


@pytest.fixture
def fault_stack(database_uri, tmp_path, fault_settings, fault_workers):
    redis = RestartableRedis()
    sim = Simulator(seed=20240604)
    settings = {
        **fault_settings,
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "ADDON_REDIS_URL": redis.url,
        "ADDON_ICONTACT_API_URL": sim.base_url,
    }
    typed = {key: int(value) if value.isdigit() else value for key, value in settings.items()}
    app = create_app({**typed, "TESTING": True, "ADDON_WEBHOOK_SECRET": WEBHOOK_SECRET})
    app.instance_path = str(tmp_path / "instance")
    env = {**os.environ, **settings, "PYTHONUNBUFFERED": "1"}
    workers = Workers(env, tmp_path, fault_workers)
    try:
        yield FaultStack(app, redis, sim, workers)
    finally:
        workers.close()
        sim.close()
        redis.stop()
        with app.app_context():
            app.extensions["addon"].db.engine.dispose()
