"""Browser tests: Playwright drives Debian's Chromium against the demo storefront, served in
this process (so ``run_jobs()`` and the simulator's state are shared with the browser's app).

Skipped when ``/usr/bin/chromium`` is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 860}}


@pytest.fixture
def live_url(app):
    """The demo storefront served over HTTP on a free port for one test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def shot(page, output_path):
    """``shot("name")`` saves a full-page screenshot in this test's output folder."""
    folder = Path(output_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def signed_in(page, live_url):
    """Sign in to the demo storefront as Acme's merchant, as a merchant would."""
    page.goto(f"{live_url}/login")
    page.get_by_role("button", name="Sign in as Alice Abbot (Acme Coffee Roasters)").click()
    page.wait_for_url(f"{live_url}/merchant")
    return page
