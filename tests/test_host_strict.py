"""A second storefront, strict where real shops are strict: the add-on is a good guest in it.

The host has Flask-WTF's ``CSRFProtect`` (set up before or after the add-on), a layout with its
own inline ``<style>``, orders written with SQLAlchemy Core, a blueprint of its own named
``addon`` (so it mounts the add-on as ``ADDON_BLUEPRINT_NAME = "integrations"``), two merchants
whose product ids overlap, and a ``known_marketplace`` check. The tests walk it as each
merchant, as the storefront's checkout and as a storefront server posting signed events.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from sqlalchemy import Column, Integer, String, Table, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from addon import IntegrationEngine
from addon.store.models import Event, Rule
from addon.web.webhooks import sign
from addon.workers import SimpleWorker
from tests.conftest import APP_ID, PASSWORD, USERNAME, list_id

TEMPLATES = Path(__file__).resolve().parent / "host_templates" / "strict"
BP = "integrations"  # the add-on's blueprint name here: the host's own is called "addon"
PREFIX = "/admin/integrations"
SECRET = "strict-webhook-secret"
TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# Two shops whose product ids overlap: each "1" is a different product.
SHOPS = {
    "north": {"owner": "nora@north.test", "products": {"1": "North Blend", "7": "North Filters"}},
    "south": {"owner": "sven@south.test", "products": {"1": "South Kettle", "2": "South Mugs"}},
}


@dataclass
class StrictHost:
    app: Flask
    engine: IntegrationEngine
    db: SQLAlchemy
    orders: Table

    def sign_in(self, shop: str):
        """A merchant's browser, signed in through the host's CSRF-protected form."""
        client = self.app.test_client()
        page = client.get("/login")
        client.post(
            "/login",
            data={"email": SHOPS[shop]["owner"], "csrf_token": FORM_TOKEN.search(page.text)[1]},
        )
        return client

    def url(self, endpoint: str, **values: Any) -> str:
        with self.app.test_request_context():
            return url_for(f"{BP}.{endpoint}", **values)

    def order_count(self) -> int:
        with self.app.app_context():
            return self.db.session.scalar(select(func.count()).select_from(self.orders))

    def event_ids(self) -> list[str]:
        with self.app.app_context():
            return list(self.db.session.scalars(select(Event.event_id).order_by(Event.id)))

    def work(self) -> None:
        """Run the queued jobs, as a worker would."""
        queue = self.engine.state(self.app).queue
        worker = SimpleWorker([queue], connection=queue.connection, job_class=queue.job_class)
        worker.work(burst=True, with_scheduler=True)


def build_strict_host(config: dict[str, Any], csrf_first: bool = True) -> StrictHost:
    db = SQLAlchemy()
    login_manager = LoginManager()
    csrf = CSRFProtect()

    class Merchant(UserMixin, db.Model):  # type: ignore[name-defined]
        __tablename__ = "strict_merchant"
        id: Mapped[int] = mapped_column(primary_key=True)
        email: Mapped[str] = mapped_column(String(254), unique=True)
        shop_id: Mapped[str] = mapped_column(String(64))

    class Product(db.Model):  # type: ignore[name-defined]
        __tablename__ = "strict_product"
        shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
        sku: Mapped[str] = mapped_column(String(64), primary_key=True)
        name: Mapped[str] = mapped_column(String(200))

    # Orders are written with Core statements only: no ORM class, no flush.
    orders = Table(
        "strict_order",
        db.metadata,
        Column("id", Integer, primary_key=True),
        Column("shop_id", String(64), nullable=False),
        Column("sku", String(64), nullable=False),
        Column("email", String(254), nullable=False),
    )

    app = Flask("strict_shop", template_folder=str(TEMPLATES))
    app.config.update(config)
    db.init_app(app)
    login_manager.init_app(app)

    own = Blueprint("addon", __name__, url_prefix="/addons")  # the host's own "addon"
    own.add_url_rule("/", "catalogue", lambda: render_template("catalogue.html"))
    app.register_blueprint(own)

    if csrf_first:
        csrf.init_app(app)
    engine = IntegrationEngine()
    engine.init_app(app, db=db)
    if not csrf_first:
        csrf.init_app(app)

    @login_manager.user_loader
    def load_merchant(user_id):
        return db.session.get(Merchant, int(user_id))

    @engine.marketplace_loader
    def current_marketplace():
        return current_user.shop_id if current_user.is_authenticated else None

    @engine.product_loader
    def product_name(marketplace_id, product_id):
        product = db.session.get(Product, (marketplace_id, product_id))
        return product.name if product else None

    @engine.known_marketplace
    def is_our_shop(marketplace_id):
        return marketplace_id in SHOPS

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if request.method == "POST":
            merchant = db.session.scalar(select(Merchant).filter_by(email=request.form["email"]))
            if merchant is not None:
                login_user(merchant)
                return redirect(url_for(f"{BP}.settings"))
        return render_template("login.html")

    @csrf.exempt  # the storefront's public checkout posts from its own pages
    @app.post("/shops/<shop_id>/checkout/<sku>")
    def checkout(shop_id, sku):
        email = request.form["email"]
        result = db.session.execute(insert(orders).values(shop_id=shop_id, sku=sku, email=email))
        order_id = result.inserted_primary_key[0]
        engine.emit(
            "product.purchased",
            marketplace_id=shop_id,
            event_id=f"order-{order_id}",
            customer={"email": email},
            product_id=sku,
            purchase_type="primary",
        )
        if email.startswith("declined"):
            db.session.rollback()
            return "Payment declined", 402
        db.session.commit()
        return f"Thank you for order #{order_id}."

    with app.app_context():
        db.create_all()
        for shop_id, shop in SHOPS.items():
            db.session.add(Merchant(email=shop["owner"], shop_id=shop_id))
            for sku, name in shop["products"].items():
                db.session.add(Product(shop_id=shop_id, sku=sku, name=name))
        db.session.commit()
        engine.prepare_database()
    return StrictHost(app, engine, db, orders)


@pytest.fixture(params=[True, False], ids=["csrf-before-addon", "csrf-after-addon"])
def csrf_first(request):
    return request.param


@pytest.fixture
def strict_config(database_uri, redis_url, icontact):
    Redis.from_url(redis_url).flushdb()
    return {
        "SECRET_KEY": "strict-secret",
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "ADDON_BLUEPRINT_NAME": BP,
        "ADDON_URL_PREFIX": PREFIX,
        "ADDON_BASE_TEMPLATE": "layout.html",
        "ADDON_REDIS_URL": redis_url,
        "ADDON_ICONTACT_API_URL": icontact.base_url,
        "ADDON_ICONTACT_APP_ID": APP_ID,
        "ADDON_ICONTACT_CALLS_PER_MINUTE": 1_000_000,
        "ADDON_ENCRYPTION_KEY": "qkVb3v1dQG0Zq2kqkmS1XqGm0hQmM7V0Q2Yb6J3e2rA=",
        "ADDON_WEBHOOK_SECRET": SECRET,
    }


@pytest.fixture
def make_host(strict_config):
    built: list[StrictHost] = []

    def make(csrf_first: bool = True, **config: Any) -> StrictHost:
        host = build_strict_host({**strict_config, **config}, csrf_first)
        built.append(host)
        return host

    yield make
    for host in built:
        with host.app.app_context():
            for table in ("strict_order", "strict_product", "strict_merchant"):
                host.db.metadata.tables[table].drop(host.db.engine, checkfirst=True)
            host.db.engine.dispose()


@pytest.fixture
def host(make_host, csrf_first) -> StrictHost:
    return make_host(csrf_first)


@pytest.fixture
def connected(host, icontact) -> dict[str, int]:
    """Each shop's connected integration id (both use the simulator's one account)."""
    with host.app.app_context():
        return {
            shop: host.engine.connect(
                shop, label=f"{shop} iContact", username=USERNAME, password=PASSWORD
            ).id
            for shop in SHOPS
        }


def post_event(client, payload: dict[str, Any]):
    body = json.dumps(payload).encode()
    return client.post(
        f"{PREFIX}/api/events",
        data=body,
        headers={"X-Addon-Signature": sign(body, SECRET), "Content-Type": "application/json"},
    )


def purchase_event(event_id: str, shop: str, sku: str = "1", email: str = "ann@example.com"):
    return {
        "id": event_id,
        "type": "product.purchased",
        "marketplace_id": shop,
        "customer": {"email": email},
        "product_id": sku,
        "purchase_type": "primary",
    }


def htmx_post(client, url: str, data: dict[str, Any], token: str | None):
    headers = {"HX-Request": "true"}
    if token is not None:
        headers["X-CSRFToken"] = token
    return client.post(url, data=data, headers=headers)


def inline_style_forbidden(response) -> bool:
    """Whether the response's Content-Security-Policy blocks the page's inline ``<style>``."""
    policy = response.headers.get("Content-Security-Policy")
    if not policy:
        return False
    directives = {
        part.split()[0].lower(): part.split()[1:] for part in policy.split(";") if part.strip()
    }
    sources = next(
        (directives[name] for name in ("style-src-elem", "style-src", "default-src")
         if name in directives),
        None,
    )  # fmt: skip
    if sources is None:
        return False
    nonce = re.search(r'<style nonce="([^"]+)"', response.text)
    if nonce and f"'nonce-{nonce[1]}'" in sources:
        return False
    hashed_or_nonced = any(s.startswith(("'nonce-", "'sha")) for s in sources)
    return "'unsafe-inline'" not in sources or hashed_or_nonced


# -- names: the host's own blueprint "addon" and the add-on's, side by side ------------------


def test_the_hosts_own_addon_blueprint_and_every_addon_screen_work(host, connected, icontact):
    north = host.sign_in("north")
    with host.app.app_context():
        rule_id = host.engine.add_rule(
            "north", trigger="product.purchased", integration_id=connected["north"],
            action="add", list_name="Customers", product_id="1",
        ).id  # fmt: skip
    assert post_event(north, purchase_event("pos-1", "north")).status_code == 202
    host.work()
    with host.app.app_context():
        [entry_id] = [entry.id for entry in host.engine.logs("north")]
    ids = {
        "integration_id": connected["north"],
        "rule_id": rule_id,
        "entry_id": entry_id,
        "product_id": "1",
        "provider": "icontact",
        "step": "trigger",
    }

    catalogue = north.get("/addons/")
    assert catalogue.status_code == 200 and "add-on catalogue" in catalogue.text
    screens = []
    for url_rule in host.app.url_map.iter_rules():
        if url_rule.endpoint.startswith(f"{BP}.") and "GET" in url_rule.methods:
            if url_rule.endpoint != f"{BP}.static":
                screens.append(url_rule.build({k: ids[k] for k in url_rule.arguments})[1])
    assert len(screens) >= 10
    for url in screens:
        page = north.get(url, follow_redirects=True)  # .../new/trigger is .../new
        assert page.status_code == 200, url
    page = north.get(host.url("settings"))
    assert "Strict Shop" in page.text and 'href="/addons/"' in page.text  # the host's layout


# -- tenants: overlapping product ids -----------------------------------------------------------


def test_each_merchant_sees_its_own_product_behind_the_same_id(host):
    north, south = host.sign_in("north"), host.sign_in("south")

    assert "North Blend" in north.get(host.url("product_tab", product_id="1")).text
    tab = south.get(host.url("product_tab", product_id="1"))
    assert tab.status_code == 200
    assert "South Kettle" in tab.text and "North Blend" not in tab.text
    # North's product 7 is not south's: no name, no tab, no wizard for it.
    assert south.get(host.url("product_tab", product_id="7")).status_code == 404
    assert south.get(host.url("new_rule", product_id="7")).status_code == 404
    assert north.get(host.url("product_tab", product_id="7")).status_code == 200


# -- CSRFProtect: the merchant screens stay protected, the webhook gets through ----------------


def test_a_signed_webhook_passes_the_hosts_csrfprotect(host):
    answer = post_event(host.app.test_client(), purchase_event("pos-9", "north"))

    assert answer.status_code == 202, answer.text
    assert host.event_ids() == ["pos-9"]


def test_the_rule_wizard_posts_with_the_csrf_token_and_is_refused_without(
    host, connected, icontact
):
    north = host.sign_in("north")
    token = TOKEN.search(north.get(host.url("settings")).text)[1]
    data = {
        "trigger": "product.purchased",
        "integration_id": connected["north"],
        "action": "add",
        "list_id": list_id(icontact, "Customers"),
    }
    url = host.url("new_rule", product_id="1", step="list")

    refused = htmx_post(north, url, data, token=None)
    assert refused.status_code == 400
    assert htmx_post(north, url, data, token="forged").status_code == 400
    with host.app.app_context():
        assert host.db.session.scalar(select(func.count()).select_from(Rule)) == 0

    saved = htmx_post(north, url, data, token=token)
    assert saved.status_code == 200, saved.text
    assert "North Blend" in saved.text and "Added the rule." in saved.text
    with host.app.app_context():
        [rule] = host.db.session.scalars(select(Rule)).all()
    assert (rule.marketplace_id, rule.product_id) == ("north", "1")
    # A plain form post (JavaScript off) sends the token as a field instead.
    delete = north.post(host.url("delete_rule", rule_id=rule.id), data={"csrf_token": token})
    assert delete.status_code in (200, 302, 303)
    with host.app.app_context():
        assert host.db.session.scalar(select(func.count()).select_from(Rule)) == 0


def test_the_addon_checks_its_screens_itself_when_csrfprotect_checks_nothing_by_default(
    make_host, icontact
):
    # WTF_CSRF_CHECK_DEFAULT = False: the host protects only the views it names.
    host = make_host(WTF_CSRF_CHECK_DEFAULT=False)
    with host.app.app_context():
        integration_id = host.engine.connect(
            "north", label="Main", username=USERNAME, password=PASSWORD
        ).id
    north = host.sign_in("north")
    token = TOKEN.search(north.get(host.url("settings")).text)[1]
    url = host.url("refresh_integration", integration_id=integration_id)

    assert htmx_post(north, url, {}, token=None).status_code == 400
    assert htmx_post(north, url, {}, token=token).status_code == 200


# -- unknown marketplaces ---------------------------------------------------------------------


def test_an_event_of_a_marketplace_the_host_does_not_know_is_refused_and_not_stored(host):
    client = host.app.test_client()

    answer = post_event(client, purchase_event("pos-2", "nowhere"))

    assert answer.status_code == 422
    assert answer.json["field"] == "marketplace_id" and answer.json["marketplace_id"] == "nowhere"
    assert "nowhere" in answer.json["error"]
    assert host.event_ids() == []
    invalid = post_event(client, {**purchase_event("pos-3", "nowhere"), "customer": {}})
    assert invalid.status_code == 400 and invalid.json["field"] == "customer.email"
    assert post_event(client, purchase_event("pos-4", "south")).status_code == 202
    assert host.event_ids() == ["pos-4"]


# -- CSP: the host's inline style survives ------------------------------------------------------


def test_pages_in_the_hosts_layout_keep_its_inline_style(host):
    north = host.sign_in("north")
    for endpoint, values in (
        ("settings", {}),
        ("global_rules", {}),
        ("logs", {}),
        ("product_tab", {"product_id": "1"}),
    ):
        page = north.get(host.url(endpoint, **values))
        assert page.status_code == 200
        assert "<style>#strict-nav" in page.text
        assert not inline_style_forbidden(page), page.headers.get("Content-Security-Policy")
        assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_a_host_that_opts_in_gets_the_strict_policy_with_its_nonce(make_host):
    host = make_host(ADDON_CSP_IN_HOST_LAYOUT=True, STRICT_STYLE_NONCE=True)
    north = host.sign_in("north")

    first = north.get(host.url("settings"))
    second = north.get(host.url("settings"))

    policy = first.headers["Content-Security-Policy"]
    nonce = re.search(r'<style nonce="([^"]+)"', first.text)[1]
    assert f"style-src 'self' 'nonce-{nonce}'" in policy
    assert f"script-src 'self' 'nonce-{nonce}'" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'self'" in policy
    assert not inline_style_forbidden(first)
    assert nonce not in second.headers["Content-Security-Policy"]  # one nonce per request


def test_the_addons_standalone_pages_keep_the_strict_policy(make_host):
    host = make_host(ADDON_BASE_TEMPLATE="addon/_standalone.html")
    page = host.sign_in("north").get(host.url("settings"))

    policy = page.headers["Content-Security-Policy"]
    assert "style-src 'self';" in policy and "nonce" not in policy
    assert "Strict Shop" not in page.text


# -- checkout with Core statements ------------------------------------------------------------


def test_a_core_checkout_that_commits_stores_its_order_and_event(host):
    client = host.app.test_client()

    answer = client.post("/shops/north/checkout/1", data={"email": "ann@example.com"})

    assert answer.status_code == 200
    assert host.order_count() == 1
    assert host.event_ids() == ["order-1"]


def test_a_core_checkout_that_rolls_back_keeps_neither_order_nor_event(host):
    client = host.app.test_client()

    answer = client.post("/shops/north/checkout/1", data={"email": "declined@example.com"})

    assert answer.status_code == 402
    assert host.order_count() == 0
    assert host.event_ids() == []


# -- the whole walk -----------------------------------------------------------------------------


def test_two_merchants_walk_the_screens_and_see_only_their_own(host, connected, icontact):
    north, south = host.sign_in("north"), host.sign_in("south")
    for client in (north, south):
        for endpoint in ("settings", "global_rules", "logs"):
            assert client.get(host.url(endpoint)).status_code == 200
    token = TOKEN.search(north.get(host.url("settings")).text)[1]
    rule = {
        "trigger": "product.purchased",
        "integration_id": connected["north"],
        "action": "add",
        "list_id": list_id(icontact, "Customers"),
    }
    url = host.url("new_rule", product_id="1", step="list")
    assert htmx_post(north, url, rule, token).status_code == 200

    client = host.app.test_client()
    assert post_event(client, purchase_event("pos-5", "north", email="bob@example.com")).json
    assert post_event(client, purchase_event("pos-6", "south", email="sue@example.com")).json
    assert client.post("/shops/north/checkout/1", data={"email": "ann@example.com"}).status_code
    host.work()

    logs = north.get(host.url("logs")).text
    assert "ann@example.com" in logs and "bob@example.com" in logs and "North Blend" in logs
    assert "sue@example.com" not in logs
    south_logs = south.get(host.url("logs")).text
    assert "ann@example.com" not in south_logs and "North Blend" not in south_logs
    south_tab = south.get(host.url("product_tab", product_id="1")).text
    assert "South Kettle" in south_tab and "Customers" not in south_tab  # north's rule
    customers = list_id(icontact, "Customers")
    assert set(icontact.subscribers(customers)) == {"ann@example.com", "bob@example.com"}
