"""The discovery endpoints: server time, the caller's account and its client folder."""

from __future__ import annotations

from flask import Blueprint, Response

from .accounts import Account
from .context import current_account, sandbox_state
from .guard import scope_problem
from .replies import json_response

bp = Blueprint("icp_api", __name__, url_prefix="/icp")


@bp.get("/time")
def server_time() -> Response:
    """Server time; the one call that needs no credentials."""
    now = sandbox_state().now()
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
    return scope_problem(aid, None) or json_response({"account": _account_view(current_account())})


@bp.get("/a/<aid>/c")
@bp.get("/a/<aid>/c/")
def client_folders(aid: str) -> Response:
    """The account's client folders (always exactly one)."""
    problem = scope_problem(aid, None)
    if problem is not None:
        return problem
    return json_response({"clientfolders": [_folder_view(current_account())], "total": 1})


@bp.get("/a/<aid>/c/<cfid>")
@bp.get("/a/<aid>/c/<cfid>/")
def client_folder(aid: str, cfid: str) -> Response:
    """One client folder by id."""
    problem = scope_problem(aid, cfid)
    return problem or json_response({"clientfolder": _folder_view(current_account())})
