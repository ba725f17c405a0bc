"""The New/Edit Rule wizard, the same for global and product rules and for editing: three GET
steps (trigger → integration and action → list) whose URLs carry the choices so far, then a
POST; and the list *Refresh* of its last step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice  # type: ignore[import-untyped]

from ...engine import integrations, rules
from ...errors import IntegrationError
from ...providers import get_provider
from ...state import context
from ...store.models import Integration, ProviderList, Rule
from ..forms import ConnectionStepForm, ListStepForm, TriggerStepForm
from .guard import marketplace, owned
from .htmx import close_dialog, fragment, render_dialog
from .rules import Place, place_of, product_place

log = logging.getLogger(__name__)

STEPS = ("trigger", "integration", "list")

WIZARD = "addon/rule_wizard.html"


class Wizard:
    """One run of the rule wizard: new (global or product) or editing ``rule``."""

    def __init__(self, place: Place, rule: Rule | None = None):
        self.place, self.rule = place, rule
        self.integrations = integrations.list_integrations(context(), marketplace())
        # What the steps start from: the rule being edited, else "add" as the usual action.
        self.prefill: dict[str, Any] = {"action": "add"}
        if rule is not None:
            self.prefill = {
                "trigger": rule.trigger,
                "integration_id": rule.integration_id,
                "action": rule.action,
                "list_id": rule.list_id,
                "double_opt_in": rule.double_opt_in,
            }

    def url(self, step: str, **params: Any) -> str:
        if self.rule is not None:
            return url_for(".edit_rule", rule_id=self.rule.id, step=step, **params)
        return url_for(".new_rule", step=step, product_id=self.place.product_id, **params)

    def carried(self, form) -> dict[str, Any]:
        """The choices made so far, for the Back links."""
        names = ("trigger", "integration_id", "action")
        return {n: form[n].data for n in names if n in form and form[n].data not in (None, "")}

    def render(self, step: str, status: int = 200, **context: Any) -> Response:
        return render_dialog(
            WIZARD,
            self.place.context,
            status,
            parent_template=self.place.template,
            wizard=self,
            step=step,
            step_number=STEPS.index(step) + 1,
            **context,
        )

    def trigger_step(self, status: int = 200, form: TriggerStepForm | None = None) -> Response:
        form = form or TriggerStepForm(request.args or None, data=self.prefill)
        return self.render("trigger", status, form=form)

    def integration_step(self, formdata, status: int = 200) -> Response:
        trigger = TriggerStepForm(formdata)
        if not trigger.validate():
            return self.trigger_step(422, trigger)
        form = ConnectionStepForm(formdata, data=self.prefill, integrations=self.integrations)
        if status == 422:
            form.validate()
        return self.render("integration", status, form=form)

    def list_step(self, formdata, form: ListStepForm | None = None, **context: Any) -> Response:
        """Step 3 (or the earliest step whose choice is missing or invalid)."""
        chosen = ConnectionStepForm(formdata, integrations=self.integrations)
        if not chosen.validate():
            return self.integration_step(formdata, 422)
        integration = owned(integrations.get_integration, chosen.integration_id.data)
        if form is None:
            form = ListStepForm(formdata=None, data={**self.prefill, **chosen.data})
            if self.rule is None or self.rule.integration_id != integration.id:
                form.list_id.data = None
        form.list_id.choices = list_choices(integration)
        status = 422 if form.errors or context.get("offer") else 200
        return self.render(
            "list",
            status,
            form=form,
            chosen=chosen,
            integration=integration,
            confirmable=confirmable(integration, chosen.action.data),
            **context,
        )

    def refresh_lists(self) -> Response:
        """The list *Refresh* of step 3 without JavaScript (a submit of the step's form): fetch
        the integration's lists again and answer the whole step, every choice kept."""
        chosen = ConnectionStepForm(request.form, integrations=self.integrations)
        if not chosen.validate():
            return self.integration_step(request.form, 422)
        integration = owned(integrations.get_integration, chosen.integration_id.data)
        form, error = refreshed_list_step(integration)
        return self.render(
            "list",
            form=form,
            chosen=chosen,
            integration=integration,
            error=error,
            refreshed=True,
            confirmable=confirmable(integration, chosen.action.data),
        )

    def save(self) -> Response:
        """Submit on step 3: resolve the list (offering to create a typed one), save the rule."""
        if request.form.get("refresh") == "lists":
            return self.refresh_lists()
        form = ListStepForm()
        chosen = ConnectionStepForm(request.form, integrations=self.integrations)
        if not chosen.validate():
            return self.integration_step(request.form, 422)
        if not form.validate():
            return self.list_step(request.form, form)
        mid = marketplace()
        integration = owned(integrations.get_integration, chosen.integration_id.data)
        list_id, offer = resolve_list(mid, integration, form)
        if list_id is None:
            return self.list_step(request.form, form, offer=offer)
        fields = {
            "trigger": chosen.trigger.data,
            "integration_id": integration.id,
            "action": chosen.action.data,
            "list_id": list_id,
            "double_opt_in": confirmable(integration, chosen.action.data)
            and bool(form.double_opt_in.data),
        }
        try:
            if self.rule is None:
                rules.add_rule(context(), mid, product_id=self.place.product_id, **fields)
            else:
                rules.update_rule(context(), mid, self.rule.id, **fields)
        except IntegrationError as exc:
            form.list_id.errors = [str(exc)]
            return self.list_step(request.form, form)
        verb = "Saved" if self.rule else "Added"
        return close_dialog(
            self.place.template, self.place.url, self.place.context, f"{verb} the rule."
        )

    def step(self, step: str) -> Response:
        if request.method == "POST":
            if step != STEPS[-1]:
                abort(405)
            return self.save()
        if step == "trigger":
            return self.trigger_step()
        if step == "integration":
            return self.integration_step(request.args)
        return self.list_step(request.args)


def confirmable(integration: Integration, action: str | None) -> bool:
    """Whether the rule may ask customers to confirm first: an add, on a provider that can."""
    return action == "add" and get_provider(integration.provider).double_opt_in


def list_choices(integration: Integration) -> list[SelectChoice]:
    return [SelectChoice("", "Choose a list…")] + [
        SelectChoice(item.remote_id, item.name) for item in integration.lists
    ]


def find_list(integration: Integration, name: str) -> ProviderList | None:
    wanted = name.strip().lower()
    return next((item for item in integration.lists if item.name.lower() == wanted), None)


def resolve_list(
    mid: str, integration: Integration, form: ListStepForm
) -> tuple[str | None, str | None]:
    """The list the merchant means, as ``(list_id, None)``; or ``(None, name)`` to offer
    creating a typed name that iContact does not have; or ``(None, None)`` with a field error.

    A typed name wins over the dropdown. An unknown name is looked up once more after a
    refresh (it may have been created in iContact since), and created only when confirmed.
    """
    typed = (form.list_name.data or "").strip()
    if not typed:
        return form.list_id.data, None
    found = find_list(integration, typed)
    try:
        if found is None:
            found = find_list(integrations.refresh_lists(context(), mid, integration.id), typed)
        if found is None and form.create_list.data == typed:
            found = integrations.create_list(context(), mid, integration.id, typed)
    except IntegrationError as exc:
        form.list_name.errors = [str(exc)]
        return None, None
    if found is None:
        return None, typed
    return found.remote_id, None


def new_rule(step: str = "trigger", product_id: str | None = None):
    """The New Rule wizard, over Global Rules or over a product's tab."""
    place = product_place(product_id) if product_id is not None else Place()
    return Wizard(place).step(step)


def edit_rule(rule_id: int, step: str = "trigger"):
    """The same wizard, filled in with the rule."""
    rule = owned(rules.get_rule, rule_id)
    return Wizard(place_of(rule), rule).step(step)


def refreshed_list_step(integration: Integration) -> tuple[ListStepForm, str | None]:
    """Fetch the integration's lists again: the list step's form over them, and what went
    wrong if the provider could not be asked (the lists known before are kept)."""
    error = None
    try:
        integrations.refresh_lists(context(), marketplace(), integration.id)
    except IntegrationError as exc:
        error = str(exc)
    form = ListStepForm()
    form.list_id.choices = list_choices(integration)
    return form, error


def refresh_list_picker(integration_id: int):
    """The wizard's list *Refresh*: re-fetch the lists and answer the dropdown, selection kept."""
    integration = owned(integrations.get_integration, integration_id)
    form, error = refreshed_list_step(integration)
    html = render_template(
        "addon/_list_picker.html", form=form, integration=integration, error=error, refreshed=True
    )
    return fragment(html, 502 if error else 200)


def _add_wizard_rules(bp: Blueprint, rule: str, endpoint: str, view: Callable) -> None:
    steps = "<any(" + ", ".join(STEPS) + "):step>"
    bp.add_url_rule(rule, endpoint, view, defaults={"step": "trigger"})
    bp.add_url_rule(f"{rule}/{steps}", endpoint, view, methods=["GET", "POST"])


def register(bp: Blueprint) -> None:
    # A product's New Rule first: url_for("new_rule", product_id=...) builds with it.
    _add_wizard_rules(bp, "/products/<addon_product:product_id>/rules/new", "new_rule", new_rule)
    _add_wizard_rules(bp, "/rules/new", "new_rule", new_rule)
    _add_wizard_rules(bp, "/rules/<addon_id:rule_id>/edit", "edit_rule", edit_rule)
    bp.add_url_rule(
        "/<addon_id:integration_id>/lists/refresh",
        "refresh_list_picker",
        refresh_list_picker,
        methods=["POST"],
    )
