"""Rules: which trigger, for which product (or all), applies which action to which list."""

from __future__ import annotations

from sqlalchemy import Row, select
from sqlalchemy.orm import joinedload

from ..errors import IntegrationError
from ..providers import get_provider
from ..store.models import (
    Delivery,
    Event,
    Integration,
    Rule,
    marketplace_row,
)
from .claimed import Claimed
from .context import Context
from .integrations import get_integration, refresh_lists
from .logs import skip_pending
from .triggers import ACTIONS, TRIGGER_NAMES, triggers_for


def _resolve_list(
    ctx: Context, marketplace_id: str, integration: Integration, list_id, list_name
) -> tuple[str, str]:
    """Find the list by id or by name (case-insensitive), refreshing the cache once if unknown."""
    if not list_id and not (isinstance(list_name, str) and list_name.strip()):
        raise IntegrationError("Choose a list, or type the name of one.")
    wanted_name = list_name.strip().lower() if isinstance(list_name, str) else None
    for attempt in range(2):
        for cached in integration.lists:
            if list_id and cached.remote_id == str(list_id):
                return cached.remote_id, cached.name
            if not list_id and cached.name.lower() == wanted_name:
                return cached.remote_id, cached.name
        if attempt == 0:
            integration = refresh_lists(ctx, marketplace_id, integration.id)
    shown = list_name if not list_id else list_id
    raise IntegrationError(
        f"The list {shown!r} does not exist in {integration.label!r}. "
        "Refresh the lists, pick one from the dropdown, or create it."
    )


def _check(trigger, action) -> None:
    if trigger not in TRIGGER_NAMES:
        raise IntegrationError(f"Unknown trigger {trigger!r}.")
    if action not in ACTIONS:
        raise IntegrationError("The action must be 'add' or 'remove'.")


def _double_opt_in(integration: Integration, action, wanted) -> bool:
    """A rule's double opt-in choice, allowed only for an add on a provider that offers it."""
    if not wanted or action != "add":
        return False
    provider = get_provider(integration.provider)
    if not provider.double_opt_in:
        raise IntegrationError(
            f"{provider.display_name} cannot ask customers to confirm joining a list."
        )
    return True


def _product(product_id) -> str | None:
    if product_id is None or product_id == "":
        return None
    return str(product_id)


def add_rule(
    ctx: Context,
    marketplace_id: str,
    *,
    trigger,
    integration_id,
    action,
    list_id=None,
    list_name=None,
    product_id=None,
    double_opt_in=False,
) -> Rule:
    """Save a rule (global when ``product_id`` is None).

    Args:
        double_opt_in: an add asks the person to confirm first (where the provider can).

    Raises:
        IntegrationError: unknown trigger, action, integration or list.
    """
    _check(trigger, action)
    integration = get_integration(ctx, marketplace_id, integration_id)
    remote_id, name = _resolve_list(ctx, marketplace_id, integration, list_id, list_name)
    rule = Rule(
        marketplace_id=marketplace_id,
        product_id=_product(product_id),
        trigger=trigger,
        integration_id=integration.id,
        action=action,
        list_id=remote_id,
        list_name=name,
        double_opt_in=_double_opt_in(integration, action, double_opt_in),
    )
    ctx.session.add(rule)
    ctx.session.commit()
    return rule


def get_rule(ctx: Context, marketplace_id: str, rule_id) -> Rule:
    """The marketplace's rule, or IntegrationError (another marketplace's id included)."""
    rule = marketplace_row(ctx.session(), Rule, marketplace_id, rule_id)
    if rule is None:
        raise IntegrationError("Unknown rule")
    return rule


def update_rule(
    ctx: Context,
    marketplace_id: str,
    rule_id,
    *,
    trigger,
    integration_id,
    action,
    list_id=None,
    list_name=None,
    double_opt_in=False,
) -> Rule:
    """Change a rule's trigger, integration, action, list and double opt-in; its scope stays."""
    rule = get_rule(ctx, marketplace_id, rule_id)
    _check(trigger, action)
    integration = get_integration(ctx, marketplace_id, integration_id)
    rule.list_id, rule.list_name = _resolve_list(
        ctx, marketplace_id, integration, list_id, list_name
    )
    rule.trigger, rule.action, rule.integration_id = trigger, action, integration.id
    rule.double_opt_in = _double_opt_in(integration, action, double_opt_in)
    ctx.session.commit()
    return rule


def delete_rule(ctx: Context, marketplace_id: str, rule_id) -> None:
    """Delete a rule; its work not yet done is skipped, its log entries are kept."""
    rule = get_rule(ctx, marketplace_id, rule_id)
    db = ctx.session
    skip_pending(ctx, Delivery.rule_id == rule.id, "the rule was deleted before this ran")
    db.delete(rule)
    db.commit()


def list_rules(
    ctx: Context, marketplace_id: str, product_id=None, *, scope: str | None = None
) -> list[Rule]:
    """A marketplace's rules: ``scope='global'``, or one product's when ``product_id`` is given."""
    query = select(Rule).where(Rule.marketplace_id == marketplace_id)
    if scope == "global":
        query = query.where(Rule.product_id.is_(None))
    elif product_id is not None:
        query = query.where(Rule.product_id == str(product_id))
    return list(ctx.session.scalars(query.order_by(Rule.created_at, Rule.id)))


def rules_using(ctx: Context, marketplace_id: str, integration_id: int) -> list[Rule]:
    query = select(Rule).where(
        Rule.marketplace_id == marketplace_id, Rule.integration_id == integration_id
    )
    return list(ctx.session.scalars(query.order_by(Rule.id)))


def marketplace_rules(ctx: Context, marketplace_id: str) -> list[Rule]:
    """Every rule of the marketplace with its integration, loaded once to match many events."""
    query = (
        select(Rule)
        .where(Rule.marketplace_id == marketplace_id)
        .options(joinedload(Rule.integration))
        .order_by(Rule.id)
    )
    return list(ctx.session.scalars(query))


def double_opt_in_rules(ctx: Context, deliveries: list[Claimed]) -> set[int]:
    """The ids of the deliveries' rules that ask the person to confirm an add."""
    ids = {d.rule_id for d in deliveries if d.rule_id is not None and d.action == "add"}
    if not ids:
        return set()
    query = select(Rule.id).where(Rule.id.in_(sorted(ids)), Rule.double_opt_in.is_(True))
    return set(ctx.session.scalars(query))


def match_rules(event: Event | Row, rules: list[Rule]) -> list[tuple[Rule, str]]:
    """Which of the marketplace's ``rules`` the event fires, each with the trigger it fired as.

    A rule fires when its trigger is one the event's type fires and it is global or its
    product is the event's product.
    """
    triggers = triggers_for(event.type)
    return [
        (rule, rule.trigger)
        for rule in rules
        if rule.trigger in triggers and rule.product_id in (None, event.product_id)
    ]
