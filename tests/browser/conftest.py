"""Browser tests: Playwright drives Debian's Chromium against the demo storefront, served in
this process (so ``run_jobs()`` and the simulator's state are shared with the browser's app).

Every test ends with a clean console: no error logged, no uncaught exception, no violation of
the Content-Security-Policy (the demo sends the add-on's strict one on its screens), no
failed request but the ones a test expects (``console.expect(422)``).

Skipped when ``/usr/bin/chromium`` is missing (``.ci/run`` installs it).
"""

from __future__ import annotations

import re
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
    # The window may not hold the browser's focus (a loaded machine, another page opened
    # first): the focus checks need a page whose document has it.
    page.bring_to_front()
    return page


#: What Chromium logs for an answer that is not 2xx/3xx.
FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


class Console:
    """The errors one page logged: console errors, uncaught exceptions, CSP violations (Chromium
    logs each as a console error) and failed loads (also console errors)."""

    def __init__(self):
        self.errors: list[str] = []
        self.expected: set[int] = set()

    def expect(self, *statuses: int) -> None:
        """Answers with these statuses are part of the test (a form with errors: 422)."""
        self.expected.update(statuses)

    def record(self, kind: str, text: str) -> None:
        self.errors.append(f"{kind}: {text}")

    def unexpected(self) -> list[str]:
        def allowed(error: str) -> bool:
            failed = FAILED_LOAD.search(error)
            return failed is not None and int(failed.group(1)) in self.expected

        return [error for error in self.errors if not allowed(error)]


@pytest.fixture(autouse=True)
def console(page):
    """Every page's console, checked clean at the end of each test."""
    log = Console()

    def on_console(message):
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            log.record("console", f"{message.text} ({where})" if where else message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.record("pageerror", str(error)))
    yield log
    assert log.unexpected() == []


#: The add-on's visible controls that stick out of the window, left or right.
OUT_OF_REACH = """() => {
  const width = document.documentElement.clientWidth;
  const controls = document.querySelectorAll(
    "#addon-screen :is(a, button, select, input):not([aria-hidden=true])");
  return Array.from(controls)
    .filter(el => el.offsetParent !== null && !el.closest(".addon-sr-only"))
    .filter(el => {
      const box = el.getBoundingClientRect();
      return box.left < 0 || box.right > width;
    })
    .map(el => el.outerHTML.slice(0, 120));
}"""


@pytest.fixture
def no_overflow(page):
    """``no_overflow()`` asserts that the page does not scroll sideways, and that every button
    and link of the add-on's screen is within the window (reachable without scrolling sideways).
    """

    def check() -> None:
        widths = page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"{page.url} is {widths[0]} px wide in {widths[1]} px"
        outside = page.evaluate(OUT_OF_REACH)
        assert outside == [], f"{page.url}: out of reach: {outside}"

    return check
