"""Run the whole demo: Redis (embedded unless ADDON_REDIS_URL is set), the iContact
simulator, an RQ worker with its scheduler and the demo storefront. Ctrl-C stops all of it.

Every process runs in a session of its own, so the terminal's Ctrl-C reaches this script
alone, which then stops them one after the other, each only after what depends on it: the web
app, the worker (it finishes its job and stops its scheduler and sweeper), the simulator, and
Redis last. (A Ctrl-C that reached them all at once stopped Redis under the worker, whose
scheduler and sweeper then printed eight tracebacks.)

The simulator keeps its accounts and lists in ``instance/icontact-sandbox.json``, beside the
demo's database (``instance/demo.db``), so after a restart an integration that says
"Connected" still is. A new demo database (none yet, or deleted to start over) starts a new
simulator state with it. ``DEMO_INSTANCE`` names another folder for both (the tests use one).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from addon.embedded_redis import EmbeddedRedis, free_port  # noqa: E402

# The simulator's demo account: its *login* password is used once, on the App ID page.
DEMO_USER = "demo@icontact.test"
DEMO_LOGIN_PASSWORD = "demo"
DEMO_LISTS = "Customers,Buyers,Abandoned Carts,Refunds"
#: Where the demo keeps its SQLite database and the simulator's state (``DEMO_INSTANCE``
#: overrides); the storefront's instance folder (wsgi.py) by default.
INSTANCE = ROOT / "instance"
DATABASE = "demo.db"
SANDBOX_STATE = "icontact-sandbox.json"
#: Seconds each process gets to stop before it is killed.
STOP_TIMEOUT = 10


def _stop(_signum, _frame) -> None:
    raise KeyboardInterrupt


def own_database(env: dict[str, str], instance: Path) -> Path | None:
    """The demo's SQLite file in ``instance``, or None when ``SQLALCHEMY_DATABASE_URI`` names
    another database."""
    return None if env.get("SQLALCHEMY_DATABASE_URI") else instance / DATABASE


def sandbox_state_args(env: dict[str, str], instance: Path) -> list[str]:
    """The simulator's options that keep its state in a file beside the demo's database.

    With ``--reset`` when the demo's own database does not exist yet, so that both start
    afresh together; beside a database named by ``SQLALCHEMY_DATABASE_URI`` the state is kept.
    """
    args = ["--state", str(instance / SANDBOX_STATE)]
    database = own_database(env, instance)
    if database is not None and not database.exists():
        args.append("--reset")
    return args


def stale_database_note(env: dict[str, str], instance: Path) -> str | None:
    """A warning when the demo's database outlived the simulator's state (a demo from before
    the simulator kept one): its integrations point at accounts the simulator forgot."""
    database = own_database(env, instance)
    if database is None or not database.exists() or (instance / SANDBOX_STATE).exists():
        return None
    return (
        f"Note: the simulator starts empty but {database} is older, so integrations "
        "connected before fail until you connect them again. Delete it to start both afresh."
    )


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A demo process in a session of its own: out of reach of the terminal's Ctrl-C."""
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True)


def stop(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> None:
    """Ask ``process`` to stop (SIGTERM: an RQ worker's warm shutdown) and wait; kill it if it
    does not stop in ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_port(port: int, watched: list[subprocess.Popen], timeout: float = 60.0) -> bool:
    """Whether something listens on ``port`` before ``timeout`` and while every process of
    ``watched`` still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(p.poll() is None for p in watched):
        with socket.socket() as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def main() -> None:
    # A supervisor's SIGTERM stops everything as Ctrl-C does, rather than orphaning the
    # worker, the simulator and the web app. Ctrl-C too when a shell started us in the
    # background, with SIGINT ignored.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    port = int(os.environ.get("PORT", "5000"))
    env = dict(os.environ)
    redis = None
    # Started in this order, stopped in the reverse one.
    sandbox = worker = web = None
    try:
        if not env.get("ADDON_REDIS_URL"):
            redis = EmbeddedRedis()
            env["ADDON_REDIS_URL"] = redis.url
        sandbox_port = int(env.get("SANDBOX_PORT") or free_port())
        sandbox_url = f"http://127.0.0.1:{sandbox_port}/icp"
        env.setdefault("ADDON_ICONTACT_API_URL", sandbox_url)
        env.setdefault("ADDON_ICONTACT_REGISTER_URL", f"{sandbox_url}/core/externallogin")
        env.setdefault("ADDON_WEBHOOK_SECRET", "demo-webhook-secret")
        # The alarm webhook goes to the demo storefront itself, which checks its signature and
        # shows it in the Outbox page beside the alarm emails.
        env.setdefault("ADDON_ALARM_WEBHOOK_URL", f"http://127.0.0.1:{port}/demo/alarm-hook")
        env.setdefault("ADDON_ALARM_WEBHOOK_SECRET", "demo-alarm-secret")
        env.setdefault("PYTHONUNBUFFERED", "1")
        python = sys.executable
        instance = Path(env.get("DEMO_INSTANCE") or INSTANCE)
        instance.mkdir(parents=True, exist_ok=True)
        note = stale_database_note(env, instance)
        state_args = sandbox_state_args(env, instance)
        database = own_database(env, instance)
        if database is not None:
            env["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
        sandbox = start(
            [
                python, "-m", "addon.sandbox", "--port", str(sandbox_port),
                "--username", DEMO_USER, "--password", DEMO_LOGIN_PASSWORD,
                "--app-id", "icontact-web-login", "--lists", DEMO_LISTS,
                *state_args,
            ],
            env,
        )  # fmt: skip
        # Create the tables once, before the worker and the web app both start on them.
        subprocess.run(
            [python, "-c", "import wsgi; wsgi.create_app()"],
            cwd=ROOT,
            env=env,
            check=True,
            start_new_session=True,
        )
        worker = start([python, "worker.py"], env)
        web = start(
            [python, "-m", "flask", "--app", "wsgi", "run", "--port", str(port), "--no-reload"],
            env,
        )
        running = [sandbox, worker, web]
        if wait_for_port(port, running):
            print(
                f"\n  Demo storefront:   http://127.0.0.1:{port}\n"
                f"  iContact simulator: {sandbox_url}/  (account {DEMO_USER}, login password "
                f"{DEMO_LOGIN_PASSWORD!r})\n  Redis: {env['ADDON_REDIS_URL']}\n"
                + (f"  {note}\n" if note else "")
                + "  Ctrl-C stops everything.\n",
                flush=True,
            )
        while all(process.poll() is None for process in running):
            time.sleep(0.5)
        print("A demo process exited; stopping the rest.", file=sys.stderr)
    except KeyboardInterrupt:
        print("\nStopping the demo…", flush=True)
    except subprocess.CalledProcessError as error:
        print(f"The demo could not create its tables (exit {error.returncode}).", file=sys.stderr)
    finally:
        # A second Ctrl-C while stopping would leave processes behind: finish first.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for process in (web, worker, sandbox):
            if process is not None:
                stop(process)
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    main()
