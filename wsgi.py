"""A small demo storefront that mounts the Integration Engine add-on.

``create_app()`` reads its settings from the environment (``ENV_KEYS`` here, every ``ADDON_*``
setting through the add-on), so the same factory serves the demo, the worker (``worker.py``)
and any WSGI server: ``app = create_app()``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from cryptography.fernet import Fernet
from flask import (
    Flask,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_mail import email_dispatched
from flask_wtf.csrf import CSRFProtect  # type: ignore[import-untyped]
from sqlalchemy import event as sa_event

from addon import IntegrationEngine, InvalidEvent
from addon.engine.events import PURCHASE_TYPES
from addon.engine.triggers import TRIGGERS
from addon.environment import from_environ
from addon.store.sqlite import queued_writer_connect_args
from addon.web.webhooks import BadSignature, verify

#: The demo's outbox: the alarm emails the add-on would have mailed, one JSON per line, in the
#: instance folder (the worker writes it, the web app reads it).
OUTBOX = "outbox.jsonl"

# The storefront's settings read from environment variables of the same name (the add-on
# reads its own ADDON_* variables, see addon/environment.py).
ENV_KEYS = ("SECRET_KEY", "SQLALCHEMY_DATABASE_URI")


# Two merchants, each with a marketplace of their own, to show that each sees only theirs.
MARKETPLACES: dict[str, dict[str, Any]] = {
    "acme": {
        "name": "Acme Coffee Roasters",
        "merchant": "Alice Abbot",
        "email": "alice@acme.test",
        "products": {
            "101": "Single-Origin Sampler",
            "102": "Espresso Subscription",
            "103": "Pour-Over Masterclass",
        },
    },
    "bolt": {
        "name": "Bolt Bike Works",
        "merchant": "Bob Brand",
        "email": "bob@bolt.test",
        "products": {
            "201": "Tune-Up Video Course",
            "202": "Parts Club Membership",
        },
    },
}


def order_history(marketplace_id: str) -> list[dict[str, Any]]:
    """The demo shop's orders from before it installed the add-on: a dozen a product over the
    past two years, by eight regular customers (always the same, so a demo can be replayed)."""
    marketplace = MARKETPLACES.get(marketplace_id)
    if marketplace is None:
        return []
    start = datetime(2024, 12, 1)
    orders = []
    for p, product_id in enumerate(marketplace["products"]):
        for n in range(12):
            customer = (n * 3 + p) % 8 + 1
            orders.append(
                {
                    "id": f"{marketplace_id}-{product_id}-{n + 1}",
                    "email": f"regular{customer}@{marketplace_id}.test",
                    "first_name": f"Regular {customer}",
                    "product_id": product_id,
                    "paid_at": start + timedelta(days=n * 30 + p * 7),
                }
            )
    return orders


def _instance_secret(app: Flask, name: str, make) -> str:
    """A secret kept in the instance folder, so the web app and the worker share it."""
    path = Path(app.instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(app: Flask, config: dict[str, Any] | None) -> None:
    app.config.from_mapping(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + os.path.join(app.instance_path, "demo.db"),
        ADDON_BASE_TEMPLATE="demo/addon_base.html",
        # Another site's form post or frame does not carry the merchant's session.
        SESSION_COOKIE_SAMESITE="Lax",
        # The demo's layout has no inline script or style: the add-on's strict policy holds.
        ADDON_CSP_IN_HOST_LAYOUT=True,
        # A product's Integrations tab as a page of its own links back to the product's page.
        ADDON_PRODUCT_ENDPOINT="product",
        # Alarm emails are not mailed: they land in the demo's outbox page (OUTBOX).
        MAIL_SUPPRESS_SEND=True,
        MAIL_DEFAULT_SENDER="Demo storefront <alarms@demo.test>",
    )
    app.config.from_mapping({key: os.environ[key] for key in ENV_KEYS if os.environ.get(key)})
    # Read here, before the demo's own fallbacks below, so the environment beats them too.
    app.config.from_mapping(from_environ())
    if config:
        app.config.update(config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:"):
        # Worker processes and the web app take turns at SQLite's one write lock (a busy
        # timeout of 30 s; in-memory databases take no lock). Copies, so a caller's options
        # are not changed; its own connect_args win.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        options["connect_args"] = {
            **queued_writer_connect_args(30),
            **options.get("connect_args", {}),
        }
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app, "secret-key", secrets.token_hex)
    if not app.config.get("ADDON_ENCRYPTION_KEY"):
        app.config["ADDON_ENCRYPTION_KEY"] = _instance_secret(
            app, "addon-encryption.key", lambda: Fernet.generate_key().decode()
        )


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the demo storefront with the add-on mounted.

    Args:
        config: overrides, applied after the environment (tests pass theirs here).
    """
    app = Flask(__name__, template_folder="demo/templates", static_folder="demo/static")
    load_config(app, config)
    # Every form of the storefront (and the add-on's screens) needs its CSRF token; the
    # add-on exempts its signed webhook itself.
    csrf = CSRFProtect(app)
    engine = IntegrationEngine(app)

    @engine.marketplace_loader
    def current_marketplace():
        return session.get("marketplace")

    @engine.product_loader
    def product_name(marketplace_id, product_id):
        marketplace = MARKETPLACES.get(marketplace_id)
        return marketplace["products"].get(product_id) if marketplace else None

    @engine.past_events
    def past_orders(marketplace_id, trigger, since):
        """What "Apply to past events" reads for the orders before the add-on came."""
        if trigger != "product.purchased":
            return
        for order in order_history(marketplace_id):
            if order["paid_at"] >= since:
                yield {
                    "event_id": f"order-{order['id']}",
                    "occurred_at": order["paid_at"],
                    "customer": {"email": order["email"], "first_name": order["first_name"]},
                    "product_id": order["product_id"],
                    "purchase_type": "primary",
                }

    @engine.alarm_recipients
    def merchant_email(marketplace_id):
        marketplace = MARKETPLACES.get(marketplace_id)
        return [marketplace["email"]] if marketplace else []

    def keep_in_outbox(sender, message, **_extra):
        if sender is app:
            _to_outbox(
                app,
                {
                    "from": message.sender,
                    "to": list(message.recipients),
                    "subject": message.subject,
                    "body": message.body,
                },
            )

    @app.post("/demo/alarm-hook")
    @csrf.exempt
    def alarm_hook():
        """The alarm webhook (ADDON_ALARM_WEBHOOK_URL in ``make demo``), checked as a host would
        check it (docs/mounting.md), and kept in the outbox."""
        try:
            verify(
                request.headers.get("X-Addon-Signature"),
                request.get_data(),
                app.config.get("ADDON_ALARM_WEBHOOK_SECRET") or "",
                tolerance=300,
            )
        except BadSignature:
            abort(400)
        message = request.get_json()
        _to_outbox(app, {"webhook": True, "marketplace_id": message["marketplace_id"], **message})
        return "", 204

    # Strong: a weak reference to this local function would be gone with create_app's frame.
    email_dispatched.connect(keep_in_outbox, weak=False)

    with app.app_context():
        if engine.db.engine.dialect.name == "sqlite":
            _tune_sqlite(engine.db.engine)
        engine.prepare_database()
    _register_storefront(app, engine)
    return app


