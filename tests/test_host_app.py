"""The mounting guide (docs/mounting.md) runs as written in a storefront of its own.

The host here has what a real one has: Flask-Login, its own Flask-SQLAlchemy models and its own
layout (``tests/host_templates``), and two shops. Its app then runs the guide's code blocks,
exactly as shown, and the tests walk it: sign-in, the permission check, each shop seeing only
its own products, a checkout that commits and one that rolls back, a signed webhook (from
Python and from the guide's curl + openssl), the worker and the log. (A stricter host is in
``test_host_strict.py``.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from flask import Flask, redirect, render_template, request
from flask_login import LoginManager, UserMixin, login_user
from flask_sqlalchemy import SQLAlchemy
from redis import Redis
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from addon.engine.alarms import TEST_MESSAGE, send_test_alarm
from addon.sandbox.server import serve_in_thread
from addon.store.models import Event
from addon.web.webhooks import sign
from tests.conftest import APP_ID, PASSWORD, USERNAME, customers_rule, list_id

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "mounting.md"
HOST_TEMPLATES = Path(__file__).resolve().parent / "host_templates"
PREFIX = "/shop/integrations"
WEBHOOK_SECRET = "host-webhook-secret"
ALARM_SECRET = "host-alarm-secret"


def guide_blocks() -> dict[str, str]:
    """The guide's code blocks by the name in the ``<!-- name -->`` comment above each."""
    blocks = re.findall(r"<!-- ([\w-]+) -->\n```\w+\n(.*?)```", GUIDE.read_text(), re.S)
    return dict(blocks)


@dataclass
class Host:
    app: Flask
    guide: dict[str, Any]  # what the guide's blocks defined: engine, checkout, migrate, ...

    @property
    def engine(self):
        return self.guide["engine"]

    def sign_in(self, client, email: str):
        return client.post("/login", data={"email": email})


def build_host(config: dict[str, Any]) -> Host:
    """A storefront with its own login, models and layout, then the guide's blocks."""
    db = SQLAlchemy()
    login_manager = LoginManager()

    class Shop(db.Model):  # type: ignore[name-defined]
        __tablename__ = "shop_shop"
        id: Mapped[str] = mapped_column(String(64), primary_key=True)

    class User(UserMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "shop_user"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(254), unique=True)
        shop_id: Mapped[str] = mapped_column(String(64))
        is_owner: Mapped[bool]

    class Product(db.Model):  # type: ignore[name-defined]
        __tablename__ = "shop_product"
        id: Mapped[int] = mapped_column(primary_key=True)
        shop_id: Mapped[str] = mapped_column(String(64))
        name: Mapped[str] = mapped_column(String(200))

    class Order(db.Model):  # type: ignore[name-defined]
        __tablename__ = "shop_order"
        id: Mapped[int] = mapped_column(primary_key=True)
        product_id: Mapped[int] = mapped_column(ForeignKey("shop_product.id"))
        email: Mapped[str] = mapped_column(String(254))
        product: Mapped[Product] = relationship()

    paged: list[tuple[str, str, str]] = []

    def page_the_shop(marketplace_id: str, subject: str, message: str) -> None:
        paged.append((marketplace_id, subject, message))

    app = Flask("host_shop", template_folder=str(HOST_TEMPLATES))
    app.config.update(config)
    db.init_app(app)
    login_manager.init_app(app)

    @login_manager.user_loader
    def load_user(user_id):
        return db.session.get(User, int(user_id))

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            user = db.session.scalar(select(User).filter_by(email=request.form["email"]))
            if user is not None:
                login_user(user)
                target = request.args.get("next") or "/"
                return redirect(target if target.startswith("/") else "/")
        return render_template("login.html")

    def take_payment(order) -> bool:
        return not order.email.startswith("declined")

    guide: dict[str, Any] = {
        "app": app,
        "db": db,
        "Shop": Shop,
        "Product": Product,
        "Order": Order,
        "User": User,
        "take_payment": take_payment,
        "page_the_shop": page_the_shop,
        "paged": paged,
    }
    blocks = guide_blocks()
    for name in (
        "mount",
        "flask-migrate",
        "checkout",
        "known-marketplace",
        "alarm-recipients",
        "alarm-webhook",
    ):
        exec(compile(blocks[name], f"{GUIDE}#{name}", "exec"), guide)

    with app.app_context():
        db.create_all()  # the host's own tables; a real host migrates them its own way
        db.session.add_all(
            [
                Shop(id="acme"),
                Shop(id="bolt"),
                User(email="olivia@acme.test", shop_id="acme", is_owner=True),
                User(email="sam@acme.test", shop_id="acme", is_owner=False),
                User(email="bea@bolt.test", shop_id="bolt", is_owner=True),
                Product(id=101, shop_id="acme", name="Espresso Subscription"),
                Product(id=201, shop_id="bolt", name="Tune-Up Video Course"),
            ]
        )
        db.session.commit()
    guide["_drop_host_tables"] = db.drop_all
    return Host(app, guide)


