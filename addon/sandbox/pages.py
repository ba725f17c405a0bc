"""The simulator's HTML: a home page showing what landed where, and ``/icp/core/externallogin``
where a (simulated) iContact user enables an App ID, as on the real site."""

from __future__ import annotations

from flask import Blueprint, Response, render_template_string, request, url_for
from markupsafe import Markup

from .api import sandbox_state
from .state import Account, SandboxState

bp = Blueprint("icp_sandbox_pages", __name__)

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · iContact API simulator</title>
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
<h3>List {{ list.name }} <span class="muted">(#{{ list.listId }})</span></h3>
{% set subs = subscribers[list.listId] %}
{% if subs %}
<table><tr><th>Email</th><th>Name</th><th>Subscription</th></tr>
{% for sub in subs %}
<tr><td>{{ sub.email }}</td><td>{{ sub.name }}</td><td>{{ sub.status }}</td></tr>
{% endfor %}</table>
{% else %}<p class="muted">No subscribers.</p>{% endif %}
{% else %}<p class="muted">No lists yet.</p>{% endfor %}
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
    html = render_template_string(_LAYOUT, title=title, content=content)
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
        subscribers = {}
        for account in accounts:
            for list_id in account.lists:
                subscribers[list_id] = [
                    _subscriber_row(account, contact_id, sub["status"])
                    for (sub_list, contact_id), sub in account.subscriptions.items()
                    if sub_list == list_id
                ]
        return _page(
            "Accounts, lists and subscribers",
            _HOME,
            accounts=accounts,
            subscribers=subscribers,
            base_url=request.host_url + "icp",
            login_url=url_for("icp_sandbox_pages.external_login"),
        )


def _subscriber_row(account: Account, contact_id: str, status: str) -> dict:
    contact = account.contacts[contact_id]
    name = " ".join(filter(None, (contact.get("firstName"), contact.get("lastName"))))
    return {"email": contact["email"], "name": name, "status": status}


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
