"""Assembles the simulator's Flask app."""

from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import contacts, control, discovery, guard, lists, pages, replies, subscriptions
from .state import EXTENSION_KEY, SandboxState


def create_sandbox_app(state: SandboxState | None = None) -> Flask:
    """A Flask app serving the simulated iContact API under ``/icp``.

    Args:
        state: the data to serve; a fresh empty :class:`SandboxState` when omitted.

    Returns:
        The app; its state is ``app.extensions["icontact_sandbox"]``.
    """
    app = Flask(__name__)
    state = state if state is not None else SandboxState()
    app.extensions[EXTENSION_KEY] = state
    app.before_request(guard.check_call)
    for blueprint in (discovery.bp, lists.bp, contacts.bp, subscriptions.bp, control.bp, pages.bp):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, replies.http_error)

    @app.after_request
    def _keep(response: Response) -> Response:
        # Every change arrives by a write request; saving after each keeps the file current.
        if state.path is not None and request.method in ("POST", "PUT", "DELETE"):
            state.autosave()
        return response

    return app
