"""A provider owns its connect form: the credentials and setup steps it declares become the
New Integration and Edit forms, with nothing of its own in addon/web."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from wtforms import PasswordField, StringField

from addon.providers import PROVIDERS, CredentialField, Provider, register
from addon.store.models import Integration
from addon.web.forms import integration_form
from tests.fake_provider import KEYS_URL, NAME, PASSWORD, USERNAME, PostboxAccount, postbox
from tests.test_views_support import merchant  # noqa: F401  (a fixture)


@pytest.fixture
def postbox_provider():
    """The tests' Postbox provider, registered for the test."""
    provider = register(postbox(PostboxAccount()))
    yield provider
    PROVIDERS.pop(NAME)


def form_of(app, provider: Provider, data=None, **options):
    with app.test_request_context(method="POST", data=data or {}):
        form = integration_form(provider, meta={"csrf": False}, **options)
        valid = form.validate()
    return form, valid


def test_the_connect_form_has_the_label_then_the_providers_credentials(app, postbox_provider):
    form, _ = form_of(app, postbox_provider)
    assert [field.name for field in form] == ["label", "username", "password"]
    assert isinstance(form.username, StringField) and not isinstance(form.username, PasswordField)
    assert isinstance(form.password, PasswordField)
    assert (form.username.label.text, form.password.label.text) == (
        "Postbox key name",
        "Postbox secret",
    )
    assert form.password.description == "Shown once, when you made the key."
    assert "'Main Postbox account'" in form.label.description


def test_an_empty_credential_gets_the_providers_own_words(app, postbox_provider):
    form, valid = form_of(app, postbox_provider, {"label": "Box"})
    assert not valid
    assert form.username.errors == ["Name your Postbox key."]
    assert form.password.errors == ["Paste the key's secret."]


def test_on_edit_a_blank_password_keeps_the_stored_one(app, postbox_provider):
    form, valid = form_of(app, postbox_provider, {"label": "Box", "username": USERNAME}, edit=True)
    assert valid
    assert form.password.label.text == "New postbox secret"
    assert form.password.description == "Leave blank to keep the current password."


def test_icontact_words_its_fields_and_its_setup_steps(app):
    icontact = PROVIDERS["icontact"]
    form, _ = form_of(app, icontact)
    assert form.username.label.text == "iContact username"
    assert form.password.label.text == "Application password"
    with app.app_context():
        settings = app.extensions["addon"].settings
    steps = icontact.setup_steps(settings)
    assert steps[0].link == ("iContact's API page", settings.icontact_register_url)
    assert steps[1].copy == settings.icontact_app_id and steps[1].copy_name == "the App ID"


def test_credentials_are_one_username_and_one_password(postbox_provider):
    import dataclasses

    only_a_key = (CredentialField("password", "Key", "password"),)
    with pytest.raises(ValueError, match="one 'username' and one 'password'"):
        register(dataclasses.replace(postbox_provider, credentials=only_a_key))


def test_the_test_provider_connects_through_the_generic_form(merchant, engine, postbox_provider):  # noqa: F811
    page = merchant.get("addon.new_integration", provider=NAME)
    assert page.status_code == 303 and page.location.endswith(f"/integrations/new/{NAME}")
    form = merchant.get("addon.configure_integration", htmx=True, provider=NAME).text
    assert "Make a Postbox key" in form and KEYS_URL in form
    assert "Copy the key name" in form and "storefront" in form
    assert "Postbox key name" in form and "Postbox secret" in form
    assert "iContact" not in form

    answer = merchant.post(
        "addon.configure_integration",
        {"label": "Main box", "username": USERNAME, "password": PASSWORD},
        htmx=False,
        provider=NAME,
    )

    assert answer.status_code == 303
    saved = engine.db.session.scalar(select(Integration))
    assert (saved.provider, saved.label, saved.username) == (NAME, "Main box", USERNAME)


def test_the_test_provider_is_edited_through_the_generic_form(merchant, engine, postbox_provider):  # noqa: F811
    integration = engine.connect(
        "acme", NAME, label="Main box", username=USERNAME, password=PASSWORD
    )
    page = merchant.get("addon.edit_integration", htmx=True, integration_id=integration.id).text
    assert "New postbox secret" in page and "Make a Postbox key" not in page

    answer = merchant.post(
        "addon.edit_integration",
        {"label": "Renamed box", "username": USERNAME, "password": ""},
        htmx=False,
        integration_id=integration.id,
    )

    assert answer.status_code == 303
    engine.db.session.expire_all()
    assert engine.db.session.scalar(select(Integration.label)) == "Renamed box"