@pytest.fixture
def host(database_uri, redis_url, icontact):
    Redis.from_url(redis_url).flushdb()
    host = build_host(
        {
            "SECRET_KEY": "host-secret",
            "SQLALCHEMY_DATABASE_URI": database_uri,
            "ADDON_REDIS_URL": redis_url,
            "ADDON_ICONTACT_API_URL": icontact.base_url,
            "ADDON_ICONTACT_APP_ID": APP_ID,
            "ADDON_ENCRYPTION_KEY": "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA=",
            "ADDON_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "ADDON_ALARM_WEBHOOK_URL": "http://127.0.0.1:9/hooks/addon-alarms",
            "ADDON_ALARM_WEBHOOK_SECRET": ALARM_SECRET,
            "MAIL_SUPPRESS_SEND": True,
            "MAIL_DEFAULT_SENDER": "alarms@shop.example",
        }
    )
    with host.app.app_context():
        # The guide's "flask --app yourapp addon db upgrade".
        result = host.app.test_cli_runner().invoke(args=["addon", "db", "upgrade"])
        assert result.exit_code == 0, result.output
    yield host
    with host.app.app_context():
        host.guide["_drop_host_tables"]()
        host.engine.db.engine.dispose()


def stored_event_ids(host: Host) -> list[str]:
    with host.app.app_context():
        return list(host.engine.db.session.scalars(select(Event.event_id).order_by(Event.id)))


def post_event(client, payload: dict):
    body = json.dumps(payload).encode()
    return client.post(
        f"{PREFIX}/api/events",
        data=body,
        headers={
            "X-Addon-Signature": sign(body, WEBHOOK_SECRET),
            "Content-Type": "application/json",
        },
    )


# -- the screens: sign-in and the permission check ------------------------------------------


def test_signed_out_visitors_are_sent_to_sign_in(host):
    client = host.app.test_client()

    page = client.get(f"{PREFIX}/")
    assert page.status_code in (302, 401)
    if page.status_code == 302:
        assert page.location.startswith("/login?next=")
    api = client.get(f"{PREFIX}/", headers={"Accept": "application/json"})
    assert api.status_code == 401


def test_owners_open_the_screens_and_the_permission_check_refuses_staff(host):
    owner, staff = host.app.test_client(), host.app.test_client()
    host.sign_in(owner, "olivia@acme.test")
    host.sign_in(staff, "sam@acme.test")

    assert owner.get(f"{PREFIX}/").status_code == 200
    assert staff.get(f"{PREFIX}/").status_code == 403


def test_a_shop_opens_its_own_products_and_not_another_shops(host):
    acme, bolt = host.app.test_client(), host.app.test_client()
    host.sign_in(acme, "olivia@acme.test")
    host.sign_in(bolt, "bea@bolt.test")

    own = acme.get(f"{PREFIX}/products/101")
    assert own.status_code == 200 and "Espresso Subscription" in own.text
    assert bolt.get(f"{PREFIX}/products/201").status_code == 200
    for url in ("/products/101", "/products/101/rules/new"):
        answer = bolt.get(f"{PREFIX}{url}")
        assert answer.status_code == 404 and "Espresso Subscription" not in answer.text
    for odd in ("abc", "0101", "9" * 30):  # not ids of this host: unknown, never an error
        assert acme.get(f"{PREFIX}/products/{odd}").status_code == 404


def test_the_health_check_needs_no_sign_in(host):
    if "addon.healthz" not in host.app.view_functions:
        pytest.xfail("addon/blueprint.py does not call health.register(bp) yet")
    response = host.app.test_client().get(f"{PREFIX}/healthz")
    assert response.status_code == 200 and response.json["status"] == "ok"


# -- events: checkout inside the host's transaction, and the webhook ------------------------


def test_the_checkout_event_exists_exactly_when_its_order_committed(host):
    client = host.app.test_client()

    paid = client.post("/checkout/101", data={"email": "ann@example.com"})
    declined = client.post("/checkout/101", data={"email": "declined@example.com"})

    assert paid.status_code == 200 and declined.status_code == 402
    Order = host.guide["Order"]
    with host.app.app_context():
        orders = host.engine.db.session.scalars(select(Order)).all()
    assert [order.email for order in orders] == ["ann@example.com"]
    assert stored_event_ids(host) == [f"order-{orders[0].id}"]


