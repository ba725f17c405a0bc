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


def test_a_worker_stops_promptly_when_its_command_thread_is_asleep(redis_url):
    """RQ unsubscribes the thread that listens for its commands, then waits for it: a thread
    that took the reply and went back to sleep used to hold the worker's shutdown 60 s."""
    import threading

    from redis import Redis
    from rq import Queue

    from addon.workers import COMMAND_POLL_SECONDS, SimpleWorker

    connection = Redis.from_url(redis_url)
    worker = SimpleWorker([Queue("addon-shutdown-test", connection=connection)])
    worker.subscribe()
    # The race, made certain: the thread takes an unsubscribe reply and sleeps again.
    worker.pubsub.unsubscribe()
    time.sleep(0.3)
    assert worker.pubsub_thread.is_alive()

    stopped = threading.Thread(target=worker.unsubscribe, daemon=True)
    started = time.monotonic()
    stopped.start()
    stopped.join(timeout=30)
    assert not stopped.is_alive(), "the worker's shutdown hung on its command thread"
    assert time.monotonic() - started < COMMAND_POLL_SECONDS + 5
    assert not worker.pubsub_thread.is_alive()
