"""Run the whole demo: Redis (embedded unless ADDON_REDIS_URL is set), the iContact
simulator, an RQ worker with its scheduler and the demo storefront. Ctrl-C stops all of it."""

from __future__ import annotations

import os
import signal
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


def _stop(_signum, _frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # A supervisor's SIGTERM stops everything as Ctrl-C does, rather than orphaning the
    # worker, the simulator and the web app.
    signal.signal(signal.SIGTERM, _stop)
    port = int(os.environ.get("PORT", "5000"))
    env = dict(os.environ)
    children: list[subprocess.Popen] = []
    redis = None
    if not env.get("ADDON_REDIS_URL"):
        redis = EmbeddedRedis()
        env["ADDON_REDIS_URL"] = redis.url
    sandbox_port = int(env.get("SANDBOX_PORT") or free_port())
    sandbox_url = f"http://127.0.0.1:{sandbox_port}/icp"
    env.setdefault("ADDON_ICONTACT_API_URL", sandbox_url)
    env.setdefault("ADDON_ICONTACT_REGISTER_URL", f"{sandbox_url}/core/externallogin")
    env.setdefault("ADDON_WEBHOOK_SECRET", "demo-webhook-secret")
    env.setdefault("PYTHONUNBUFFERED", "1")
    python = sys.executable
    try:
        children.append(
            subprocess.Popen(
                [
                    python, "-m", "addon.sandbox", "--port", str(sandbox_port),
                    "--username", DEMO_USER, "--password", DEMO_LOGIN_PASSWORD,
                    "--app-id", "icontact-web-login", "--lists", DEMO_LISTS,
                ],
                cwd=ROOT,
                env=env,
            )
        )  # fmt: skip
        # Create the tables once, before the worker and the web app both start on them.
        subprocess.run(
            [python, "-c", "import wsgi; wsgi.create_app()"], cwd=ROOT, env=env, check=True
        )
        children.append(subprocess.Popen([python, "worker.py"], cwd=ROOT, env=env))
        children.append(
            subprocess.Popen(
                [python, "-m", "flask", "--app", "wsgi", "run", "--port", str(port), "--no-reload"],
                cwd=ROOT,
                env=env,
            )
        )
        print(
            f"\n  Demo storefront:   http://127.0.0.1:{port}\n"
            f"  iContact simulator: {sandbox_url}/  (account {DEMO_USER}, login password "
            f"{DEMO_LOGIN_PASSWORD!r})\n  Redis: {env['ADDON_REDIS_URL']}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("A demo process exited; stopping the rest.", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(5)
            except subprocess.TimeoutExpired:
                child.kill()
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    main()
