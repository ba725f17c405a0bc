"""The checks the real service makes on every /icp/a call (version, formats, credentials, the
caller's own account and folder), plus the simulator's latency, throttle and faults."""

from __future__ import annotations

from flask import Blueprint, Response, g, request

from . import messages
from .context import current_account, sandbox_state
from .replies import error_response

SUPPORTED_VERSIONS = ("2.0", "2.1", "2.2")
ACCEPTED_TYPES = ("application/json", "text/xml")


def check_call() -> Response | None:
    """App-wide before-request hook: refuse an /icp/a call the service would refuse, else
    remember the caller's account for the views."""
    path = request.path
    if not (path == "/icp/a" or path.startswith("/icp/a/")):
        return None
    state = sandbox_state()
    if state.faults.latency:
        state.sleep(state.faults.latency)
    if request.headers.get("API-Version", "").strip() not in SUPPORTED_VERSIONS:
        return error_response(501, messages.BAD_VERSION)
    if "Accept" in request.headers and not _accepts_json(request.headers["Accept"]):
        return error_response(406, messages.BAD_ACCEPT)
    if request.content_length and not _sends_json(request.mimetype):
        return error_response(415, messages.BAD_CONTENT_TYPE)
    account, problem = state.authenticate(
        request.headers.get("API-Username", ""),
        request.headers.get("API-AppId", ""),
        request.headers.get("API-Password", ""),
    )
    if account is None:
        return error_response(401, problem)
    refusal = state.admit_call(account.username)
    if refusal is not None:
        return error_response(*refusal)
    g.icp_account = account
    return None


def _accepts_json(header: str) -> bool:
    # "*/*" is not enough: the service wants one of its two formats named explicitly.
    types = {part.split(";")[0].strip().lower() for part in header.split(",")}
    return any(kind in types for kind in ACCEPTED_TYPES)


def _sends_json(mimetype: str) -> bool:
    # No Content-Type at all is tolerated and parsed as JSON; XML is a format we don't speak.
    return mimetype in ("", "application/json")


def scoped_blueprint(name: str, resource: str) -> Blueprint:
    """A blueprint for ``/icp/a/<aid>/c/<cfid>/<resource>`` that checks both ids belong to
    the caller (403 for another account, 404 for an unknown one or folder)."""
    scoped = Blueprint(name, __name__, url_prefix=f"/icp/a/<aid>/c/<cfid>/{resource}")

    @scoped.url_value_preprocessor
    def _take_ids(endpoint: str | None, values: dict | None) -> None:
        # Runs before check_call has found the account, so only stash the ids here.
        values = values if values is not None else {}
        g.icp_scope = (values.pop("aid", None), values.pop("cfid", None))

    @scoped.before_request
    def _check_scope() -> Response | None:
        return scope_problem(*g.icp_scope)

    return scoped


def scope_problem(aid: str, cfid: str | None) -> Response | None:
    """403 when ``aid`` is another caller's account, 404 when it or folder ``cfid`` is
    unknown; None when both are the caller's."""
    account = current_account()
    if aid != account.account_id:
        known = any(a.account_id == aid for a in sandbox_state().accounts.values())
        return error_response(403, messages.FORBIDDEN_ACCOUNT) if known else _not_found()
    if cfid is not None and cfid != account.client_folder_id:
        return _not_found()
    return None


def _not_found() -> Response:
    return error_response(404, messages.NOT_FOUND)
