"""The UI benchmark: log search and rules list on a big database, against a one-marketplace one.

    python bench/ui.py            # 1,000 marketplaces × 1,000 log entries and 20 rules each
    python bench/ui.py --quick    # 100 marketplaces, for development

Seeds two SQLite databases with the same per-marketplace content (the big one with
``--marketplaces`` of them, the small one with one), then times, for random marketplaces:
``addon.engine.logs.search_logs`` (no query, and each kind of typed query), the Logs page
(``{prefix}/logs?q=...``, as a full page and as the htmx results fragment active search asks
for), ``addon.engine.rules.list_rules`` and the Global Rules page. Server time is the WSGI call,
measured around the app. Every SQL statement is checked with ``EXPLAIN QUERY PLAN``; a table
read without an index is reported. Ends with:

    ui: log_search_p95_ms=<x> log_search_ratio=<r> rules_p95_ms=<y> rules_ratio=<r2>
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask import Flask, request  # noqa: E402
from sqlalchemy import create_engine, event, text  # noqa: E402

from addon import IntegrationEngine  # noqa: E402
from addon.engine.logs import search_logs  # noqa: E402
from addon.engine.rules import list_rules  # noqa: E402
from addon.state import context  # noqa: E402
from bench import seed  # noqa: E402
from bench.benchmarks_md import replace_section  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.passes import percentile  # noqa: E402

# What merchants type into the search box: part of an email, a list, an event id, a word of
# a message, and something that matches nothing (the whole marketplace is searched).
QUERIES = ("customer04", "vip", "evt_{m}_00042", "refused", "no-such-thing")
ENCRYPTION_KEY = "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA="
HEADLINE_SEARCH = "Logs search (htmx results)"
HEADLINE_RULES = "Global Rules page"


def build_app(database_uri: str) -> Flask:
    """A tiny host: the engine, and a marketplace read from ``X-Marketplace``."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="ui-bench",
        SQLALCHEMY_DATABASE_URI=database_uri,
        ADDON_ENCRYPTION_KEY=ENCRYPTION_KEY,
    )
    engine = IntegrationEngine(app)

    @engine.marketplace_loader
    def current_marketplace():
        return request.headers.get("X-Marketplace") or request.args.get("marketplace")

    with app.app_context():
        _wal(engine.db.engine)
    app.wsgi_app = ServerClock(app.wsgi_app)  # type: ignore[method-assign]
    return app


def _wal(db_engine) -> None:
    seed.sqlite_pragmas(db_engine, "journal_mode=WAL", "busy_timeout=30000")
    db_engine.dispose()


class ServerClock:
    """WSGI middleware: the time of the last request, from call to the body's last byte."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.last = 0.0

    def __call__(self, environ, start_response):
        began = time.perf_counter()
        body = b"".join(self.wsgi_app(environ, start_response))
        self.last = time.perf_counter() - began
        return [body]


class Probe:
    """Times operations on one database and collects the SQL they run."""

    def __init__(self, app: Flask, marketplaces: int, seed_value: int = 3):
        self.app = app
        self.marketplaces = marketplaces
        self.rng = random.Random(seed_value)
        self.client = app.test_client()
        self.prefix = app.config["ADDON_URL_PREFIX"]
        self.statements: dict[str, tuple[str, object]] = {}
        self._collecting: str | None = None
        with app.app_context():
            event.listen(app.extensions["addon"].db.engine, "before_cursor_execute", self._sql)

    def _sql(self, _conn, _cursor, statement, parameters, _context, _many):
        if self._collecting and statement.lstrip().upper().startswith("SELECT"):
            self.statements.setdefault(f"{self._collecting}: {statement}", (statement, parameters))

    def views_exist(self) -> bool:
        return any(rule.rule == self.prefix + "/logs" for rule in self.app.url_map.iter_rules())

    def _marketplace(self) -> tuple[int, str]:
        n = self.rng.randrange(1, self.marketplaces + 1)
        return n, seed.marketplace_id(n)

    def operations(self) -> list[str]:
        names = ["search_logs(mid)", "search_logs(mid, q=...)", "list_rules(mid)"]
        if self.views_exist():
            names += ["Logs page (full)", HEADLINE_SEARCH, HEADLINE_RULES]
        return names

    def sample(self, name: str, k: int) -> float:
        """Server time of one call of operation ``name`` for a random marketplace."""
        n, mid = self._marketplace()
        query = QUERIES[k % len(QUERIES)].format(m=n)
        self._collecting = name if k < len(QUERIES) else None
        try:
            if name == "search_logs(mid)":
                return self._call(lambda: search_logs(context(), mid))
            if name == "search_logs(mid, q=...)":
                return self._call(lambda: search_logs(context(), mid, q=query))
            if name == "list_rules(mid)":
                return self._call(lambda: list_rules(context(), mid))
            if name == "Logs page (full)":
                return self._get("/logs", mid, {"q": query})
            if name == HEADLINE_SEARCH:
                return self._get("/logs", mid, {"q": query}, htmx_target="addon-log-results")
            return self._get("/rules", mid, {})
        finally:
            self._collecting = None

    def _call(self, func: Callable[[], object]) -> float:
        with self.app.app_context():
            began = time.perf_counter()
            func()
            took = time.perf_counter() - began
            self.app.extensions["addon"].db.session.remove()
        return took

    def _get(self, path: str, mid: str, query: dict, htmx_target: str | None = None) -> float:
        headers = {"X-Marketplace": mid}
        if htmx_target:
            headers.update({"HX-Request": "true", "HX-Target": htmx_target})
        response = self.client.get(self.prefix + path, query_string=query, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        return self.app.wsgi_app.last  # type: ignore[attr-defined]

    def unindexed(self) -> list[str]:
        """Plans that read a whole table, or a marketplace's rows, without a usable index."""
        findings = []
        with self.app.app_context():
            engine = self.app.extensions["addon"].db.engine
            with engine.connect() as conn:
                for label, (statement, parameters) in self.statements.items():
                    plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
                    for row in plan:
                        detail = row[-1]
                        if detail.startswith("SCAN") and "INDEX" not in detail:
                            findings.append(f"{label.split(':')[0]}: {detail}")
        return sorted(set(findings))