def _to_outbox(app: Flask, entry: dict[str, Any]) -> None:
    entry = {"at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), **entry}
    path = Path(app.instance_path) / OUTBOX
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as outbox:
        outbox.write(json.dumps(entry) + "\n")


def _tune_sqlite(db_engine) -> None:
    """WAL, so the web app and several workers can share one file (the busy timeout comes
    with the connect arguments, see ``load_config``)."""

    @sa_event.listens_for(db_engine, "connect")
    def _pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL loses no committed data on a crash of the app, only on power loss.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    db_engine.dispose()


def same_site_path(target: str | None) -> str | None:
    r"""``target`` as a path on this site, or None: never an open redirect.

    Read as a browser reads it: browsers drop tabs and line breaks from a URL and read a
    backslash as a slash, so ``/\t/evil.example`` (``next=/%09/evil.example``) and
    ``/\evil.example`` both mean ``//evil.example``, another site.
    """
    if not target:
        return None
    seen = re.sub(r"[\x00-\x1f\x7f]", "", target).replace("\\", "/").strip()
    # "//host" and "///host" name a host; urlsplit() reads the second as a path.
    if not seen.startswith("/") or seen.startswith("//"):
        return None
    parts = urlsplit(seen)
    if parts.scheme or parts.netloc:
        return None
    return urlunsplit(("", "", parts.path, parts.query, parts.fragment))


def _register_storefront(app: Flask, engine: IntegrationEngine) -> None:
    def merchant() -> dict[str, Any]:
        marketplace = MARKETPLACES.get(session.get("marketplace") or "")
        if marketplace is None:
            abort(redirect(url_for("login", next=request.path)))
        return marketplace

    @app.context_processor
    def storefront_context():
        key = session.get("marketplace")
        known = key in MARKETPLACES
        return {
            "marketplace": MARKETPLACES.get(key or ""),
            "marketplace_id": key,
            # The integrations that need the merchant, counted on the bar's Integrations link.
            "needing_attention": engine.needing_attention(key) if known else 0,
        }

    @app.get("/favicon.ico")
    def favicon():
        # Browsers and tools ask for it whatever the page says; the layout links it too.
        return app.send_static_file("favicon.ico")

    @app.get("/")
    def home():
        return render_template("demo/home.html", marketplaces=MARKETPLACES)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            key = request.form.get("marketplace", "")
            if key in MARKETPLACES:
                session["marketplace"] = key
                return redirect(same_site_path(request.args.get("next")) or url_for("dashboard"))
        return render_template("demo/login.html", marketplaces=MARKETPLACES)

    @app.post("/logout")
    def logout():
        session.clear()
        return redirect(url_for("home"))

    @app.get("/merchant")
    def dashboard():
        return render_template("demo/dashboard.html", shop=merchant())

    @app.get("/merchant/products/<product_id>")
    def product(product_id):
        shop = merchant()
        if product_id not in shop["products"]:
            abort(404)
        return render_template(
            "demo/product.html", shop=shop, product_id=product_id, name=shop["products"][product_id]
        )

    @app.get("/merchant/outbox")
    def outbox():
        """The alarm emails sent to the merchant: the demo shows them instead of mailing them."""
        shop = merchant()
        path = Path(app.instance_path) / OUTBOX
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        messages = [json.loads(line) for line in lines if line.strip()]
        key = session["marketplace"]
        mine = [
            m
            for m in reversed(messages)
            if shop["email"] in m.get("to", ()) or m.get("marketplace_id") == key
        ][:50]
        return render_template("demo/outbox.html", shop=shop, messages=mine)

    @app.route("/merchant/events", methods=["GET", "POST"])
    def fire_event():
        shop = merchant()
        if request.method == "POST":
            form = request.form
            event_type = form.get("type", "")
            fields: dict[str, Any] = {"product_id": form.get("product_id") or None}
            if event_type == "product.purchased":
                fields["purchase_type"] = form.get("purchase_type") or "primary"
                fields["prospect_id"] = form.get("prospect_id") or None
            if event_type == "prospect.created":
                fields["prospect_id"] = form.get("prospect_id") or None
            if event_type.startswith("subscription."):
                fields["subscription_id"] = form.get("subscription_id") or None
            customer = {
                "email": form.get("email", ""),
                "first_name": form.get("first_name") or None,
                "last_name": form.get("last_name") or None,
            }
            try:
                event_id = engine.emit(
                    event_type,
                    marketplace_id=session["marketplace"],
                    customer={k: v for k, v in customer.items() if v is not None},
                    **{k: v for k, v in fields.items() if v is not None},
                )
            except InvalidEvent as exc:
                flash(f"Not sent: {exc}", "error")
            else:
                flash(f"Event {event_type} sent (id {event_id}).", "success")
            return redirect(url_for("fire_event"))
        return render_template(
            "demo/events.html", shop=shop, triggers=TRIGGERS, purchase_types=PURCHASE_TYPES
        )


if __name__ == "__main__":  # pragma: no cover
    create_app().run(debug=True)
