"""The path of ONE purchase through the add-on's modules, from ``engine.emit`` to its log entry.

    python -m bench.trace_path

Builds a throwaway app (SQLite file, embedded Redis, the iContact simulator over HTTP), connects
an integration with one rule, then traces ``emit`` + commit and the RQ jobs that follow (a
``SimpleWorker`` in burst mode, as ``tests/conftest.py``'s ``run_jobs``) with ``sys.setprofile``
(and ``threading.setprofile`` for the threads the path starts: the batch's calls, the lease
keeper). The simulator is not the path and is left out.

How it counts: every call of a function of an ``addon`` module is one call (a generator
expression or comprehension resumed by its consumer is not a call of its own, nor is a module
body run by an import); its caller is the nearest ``addon`` frame below it (a call through
SQLAlchemy or logging back into the add-on counts from the add-on module that called the
library). A call whose module differs from its
caller's is a crossing ``caller → callee``. For each pair of modules, a *visit back* is a
crossing that goes the other way from the pair's previous crossing (``A → B`` then ``B → A``):
a pair visited back and forth is a loop in the path. Calling a module several times from the
same side is not a visit back.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The issue's targets for one purchase's path.
MAX_MODULES = 12
MAX_VISITS_BACK = 2

USERNAME = "trace@example.com"
PASSWORD = "trace-password"
APP_ID = "trace-app-id"


@dataclass
class Trace:
    """What one traced run went through."""

    calls: int = 0
    modules: Counter[str] = field(default_factory=Counter)
    crossings: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: Per unordered pair: how many times its crossings changed direction.
    visits_back: Counter[tuple[str, str]] = field(default_factory=Counter)
    _last_direction: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def cross(self, caller: str, callee: str) -> None:
        pair = tuple(sorted((caller, callee)))
        assert len(pair) == 2
        key = (pair[0], pair[1])
        with self._lock:
            self.crossings[(caller, callee)] += 1
            last = self._last_direction.get(key)
            if last is not None and last != (caller, callee):
                self.visits_back[key] += 1
            self._last_direction[key] = (caller, callee)

    def _pair_totals(self) -> Counter[tuple[str, str]]:
        totals: Counter[tuple[str, str]] = Counter()
        for (caller, callee), count in self.crossings.items():
            a, b = sorted((caller, callee))
            totals[(a, b)] += count
        return totals

    def report(self) -> str:
        lines = [
            f"modules entered: {len(self.modules)} (target <= {MAX_MODULES})",
            f"calls of add-on functions: {self.calls}",
            f"module crossings: {sum(self.crossings.values())}",
            f"most crossings between one pair: {max(self._pair_totals().values(), default=0)}",
            f"most visits back of one pair: {max(self.visits_back.values(), default=0)}"
            f" (target <= {MAX_VISITS_BACK})",
            "",
            "modules (calls):",
        ]
        lines += [f"  {name:32} {count}" for name, count in sorted(self.modules.items())]
        lines += ["", "pairs (crossings a->b / b->a, visits back):"]
        pairs = {tuple(sorted(pair)) for pair in self.crossings}
        for a, b in sorted(pairs, key=lambda p: (-self.visits_back[p], p)):  # type: ignore[index]
            there, back = self.crossings[(a, b)], self.crossings[(b, a)]
            lines.append(f"  {a} <-> {b}: {there} / {back}, back {self.visits_back[(a, b)]}")
        return "\n".join(lines)


def _module_of(frame: Any) -> str | None:
    if frame.f_code.co_name.startswith("<") and frame.f_code.co_name != "<lambda>":
        return None  # <genexpr>, <listcomp>, <module>: part of the frame that made them
    name = frame.f_globals.get("__name__", "")
    if name == "addon" or name.startswith("addon."):
        if name.startswith("addon.sandbox"):
            return None
        return name
    return None


def _caller_module(frame: Any) -> str | None:
    frame = frame.f_back
    while frame is not None:
        name = _module_of(frame)
        if name is not None:
            return name
        frame = frame.f_back
    return None


def _profiler(trace: Trace):
    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = _module_of(frame)
        if callee is None:
            return
        trace.calls += 1
        trace.modules[callee] += 1
        caller = _caller_module(frame)
        if caller is not None and caller != callee:
            trace.cross(caller, callee)

    return profile


def trace_one_purchase() -> Trace:
    """Set up an app with one connected integration and one rule, then trace one purchase."""
    from redis import Redis
    from sqlalchemy import create_engine, select

    from addon.embedded_redis import EmbeddedRedis
    from addon.sandbox import SandboxState, create_sandbox_app, serve_in_thread
    from addon.store.db import upgrade
    from addon.store.models import Delivery
    from addon.workers import SimpleWorker
    from wsgi import create_app

    sandbox = SandboxState()
    base_url, server = serve_in_thread(create_sandbox_app(sandbox))
    sandbox.base_url = base_url
    sandbox.register(USERNAME, APP_ID, PASSWORD, lists=("Customers",))
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis() as redis:
        uri = f"sqlite:///{Path(tmp) / 'trace.db'}"
        schema = create_engine(uri)
        upgrade(schema)
        schema.dispose()
        Redis.from_url(redis.url).flushdb()
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "trace",
                "SQLALCHEMY_DATABASE_URI": uri,
                "ADDON_REDIS_URL": redis.url,
                "ADDON_ICONTACT_API_URL": base_url,
                "ADDON_ICONTACT_APP_ID": APP_ID,
                "ADDON_ENCRYPTION_KEY": "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA=",
                "ADDON_ICONTACT_CALLS_PER_MINUTE": 1_000_000,
            }
        )
        app.instance_path = tmp
        engine = app.extensions["addon"]
        trace = Trace()
        try:
            with app.app_context():
                integration = engine.connect(
                    "acme", label="Trace", username=USERNAME, password=PASSWORD
                )
                engine.add_rule(
                    "acme",
                    trigger="product.purchased",
                    integration_id=integration.id,
                    action="add",
                    list_name="Customers",
                )
                queue = engine.state(app).queue
                worker = SimpleWorker(
                    [queue], connection=queue.connection, job_class=queue.job_class
                )
                profile = _profiler(trace)
                threading.setprofile(profile)
                sys.setprofile(profile)
                try:
                    engine.emit(
                        "product.purchased",
                        marketplace_id="acme",
                        event_id="order-1",
                        customer={"email": "ann@example.com"},
                        product_id="101",
                        purchase_type="primary",
                    )
                    engine.db.session.commit()
                    worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
                finally:
                    sys.setprofile(None)
                    threading.setprofile(None)  # type: ignore[arg-type]
                statuses = engine.db.session.scalars(select(Delivery.status)).all()
                if list(statuses) != ["success"]:
                    raise RuntimeError(f"the purchase was not delivered: {statuses}")
                engine.db.session.remove()
        finally:
            with app.app_context():
                engine.db.engine.dispose()
            server.shutdown()
    return trace


def main() -> None:
    trace = trace_one_purchase()
    print(trace.report())
    ok = len(trace.modules) <= MAX_MODULES and max(trace.visits_back.values(), default=0) <= (
        MAX_VISITS_BACK
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