def test_a_signed_webhook_event_is_stored_once(host):
    client = host.app.test_client()
    event = {
        "id": "pos-77",
        "type": "product.purchased",
        "marketplace_id": "acme",
        "customer": {"email": "bob@example.com"},
        "product_id": "101",
        "purchase_type": "primary",
    }

    assert post_event(client, event).status_code == 202
    assert post_event(client, event).status_code == 200
    assert stored_event_ids(host) == ["pos-77"]


def test_a_webhook_event_of_a_marketplace_the_shop_does_not_have_is_refused(host):
    event = {
        "id": "pos-79",
        "type": "product.purchased",
        "marketplace_id": "nowhere",
        "customer": {"email": "bob@example.com"},
        "product_id": "101",
        "purchase_type": "primary",
    }

    answer = post_event(host.app.test_client(), event)

    assert answer.status_code == 422
    assert answer.json == {
        "error": "marketplace_id 'nowhere' is not a marketplace of this storefront.",
        "field": "marketplace_id",
        "marketplace_id": "nowhere",
    }
    assert stored_event_ids(host) == []


@pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("bash", "curl", "openssl")),
    reason="needs bash, curl and openssl",
)
def test_the_guides_curl_and_openssl_example_is_accepted(host):
    _, server = serve_in_thread(host.app)
    try:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", guide_blocks()["sign-webhook"]],
            env={
                **os.environ,
                "SHOP_URL": f"http://127.0.0.1:{server.server_port}",
                "ADDON_WEBHOOK_SECRET": WEBHOOK_SECRET,
            },
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"id": "order-1001"}
    assert stored_event_ids(host) == ["order-1001"]


# -- alarms -------------------------------------------------------------------------------


def test_alarms_are_emailed_to_the_shops_owners_and_posted_to_the_guides_route(host):
    """The guide's hook names the shop's owners; its route checks the signature and pages."""
    app = host.app
    client = app.test_client()

    def post(url, data, headers, timeout, allow_redirects):  # the add-on's post, to the route
        return client.post(url.removeprefix("http://127.0.0.1:9"), data=data, headers=headers)

    with app.app_context(), patch("addon.alarms.webhook.requests.post", post):
        assert host.engine.alarm_addresses("acme") == ["olivia@acme.test"]  # not staff
        state = host.engine.state()
        with app.extensions["mail"].record_messages() as outbox:
            channels = send_test_alarm(state.context, host.engine, "acme").channels
    assert [m.recipients for m in outbox] == [["olivia@acme.test"]]
    assert channels == {"email": "sent to olivia@acme.test", "webhook": "delivered (204)"}
    assert host.guide["paged"] == [("acme", "Test alarm", TEST_MESSAGE)]
    # A forged alarm is refused by the guide's route.
    forged = client.post(
        "/hooks/addon-alarms",
        data=b'{"marketplace_id": "acme", "alarms": []}',
        headers={"X-Addon-Signature": sign(b"{}", ALARM_SECRET)},
    )
    assert forged.status_code == 400


# -- to iContact and into the log -----------------------------------------------------------


def test_committed_events_reach_icontact_and_the_log(host, icontact):
    engine = host.engine
    with host.app.app_context():
        integration = engine.connect(
            "acme", label="Main iContact", username=USERNAME, password=PASSWORD
        )
        customers_rule(engine, integration)
        assert engine.product_name("acme", "101") == "Espresso Subscription"
        assert engine.product_name("bolt", "101") is None
    client = host.app.test_client()
    client.post("/checkout/101", data={"email": "ann@example.com"})
    client.post("/checkout/101", data={"email": "declined@example.com"})
    post_event(
        client,
        {
            "id": "pos-78",
            "type": "product.purchased",
            "marketplace_id": "acme",
            "customer": {"email": "bob@example.com"},
            "product_id": "101",
            "purchase_type": "upsell",
        },
    )

    with host.app.app_context():
        worker = host.app.test_cli_runner().invoke(args=["addon", "worker", "--burst"])
        assert worker.exit_code == 0, worker.output
        entries = engine.logs("acme")
    assert sorted((entry.email, entry.status) for entry in entries) == [
        ("ann@example.com", "success"),
        ("bob@example.com", "success"),
    ]
    customers = list_id(icontact, "Customers")
    assert set(icontact.subscribers(customers)) == {"ann@example.com", "bob@example.com"}
