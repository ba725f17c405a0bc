"""Running the simulator on a real socket (for tests that use an HTTP client, and the CLI)."""

from __future__ import annotations

import threading

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    """Logs errors but not every request, so test and demo output stays readable."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Skip the per-request access line."""


def build_server(app: Flask, host: str = "127.0.0.1", port: int = 0) -> tuple[str, BaseWSGIServer]:
    """A threaded werkzeug server for ``app`` (not started) and its ``/icp`` base URL."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    return f"http://{host}:{server.server_port}/icp", server


def serve_in_thread(
    app: Flask, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, BaseWSGIServer]:
    """Serve ``app`` from a daemon thread.

    Args:
        app: usually from :func:`create_sandbox_app`.
        host: interface to bind.
        port: 0 picks a free port.

    Returns:
        ``(base_url, server)`` with ``base_url`` like ``http://127.0.0.1:PORT/icp``; call
        ``server.shutdown()`` to stop it.
    """
    base_url, server = build_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, name="icontact-sandbox", daemon=True)
    thread.start()
    return base_url, server


def serve_until_interrupted(server: BaseWSGIServer) -> None:
    """Serve in this thread until Ctrl-C, then release the port."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
