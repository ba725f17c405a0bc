"""The simulator's HTML: a home page showing what landed where, ``/icp/core/externallogin``
where a (simulated) iContact user enables an App ID, as on the real site, the buttons with
which a person acts on their own subscriptions (unsubscribe, confirm a double opt-in) and
iContact marks a contact (bounced, do not contact), and the favicon."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, abort, redirect, render_template_string, request, url_for
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from . import consent
from .accounts import Account
from .context import sandbox_state
from .icon import favicon_ico
from .records import CONTACT_STATUSES, split_subscription_id
from .state import SandboxState

#: Rows shown per table: the page stays usable on an account of 10,000 contacts.
MAX_ROWS = 500

bp = Blueprint("icp_sandbox_pages", __name__)

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · iContact API simulator</title>
<link rel="icon" href="{{ icon_url }}">
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
h1, h2, h3 { line-height: 1.2; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: left; }
th { background: #f3f3f3; }
.note { background: #fff8dc; border: 1px solid #e5d9a8; padding: .5rem .8rem; }
.ok { background: #eef9ee; border: 1px solid #9c9; padding: .5rem .8rem; }
.error { background: #fdecec; border: 1px solid #d99; padding: .5rem .8rem; }
label { display: block; margin-top: .6rem; }
input { padding: .3rem; width: 20rem; max-width: 100%; }
button { margin-top: 1rem; padding: .4rem 1rem; }
.muted { color: #666; }
.wide { overflow-x: auto; }
td.actions form { display: inline; }
td.actions button { margin: 0 .3rem .1rem 0; padding: .1rem .5rem; }
</style></head>
<body><header><p class="muted">iContact API simulator — not the real service</p></header>
<main><h1>{{ title }}</h1>{{ content }}</main></body></html>
"""

_HOME = """
<p>API base URL: <code>{{ base_url }}</code>.
To let an application call it, <a href="{{ login_url }}">enable its App ID</a>.</p>
{% for account in accounts %}
<section>
<h2>Account {{ account.username }}</h2>
<p>Account ID <code>{{ account.account_id }}</code>, client folder
<code>{{ account.client_folder_id }}</code>, App IDs enabled:
{{ account.app_passwords | sort | join(", ") or "none" }}.</p>
{% for list in account.lists.values() %}
<h3 id="list-{{ list.listId }}">List {{ list.name }}
<span class="muted">(#{{ list.listId }})</span></h3>
{% set subs = subscribers[list.listId] %}
{% if subs %}
<div class="wide"><table><tr><th>Email</th><th>Name</th><th>Contact</th><th>Subscription</th>
<th>As this person</th></tr>
{% for sub in subs[:max_rows] %}
<tr><td>{{ sub.email }}</td><td>{{ sub.name }}</td><td>{{ sub.contact_status }}</td>
<td>{{ sub.status }}{% if sub.by %} <span class="muted">(by {{ sub.by }})</span>{% endif %}</td>
<td class="actions">
{% if sub.status != "unsubscribed" %}
<form method="post" action="{{ url_for('.unsubscribe', subscription_id=sub.id) }}">
<button type="submit">Unsubscribe</button></form>{% endif %}
{% if sub.status == "pending" %}
<form method="post" action="{{ url_for('.confirm', subscription_id=sub.id) }}">
<button type="submit">Confirm</button></form>{% endif %}
</td></tr>
{% endfor %}</table></div>
{% if subs | length > max_rows %}<p class="muted">… and {{ subs | length - max_rows }}
more.</p>{% endif %}
{% else %}<p class="muted">No subscribers.</p>{% endif %}
{% else %}<p class="muted">No lists yet.</p>{% endfor %}
<h3 id="contacts-{{ account.account_id }}">Contacts</h3>
{% set people = contacts[account.username] %}
{% if people %}
<div class="wide"><table><tr><th>Email</th><th>Status</th><th>Lists</th>
<th>As iContact</th></tr>
{% for person in people[:max_rows] %}
<tr><td>{{ person.email }}</td><td>{{ person.status }}</td><td>{{ person.lists }}</td>
<td class="actions">
{% for status in ("bounced", "donotcontact") if status != person.status %}
<form method="post" action="{{ url_for('.contact_status', contact_id=person.contactId) }}">
<input type="hidden" name="status" value="{{ status }}">
<button type="submit">Mark {{ status }}</button></form>
{% endfor %}</td></tr>
{% endfor %}</table></div>
{% endif %}
<p class="muted">{{ account.contacts | length }} contact(s) in total.</p>
</section>
{% else %}
<p>No accounts yet.</p>
{% endfor %}
"""

