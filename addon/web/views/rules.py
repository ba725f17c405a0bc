"""Rules: the Global Rules tab, a product's Integrations tab and deleting a rule; the places
where rules are listed, which the wizard (:mod:`.rule_wizard`) opens over."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, request, url_for
from werkzeug.routing import BuildError

from ...engine import rules
from ...state import context, engine, settings
from ...store.models import Rule
from .guard import marketplace, owned
from .htmx import (
    close_dialog,
    render_dialog,
    render_screen,
)

log = logging.getLogger(__name__)


@dataclass
class Place:
    """Where rules are listed: the Global Rules tab, or one product's Integrations tab."""

    product_id: str | None = None
    product_name: str | None = None

    @property
    def template(self) -> str:
        return "addon/product_tab.html" if self.product_id else "addon/global_rules.html"

    @property
    def url(self) -> str:
        if self.product_id:
            return url_for(".product_tab", product_id=self.product_id)
        return url_for(".global_rules")

    @property
    def host_url(self) -> str | None:
        """The host's own page of the product (``ADDON_PRODUCT_ENDPOINT``), if it named one."""
        endpoint = settings().product_endpoint
        if not (endpoint and self.product_id):
            return None
        try:
            return url_for(endpoint, product_id=self.product_id)
        except BuildError:
            log.warning("ADDON_PRODUCT_ENDPOINT %r takes no product_id: no link back", endpoint)
            return None

    def context(self) -> dict[str, Any]:
        ctx, mid = context(), marketplace()
        if self.product_id is None:
            return {
                "tab": "global_rules",
                "place": self,
                "rules": rules.list_rules(ctx, mid, scope="global"),
            }
        return {
            "place": self,
            "rules": rules.list_rules(ctx, mid, self.product_id),
            "global_count": len(rules.list_rules(ctx, mid, scope="global")),
        }


def product_place(product_id: str) -> Place:
    """The product's place, or 404 for a product the host does not know for this merchant."""
    name = engine().product_name(marketplace(), product_id)
    if name is None:
        abort(404)
    return Place(product_id, name)


def place_of(rule: Rule) -> Place:
    return product_place(rule.product_id) if rule.product_id else Place()


def global_rules():
    """The Global Rules tab: rules that apply to every product."""
    place = Place()
    return render_screen(place.template, **place.context())


def product_tab(product_id: str):
    """A product's rules: the fragment a host embeds in its product page (full page on reload)."""
    place = product_place(product_id)
    return render_screen(place.template, **place.context())


def delete_rule(rule_id: int):
    """Ask, then delete the rule; its log entries stay."""
    rule = owned(rules.get_rule, rule_id)
    place = place_of(rule)
    if request.method == "POST":
        rules.delete_rule(context(), marketplace(), rule.id)
        return close_dialog(place.template, place.url, place.context, "Deleted the rule.")

    def screen() -> dict[str, Any]:
        # The dialog names its place itself (htmx renders it without the screen), so the
        # screen's context must not name it a second time.
        return {name: value for name, value in place.context().items() if name != "place"}

    return render_dialog(
        "addon/rule_delete.html",
        screen,
        parent_template=place.template,
        rule=rule,
        place=place,
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/rules", "global_rules", global_rules)
    bp.add_url_rule("/products/<addon_product:product_id>", "product_tab", product_tab)
    bp.add_url_rule(
        "/rules/<addon_id:rule_id>/delete", "delete_rule", delete_rule, methods=["GET", "POST"]
    )
