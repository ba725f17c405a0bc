"""The /icp JSON plumbing: header and credential checks, faults, errors, body parsing, and the
discovery endpoints (time, accounts, client folders). The record resources live in
``lists``, ``contacts`` and ``subscriptions`` and build their blueprints with
:func:`scoped_blueprint`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Blueprint, Response, abort, current_app, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from . import messages
from .query import Page, QueryError, run_query
from .state import EXTENSION_KEY, Account, SandboxState

SUPPORTED_VERSIONS = ("2.0", "2.1", "2.2")
ACCEPTED_TYPES = ("application/json", "text/xml")
# Pages, not API: HTTP errors there keep Flask's HTML.
_HTML_PREFIXES = ("/icp/core/",)
_HTML_PATHS = ("/", "/icp", "/icp/")

bp = Blueprint("icp_api", __name__, url_prefix="/icp")


def sandbox_state() -> SandboxState:
    """The state of the current simulator app."""
    return current_app.extensions[EXTENSION_KEY]


def current_account() -> Account:
    """The account the request's credentials belong to."""
    return g.icp_account


def json_response(payload: object, status: int = 200) -> Response:
    """``payload`` as JSON, keys in the order built (the recorded order)."""
    return Response(json.dumps(payload), status=status, mimetype="application/json")


def error_response(status: int, *errors: str) -> Response:
    """The service's error envelope: ``{"errors": [...]}``."""
    return json_response({"errors": list(errors)}, status)


def with_warnings(payload: dict, warnings: list[str]) -> Response:
    """``payload`` plus a ``warnings`` array when there is anything to warn about."""
    if warnings:
        payload["warnings"] = warnings
    return json_response(payload)


def search_response(
    key: str, records: list[dict], searchable, *, handled: Sequence[str] = ()
) -> Response:
    """Filter and page ``records`` by the request's query: the envelope, or 400 on bad paging."""
    faults = sandbox_state().faults
    try:
        page = run_query(
            records,
            request.args,
            searchable,
            handled=handled,
            comparison_search=faults.comparison_search,
            max_limit=faults.max_page_size,
        )
    except QueryError:
        return error_response(400, messages.BAD_PAGING)
    return page_response(key, page)


def one_record(key: str, table: str, record_id: str, view: Callable[[dict], dict]) -> Response:
    """``{key: view(record)}`` of the account's record ``record_id`` in ``table`` (``"lists"``,
    ``"contacts"``), or 404."""
    with sandbox_state().lock:
        record = getattr(current_account(), table).get(record_id)
        if record is None:
            return error_response(404, messages.NOT_FOUND)
        return json_response({key: view(record)})


def search_all(key: str, table: str, view: Callable[[dict], dict], searchable) -> Response:
    """Every record of the account's ``table`` as ``view`` shows it, searched and paged."""
    with sandbox_state().lock:
        records = [view(r) for r in getattr(current_account(), table).values()]
    return search_response(key, records, searchable)


def page_response(key: str, page: Page, warnings: Sequence[str] = ()) -> Response:
    """A collection GET envelope (recorded key order) with any unknown-term warning."""
    payload = {key: page.items, "limit": page.limit, "offset": page.offset, "total": page.total}
    notes = list(warnings)
    if page.unknown_terms:
        notes.append(messages.unknown_terms(page.unknown_terms))
    return with_warnings(payload, notes)


def is_api_path(path: str) -> bool:
    """Whether ``path`` is a JSON endpoint (errors there are JSON too)."""
    return (
        path.startswith("/icp/") and path not in _HTML_PATHS and not path.startswith(_HTML_PREFIXES)
    )


def http_error(error: HTTPException) -> Response | HTTPException:
    """App-wide HTTP error handler: JSON envelope on API paths, Flask's page elsewhere."""
    if not is_api_path(request.path):
        return error
    if isinstance(error, MethodNotAllowed):
        text = messages.METHOD_NOT_ALLOWED.format(method=request.method)
        response = error_response(405, text)
        response.headers["Allow"] = ", ".join(error.valid_methods or ())
        return response
    if isinstance(error, NotFound) and error.description == NotFound.description:
        return error_response(404, messages.NOT_FOUND)
    return error_response(error.code or 500, error.description or messages.INTERNAL_ERROR)