_LOGIN = """
<p class="note">Simulator convenience: a username that has no account here yet gets a new
sandbox account with the password you type. On the real service you log in to an existing
account.</p>
{% if error %}<p class="error">{{ error }}</p>{% endif %}
{% if account %}
<div class="ok"><p>App ID <code>{{ app_id }}</code> is enabled for
{{ "the new sandbox" if created else "your" }} account. Give the application:</p>
<ul><li>Username (API-Username): <code>{{ account.username }}</code></li>
<li>Application password (API-Password): the one you just chose</li>
<li>Account ID <code>{{ account.account_id }}</code>, client folder
<code>{{ account.client_folder_id }}</code></li></ul>
<p><a href="{{ home_url }}">See the account's lists</a></p></div>
{% endif %}
<form method="post" action="{{ login_url }}">
<label>iContact username <input name="username" value="{{ form.username }}" required
 autocomplete="username"></label>
<label>iContact password <input name="password" type="password" required
 autocomplete="current-password"></label>
<label>Application ID (App ID) <input name="appId" value="{{ form.appId }}" required></label>
<label>Application password <input name="apiPassword" type="password" required
 autocomplete="new-password"></label>
<p class="muted">The application password is what the application sends as API-Password;
choose one that differs from your login password.</p>
<button type="submit">Enable App ID</button>
</form>
"""


def _page(title: str, body: str, status: int = 200, **context: object) -> Response:
    content = Markup(render_template_string(body, **context))
    icon_url = url_for("icp_sandbox_pages.favicon")
    html = render_template_string(_LAYOUT, title=title, content=content, icon_url=icon_url)
    return Response(html, status=status, mimetype="text/html")


def enable_app_id(
    state: SandboxState, username: str, password: str, app_id: str, app_password: str
) -> tuple[Account | None, bool, str]:
    """Log in (creating the account if the username is new) and enable ``app_id``.

    Returns:
        ``(account, created, "")`` on success, ``(None, False, error text)`` otherwise.
    """
    if not all((username, password, app_id, app_password)):
        return None, False, "Please fill in every field."
    with state.lock:
        existing = state.accounts.get(username)
        if existing is not None and existing.login_password != password:
            return None, False, "The username or password is incorrect."
        account = state.register(username, app_id, app_password, login_password=password)
        return account, existing is None, ""


@bp.get("/")
@bp.get("/icp/", strict_slashes=False)
def home() -> Response:
    """Every account with its lists and each list's subscribers."""
    state = sandbox_state()
    with state.lock:
        accounts = list(state.accounts.values())
        subscribers: dict[str, list[dict]] = {}
        contacts = {}
        for account in accounts:
            lists_of: dict[str, int] = {}
            for list_id in account.lists:
                subscribers[list_id] = []
            for (list_id, contact_id), sub in account.subscriptions.items():
                subscribers[list_id].append(_subscriber_row(account, contact_id, sub))
                lists_of[contact_id] = lists_of.get(contact_id, 0) + 1
            contacts[account.username] = [
                {**record, "lists": lists_of.get(contact_id, 0)}
                for contact_id, record in account.contacts.items()
            ]
        return _page(
            "Accounts, lists and subscribers",
            _HOME,
            accounts=accounts,
            subscribers=subscribers,
            contacts=contacts,
            max_rows=MAX_ROWS,
            base_url=request.host_url + "icp",
            login_url=url_for("icp_sandbox_pages.external_login"),
        )


