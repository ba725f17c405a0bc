"""A real ``worker.py`` process against a real Redis applies events end to end."""

import os
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import customers_rule, list_id, purchase

ROOT = Path(__file__).resolve().parent.parent


def test_worker_py_applies_events_from_a_real_redis(app, app_config, engine, integration, icontact):
    customers_rule(engine, integration)
    for n in range(3):
        purchase(engine, f"buyer{n}@example.com")
    env = {
        **os.environ,
        **{key: str(value) for key, value in app_config.items() if key.isupper()},
    }
    env.pop("TESTING", None)
    result = subprocess.run(
        [sys.executable, "worker.py", "--burst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    deadline = time.monotonic() + 10
    customers = list_id(icontact, "Customers")
    while len(icontact.subscribers(customers)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(icontact.subscribers(customers)) == {f"buyer{n}@example.com" for n in range(3)}
    engine.db.session.expire_all()
    assert [e.status for e in engine.logs("acme")] == ["success"] * 3