def read_body() -> object:
    """The request body parsed as JSON; aborts with 400 when it is not JSON."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw)
    except ValueError:
        abort(error_response(400, messages.BAD_JSON))


def read_object() -> dict:
    """A body that must be one JSON object (member updates); aborts with 400 otherwise."""
    body = read_body()
    if not isinstance(body, dict):
        abort(error_response(400, messages.NOT_OBJECT_BODY))
    return body


def read_items(singular: str, plural: str) -> list[object]:
    """The records of a collection POST.

    The documented body is an array; a bare object, ``{singular: {...}}`` and
    ``{plural: [...]}`` are taken too because published clients send them. More records than
    the ``max_batch`` knob allows abort with 400 before any is saved.
    """
    body = read_body()
    if isinstance(body, dict):
        if set(body) == {singular} or set(body) == {plural}:
            body = next(iter(body.values()))
        if isinstance(body, dict):
            body = [body]
    if not isinstance(body, list):
        abort(error_response(400, messages.BAD_JSON))
    limit = sandbox_state().faults.max_batch
    if limit is not None and len(body) > limit:
        abort(error_response(400, messages.TOO_MANY_RECORDS.format(count=len(body), limit=limit)))
    return body


@bp.before_app_request
def guard() -> Response | None:
    """Run every /icp/a call through the checks the real service makes, plus the faults."""
    path = request.path
    if not (path == "/icp/a" or path.startswith("/icp/a/")):
        return None
    state = sandbox_state()
    if state.faults.latency:
        time.sleep(state.faults.latency)
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
        # Runs before the guard has found the account, so only stash the ids here.
        values = values if values is not None else {}
        g.icp_scope = (values.pop("aid", None), values.pop("cfid", None))

    @scoped.before_request
    def _check_scope() -> Response | None:
        return _scope_problem(*g.icp_scope)

    return scoped


def _scope_problem(aid: str, cfid: str | None) -> Response | None:
    account = current_account()
    if aid != account.account_id:
        known = any(a.account_id == aid for a in sandbox_state().accounts.values())
        return error_response(403, messages.FORBIDDEN_ACCOUNT) if known else _not_found()
    if cfid is not None and cfid != account.client_folder_id:
        return _not_found()
    return None


def _not_found() -> Response:
    return error_response(404, messages.NOT_FOUND)


# -- discovery ----------------------------------------------------------------------------


@bp.get("/time")
def server_time() -> Response:
    """Server time; the one call that needs no credentials."""
    now = datetime.now().astimezone()
    return json_response(
        {"time": now.isoformat(timespec="seconds"), "timestamp": int(now.timestamp())}
    )


def _account_view(account: Account) -> dict:
    email = account.username if "@" in account.username else f"{account.username}@example.com"
    # Recorded key order; profile values are placeholders.
    return {
        "billingStreet": "",
        "billingCity": "",
        "billingState": "",
        "billingPostalCode": "",
        "billingCountry": "",
        "city": "Morrisville",
        "accountId": account.account_id,
        "companyName": "",
        "country": "United States",
        "email": email,
        "enabled": "1",
        "fax": "",
        "firstName": "Sandbox",
        "lastName": "User",
        "multiClientFolder": "0",
        "multiUser": "0",
        "phone": "",
        "postalCode": "27560",
        "state": "NC",
        "street": "",
        "title": "",
        "accountType": "0",
        "subscriberLimit": "250000",
    }


def _folder_view(account: Account) -> dict:
    return {
        "clientFolderId": account.client_folder_id,
        "logoId": None,
        "emailRecipient": _account_view(account)["email"],
    }


@bp.get("/a")
@bp.get("/a/")
def accounts() -> Response:
    """The caller's account (always exactly one)."""
    view = _account_view(current_account())
    return json_response({"accounts": [view], "total": 1, "limit": 20, "offset": 0})


@bp.get("/a/<aid>")
def account(aid: str) -> Response:
    """One account by id."""
    return _scope_problem(aid, None) or json_response({"account": _account_view(current_account())})


@bp.get("/a/<aid>/c")
@bp.get("/a/<aid>/c/")
def client_folders(aid: str) -> Response:
    """The account's client folders (always exactly one)."""
    problem = _scope_problem(aid, None)
    if problem is not None:
        return problem
    return json_response({"clientfolders": [_folder_view(current_account())], "total": 1})


@bp.get("/a/<aid>/c/<cfid>")
@bp.get("/a/<aid>/c/<cfid>/")
def client_folder(aid: str, cfid: str) -> Response:
    """One client folder by id."""
    problem = _scope_problem(aid, cfid)
    return problem or json_response({"clientfolder": _folder_view(current_account())})