def _subscriber_row(account: Account, contact_id: str, sub: dict) -> dict:
    contact = account.contacts[contact_id]
    name = " ".join(filter(None, (contact.get("firstName"), contact.get("lastName"))))
    return {
        "id": sub["subscriptionId"],
        "email": contact["email"],
        "name": name,
        "contact_status": contact["status"],
        "status": sub["status"],
        "by": sub.get("unsubscribedBy") if sub["status"] == "unsubscribed" else None,
    }


def _back_to(anchor: str) -> BaseResponse:
    # 303: the browser follows with a GET, so a reload does not repeat the action.
    return redirect(url_for("icp_sandbox_pages.home") + "#" + anchor, code=303)


def _person_acts(
    subscription_id: str, act: Callable[[SandboxState, str, str], dict]
) -> BaseResponse:
    """Do what the person does to a subscription, then show its list again: 404 for no such
    subscription, 409 for one whose state the act does not apply to."""
    list_id, contact_id = split_subscription_id(subscription_id)
    try:
        act(sandbox_state(), list_id, contact_id)
    except consent.NotFoundError as error:
        abort(404, description=str(error))
    except ValueError as error:
        abort(409, description=str(error))
    return _back_to(f"list-{list_id}")


@bp.post("/icp/core/subscriptions/<subscription_id>/unsubscribe")
def unsubscribe(subscription_id: str) -> BaseResponse:
    """The person clicks "unsubscribe" (as in a mail's footer) for this list."""
    return _person_acts(subscription_id, consent.person_unsubscribes)


@bp.post("/icp/core/subscriptions/<subscription_id>/confirm")
def confirm(subscription_id: str) -> BaseResponse:
    """The person follows the double opt-in link of a pending subscription."""
    return _person_acts(subscription_id, consent.person_confirms)


@bp.post("/icp/core/contacts/<contact_id>/status")
def contact_status(contact_id: str) -> BaseResponse:
    """iContact marks the contact (form field ``status``: bounced, donotcontact, ...)."""
    status = request.form.get("status", "")
    if status not in CONTACT_STATUSES:
        abort(400, description=f"status must be one of {', '.join(CONTACT_STATUSES)}")
    state = sandbox_state()
    try:
        account, _ = consent.find_contact(state, contact_id)
        consent.set_contact_status(state, status, contact_id)
    except consent.NotFoundError as error:
        abort(404, description=str(error))
    return _back_to(f"contacts-{account.account_id}")


@bp.get("/favicon.ico")
def favicon() -> Response:
    """A small envelope icon (browsers ask for it on every page)."""
    response = Response(favicon_ico(), mimetype="image/x-icon")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


@bp.route("/icp/core/externallogin", methods=["GET", "POST"])
def external_login() -> Response:
    """The page where an iContact user enables an App ID and picks its password."""
    form = {"username": "", "appId": request.args.get("appId", "")}
    context: dict[str, object] = {
        "error": "",
        "account": None,
        "created": False,
        "app_id": "",
        "login_url": url_for("icp_sandbox_pages.external_login"),
        "home_url": url_for("icp_sandbox_pages.home"),
    }
    status = 200
    if request.method == "POST":
        form = {key: request.form.get(key, "").strip() for key in ("username", "appId")}
        account, created, error = enable_app_id(
            sandbox_state(),
            form["username"],
            request.form.get("password", ""),
            form["appId"],
            request.form.get("apiPassword", ""),
        )
        context.update(error=error, account=account, created=created, app_id=form["appId"])
        status = 400 if error else 200
    return _page("Enable an application", _LOGIN, status=status, form=form, **context)
