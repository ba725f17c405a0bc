"""Integration Setup: the integrations, the New Integration wizard, Edit, Refresh and Delete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...engine import integrations, rules
from ...errors import IntegrationError
from ...providers import PROVIDERS, Provider
from ...state import context, session
from ..forms import ProviderForm, integration_form
from .guard import marketplace, owned
from .htmx import (
    close_dialog,
    fragment,
    is_htmx,
    pushes_history,
    render_dialog,
    render_screen,
)

SCREEN = "addon/settings.html"


def screen_context() -> dict[str, Any]:
    return {
        "tab": "settings",
        "integrations": integrations.list_integrations(context(), marketplace()),
    }


def _taken_labels(exclude_id: int | None = None) -> set[str]:
    return {
        i.label
        for i in integrations.list_integrations(context(), marketplace())
        if i.id != exclude_id
    }


def _back_to_screen(notice: str) -> Response:
    return close_dialog(SCREEN, url_for(".settings"), screen_context, notice)


def settings():
    """The Integration Setup tab."""
    return render_screen(SCREEN, **screen_context())


def new_integration():
    """Wizard step 1: choose the provider, then *Next Step* to its configure step."""
    chosen = "provider" in request.args
    form = ProviderForm(request.args if chosen else None)
    if chosen and form.validate():
        url = url_for(".configure_integration", provider=form.provider.data)
        if not is_htmx():
            return redirect(url, 303)
        provider = PROVIDERS[form.provider.data]
        response = _configure(provider, integration_form(provider))
        if pushes_history():
            response.headers["HX-Push-Url"] = url
        return response
    status = 422 if chosen else 200
    return render_dialog(
        "addon/integration_wizard.html", screen_context, status, step="provider", form=form
    )


def _configure(provider: Provider, form, status: int = 200, error: str | None = None) -> Response:
    return render_dialog(
        "addon/integration_wizard.html",
        screen_context,
        status,
        step="configure",
        provider=provider,
        form=form,
        error=error,
    )


def configure_integration(provider: str):
    """Wizard step 2: the label and credentials; *Save Integration* verifies them first."""
    chosen = PROVIDERS.get(provider)
    if chosen is None:
        abort(404)
    form = integration_form(chosen)
    if request.method == "GET":
        return _configure(chosen, form)
    valid = form.validate()
    if not (form.check_label_free(_taken_labels()) and valid):
        return _configure(chosen, form, 422)
    try:
        integration = integrations.connect(
            context(),
            marketplace(),
            chosen.name,
            label=form.label.data,
            username=form.username.data,
            password=form.password.data,
        )
    except IntegrationError as exc:
        return _configure(chosen, form, 422, error=str(exc))
    count = len(integration.lists)
    return _back_to_screen(
        f"Connected '{integration.label}': {count} list{'s' if count != 1 else ''} found."
    )


def edit_integration(integration_id: int):
    """Rename an integration or replace its credentials (blank password keeps the stored one)."""
    integration = owned(integrations.get_integration, integration_id)
    provider = PROVIDERS[integration.provider]
    form = integration_form(provider, edit=True, obj=integration)
    error = None
    if request.method == "POST":
        valid = form.validate()
        if form.check_label_free(_taken_labels(integration.id)) and valid:
            # Only new credentials are verified with the provider; a rename needs no call.
            username = form.username.data.strip()
            try:
                integrations.update_integration(
                    context(),
                    marketplace(),
                    integration.id,
                    label=form.label.data,
                    username=username if username != integration.username else None,
                    password=form.password.data or None,
                )
            except IntegrationError as exc:
                session().rollback()  # the engine may have changed the label before failing
                error = str(exc)
            else:
                return _back_to_screen(f"Saved '{integration.label}'.")
    status = 422 if request.method == "POST" else 200
    return render_dialog(
        "addon/integration_edit.html",
        screen_context,
        status,
        integration=integration,
        provider=provider,
        form=form,
        error=error,
    )


def refresh_integration(integration_id: int):
    """Re-fetch an integration's lists; answers its updated row."""
    integration = owned(integrations.get_integration, integration_id)
    error = notice = None
    try:
        integrations.refresh_lists(context(), marketplace(), integration.id)
    except IntegrationError as exc:
        error = str(exc)
    else:
        notice = f"Lists refreshed: {len(integration.lists)}."
    if not is_htmx():
        flash(error or notice or "", "error" if error else "success")
        return redirect(url_for(".settings"), 303)
    html = render_template(
        "addon/_integration_row.html", integration=integration, row_error=error, row_notice=notice
    )
    return fragment(html, 502 if error else 200)


def delete_integration(integration_id: int):
    """Ask, naming the rules that use the integration; then delete it and them."""
    integration = owned(integrations.get_integration, integration_id)
    using = rules.rules_using(context(), marketplace(), integration.id)
    if request.method == "POST":
        label = integration.label
        integrations.delete_integration(context(), marketplace(), integration.id)
        removed = f" and {len(using)} rule{'s' if len(using) != 1 else ''}" if using else ""
        return _back_to_screen(f"Deleted '{label}'{removed}.")
    return render_dialog(
        "addon/integration_delete.html", screen_context, integration=integration, rules=using
    )


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/", "settings", settings)
    bp.add_url_rule("/new", "new_integration", new_integration)
    bp.add_url_rule(
        "/new/<provider>",
        "configure_integration",
        configure_integration,
        methods=["GET", "POST"],
    )
    bp.add_url_rule(
        "/<addon_id:integration_id>/edit",
        "edit_integration",
        edit_integration,
        methods=["GET", "POST"],
    )
    bp.add_url_rule(
        "/<addon_id:integration_id>/refresh",
        "refresh_integration",
        refresh_integration,
        methods=["POST"],
    )
    bp.add_url_rule(
        "/<addon_id:integration_id>/delete",
        "delete_integration",
        delete_integration,
        methods=["GET", "POST"],
    )