def prepare(path: Path, marketplaces: int, per_marketplace: int) -> str:
    """A seeded database at ``path`` (reused when it already holds this many marketplaces)."""
    uri = f"sqlite:///{path}"
    engine = create_engine(uri)
    try:
        if path.exists():
            with engine.connect() as conn:
                found = conn.execute(text("SELECT count(*) FROM addon_integration")).scalar()
                rows = conn.execute(text("SELECT count(*) FROM addon_delivery")).scalar()
            if found == marketplaces and rows == marketplaces * per_marketplace:
                return uri
            path.unlink()
        began = time.monotonic()
        seed.fast_sqlite(engine)
        seed.seed(engine, marketplaces, per_marketplace)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
        print(
            f"  · seeded {marketplaces:,} marketplace(s) × {per_marketplace:,} log entries "
            f"in {time.monotonic() - began:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    finally:
        engine.dispose()
    return uri


def _ms(values: list[float], pct: float) -> float:
    return 1000 * percentile(values, pct)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 marketplaces, fewer samples")
    parser.add_argument("--marketplaces", type=int)
    parser.add_argument("--entries", type=int, default=1000, help="log entries per marketplace")
    parser.add_argument("--samples", type=int, help="timed calls per operation")
    parser.add_argument("--keep", help="directory to keep (and reuse) the seeded databases in")
    parser.add_argument(
        "--update-benchmarks", action="store_true", help="write the results into BENCHMARKS.md"
    )
    args = parser.parse_args(argv)
    marketplaces = args.marketplaces or (100 if args.quick else 1000)
    samples = args.samples or (100 if args.quick else 400)
    folder = Path(args.keep or tempfile.mkdtemp(prefix="addon-ui-bench-"))
    folder.mkdir(parents=True, exist_ok=True)

    uris = {
        label: prepare(folder / f"ui-{count}x{args.entries}.db", count, args.entries)
        for label, count in (("small", 1), ("big", marketplaces))
    }
    probes = {
        label: Probe(build_app(uri), 1 if label == "small" else marketplaces)
        for label, uri in uris.items()
    }
    results: dict[str, dict[str, list[float]]] = {"small": {}, "big": {}}
    for name in probes["big"].operations():
        for label, probe in probes.items():
            for k in range(min(samples, 20)):  # warm-up: imports, templates, page cache
                probe.sample(name, k)
            results[label][name] = []
        # Interleaved, so a busy moment of the machine hits both databases alike.
        for k in range(samples):
            for label, probe in probes.items():
                results[label][name].append(probe.sample(name, k))
    # On the one-marketplace database a full scan is the right plan: judge the big one only.
    findings = probes["big"].unindexed()
    if not args.keep:
        for path in folder.glob("*"):
            path.unlink()
        folder.rmdir()

    lines = [
        f"UI benchmark: {marketplaces:,} marketplaces × {args.entries:,} log entries, 20 rules",
        describe(),
        "",
        "| operation | p50 ms (1 shop) | p95 ms (1 shop) | p50 ms (big) | p95 ms (big) | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for name, big in results["big"].items():
        small = results["small"][name]
        ratio = _ms(big, 95) / _ms(small, 95)
        lines.append(
            f"| {name} | {_ms(small, 50):.2f} | {_ms(small, 95):.2f} | {_ms(big, 50):.2f} "
            f"| {_ms(big, 95):.2f} | {ratio:.2f} |"
        )
    lines.append("")
    if findings:
        lines.append("Reads without an index (big database):")
        lines += [f"- {finding}" for finding in findings]
    else:
        lines.append("Every query of these operations uses an index (big database).")
    search = HEADLINE_SEARCH if HEADLINE_SEARCH in results["big"] else "search_logs(mid, q=...)"
    rules = HEADLINE_RULES if HEADLINE_RULES in results["big"] else "list_rules(mid)"
    search_p95, rules_p95 = _ms(results["big"][search], 95), _ms(results["big"][rules], 95)
    headline = (
        f"ui: log_search_p95_ms={search_p95:.2f} "
        f"log_search_ratio={search_p95 / _ms(results['small'][search], 95):.2f} "
        f"rules_p95_ms={rules_p95:.2f} "
        f"rules_ratio={rules_p95 / _ms(results['small'][rules], 95):.2f}"
    )
    lines += ["", f"(log search = {search}; rules = {rules})", "", "```", headline, "```"]
    text = "\n".join(lines)
    print()
    print(text.replace("```\n", "").replace("\n```", ""))
    if args.update_benchmarks:
        replace_section("latest-ui", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
