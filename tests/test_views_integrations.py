"""Integration Setup: the list, the New Integration wizard, Edit, Refresh and Delete."""

from __future__ import annotations

from sqlalchemy import select

from addon.store.models import Integration, Rule
from tests import test_views_support as support
from tests.conftest import APP_ID, PASSWORD, USERNAME, configure, customers_rule
from tests.test_views_support import fresh

merchant = support.merchant

CONNECT = {"label": "Main iContact", "username": USERNAME, "password": PASSWORD}


def test_setup_lists_each_integration_with_status_lists_and_buttons(merchant, integration):
    page = merchant.get("addon.settings").text
    assert "Main iContact" in page and "iContact" in page and USERNAME in page
    assert "Connected" in page and "3 lists" in page and "Refreshed" in page
    assert f'id="addon-edit-integration-{integration.id}"' in page
    assert f'id="addon-refresh-integration-{integration.id}"' in page
    assert f'id="addon-delete-integration-{integration.id}"' in page
    assert "New Integration" in page


def test_needs_attention_shows_the_reason_in_words(merchant, engine, integration):
    stored = engine.db.session.get(Integration, integration.id)
    stored.status, stored.status_reason = "needs_attention", "iContact rejected it"
    engine.db.session.commit()
    page = merchant.get("addon.settings").text
    assert "Needs attention" in page and "iContact rejected it" in page


def test_wizard_step_one_offers_the_providers(merchant, icontact):
    dialog = merchant.get("addon.new_integration", htmx=True)
    assert dialog.status_code == 200
    assert dialog.text.lstrip().startswith("<dialog") and "Choose the provider" in dialog.text
    assert 'value="icontact"' in dialog.text and "Next Step" in dialog.text
    # A reload of the same URL: the whole Integration Setup page with the dialog open.
    page = merchant.get("addon.new_integration")
    assert "<html" in page.text and "Integration Setup" in page.text and "<dialog" in page.text


def test_next_step_goes_to_the_providers_configure_step(merchant, icontact):
    answer = merchant.get("addon.new_integration", htmx=True, provider="icontact")
    assert answer.status_code == 200
    assert answer.headers["HX-Push-Url"] == "/integrations/new/icontact"
    assert "Configure the Integration" in answer.text
    plain = merchant.get("addon.new_integration", provider="icontact")
    assert plain.status_code == 303 and plain.location.endswith("/integrations/new/icontact")
    assert merchant.get("addon.new_integration", htmx=True, provider="nope").status_code == 422


def test_configure_step_shows_the_app_id_copy_button_and_registration_link(app, merchant):
    dialog = merchant.get("addon.configure_integration", htmx=True, provider="icontact").text
    assert APP_ID in dialog and "data-addon-copy" in dialog
    assert app.config["ADDON_ICONTACT_REGISTER_URL"] in dialog
    assert "application password" in dialog
    for name in ("label", "username", "password"):
        assert f'name="{name}"' in dialog
    assert merchant.get("addon.configure_integration", provider="other").status_code == 404


def test_saving_connects_closes_the_dialog_and_shows_the_new_row(merchant, engine, icontact):
    answer = merchant.post("addon.configure_integration", CONNECT, provider="icontact")
    assert answer.status_code == 200
    assert answer.headers["HX-Retarget"] == "#addon-screen"
    assert answer.headers["HX-Reswap"] == "outerHTML"
    assert answer.headers["HX-Push-Url"] == "/integrations/"
    assert "<dialog" not in answer.text
    assert "Connected &#39;Main iContact&#39;: 3 lists found." in answer.text
    assert 'id="addon-integration-' in answer.text
    saved = engine.db.session.scalar(select(Integration))
    assert saved.label == "Main iContact" and saved.marketplace_id == "acme"


def test_a_plain_form_post_redirects_back_to_the_screen(merchant, icontact):
    answer = merchant.post("addon.configure_integration", CONNECT, htmx=False, provider="icontact")
    assert answer.status_code == 303 and answer.location.endswith("/integrations/")


def test_wrong_password_is_explained_inline_and_nothing_echoed(merchant, engine, icontact):
    typed = {**CONNECT, "password": "wrong-password-42"}
    answer = merchant.post("addon.configure_integration", typed, provider="icontact")
    assert answer.status_code == 422
    assert "did not accept that username and application password" in answer.text
    assert 'value="Main iContact"' in answer.text and f'value="{USERNAME}"' in answer.text
    assert "wrong-password-42" not in answer.text
    assert engine.db.session.scalar(select(Integration)) is None


def test_label_already_taken_is_shown_next_to_the_label(merchant, integration):
    answer = merchant.post("addon.configure_integration", CONNECT, provider="icontact")
    assert answer.status_code == 422
    assert 'id="addon-label-error"' in answer.text
    assert "Another integration is already labelled" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert PASSWORD not in answer.text


def test_unreachable_icontact_is_explained_and_nothing_saved(app, merchant, engine, icontact):
    configure(app, ADDON_ICONTACT_API_URL="http://127.0.0.1:9/icp")
    answer = merchant.post("addon.configure_integration", CONNECT, provider="icontact")
    assert answer.status_code == 422
    assert "Could not reach iContact right now" in answer.text
    assert PASSWORD not in answer.text
    assert engine.db.session.scalar(select(Integration)) is None


def test_missing_fields_are_shown_next_to_each_field(merchant, icontact):
    answer = merchant.post("addon.configure_integration", {}, provider="icontact")
    assert answer.status_code == 422
    for name in ("label", "username", "password"):
        assert f'id="addon-{name}-error"' in answer.text


def test_edit_form_is_filled_in_but_never_shows_the_password(merchant, integration):
    dialog = merchant.get("addon.edit_integration", htmx=True, integration_id=integration.id).text
    assert 'value="Main iContact"' in dialog and f'value="{USERNAME}"' in dialog
    assert PASSWORD not in dialog
    assert "Leave blank to keep the current password." in dialog
    assert 'name="password" type="password" value=""' in dialog


def test_edit_with_blank_password_renames_and_keeps_the_credentials(merchant, engine, integration):
    data = {"label": "Renamed", "username": USERNAME, "password": ""}
    answer = merchant.post("addon.edit_integration", data, integration_id=integration.id)
    assert answer.status_code == 200 and "Saved &#39;Renamed&#39;." in answer.text
    saved = fresh(engine, Integration, integration.id)
    assert saved.label == "Renamed"
    assert engine.state().vault.decrypt(saved.secret) == PASSWORD


def test_edit_verifies_new_credentials_before_saving(merchant, engine, icontact, integration):
    icontact.change_password(USERNAME, "app-password-2")
    bad = {"label": "Main iContact", "username": USERNAME, "password": "not-it"}
    answer = merchant.post("addon.edit_integration", bad, integration_id=integration.id)
    assert answer.status_code == 422 and "did not accept" in answer.text
    assert "not-it" not in answer.text
    good = {"label": "Main iContact", "username": USERNAME, "password": "app-password-2"}
    answer = merchant.post("addon.edit_integration", good, integration_id=integration.id)
    assert answer.status_code == 200
    saved = fresh(engine, Integration, integration.id)
    assert engine.state().vault.decrypt(saved.secret) == "app-password-2"


def test_failed_edit_keeps_the_old_label(merchant, engine, icontact, integration):
    icontact.change_password(USERNAME, "app-password-2")
    data = {"label": "New name", "username": USERNAME, "password": "not-it"}
    merchant.post("addon.edit_integration", data, integration_id=integration.id, htmx=False)
    assert fresh(engine, Integration, integration.id).label == "Main iContact"


def test_refresh_answers_the_row_with_the_new_count(merchant, icontact, integration):
    icontact.add_list(icontact.accounts[USERNAME], {"name": "VIP"})
    row = merchant.post("addon.refresh_integration", integration_id=integration.id)
    assert row.status_code == 200
    assert row.text.lstrip().startswith("<tr") and "4 lists" in row.text
    assert "Lists refreshed: 4." in row.text


def test_refresh_with_rejected_credentials_marks_the_row(merchant, icontact, integration):
    icontact.change_password(USERNAME, "app-password-2")
    row = merchant.post("addon.refresh_integration", integration_id=integration.id)
    assert row.status_code == 502
    assert "Needs attention" in row.text and "no longer accepts" in row.text


def test_delete_asks_naming_the_rules_that_use_the_integration(merchant, engine, integration):
    customers_rule(engine, integration, product_id="101")
    engine.add_rule(
        "acme",
        trigger="product.refunded",
        integration_id=integration.id,
        action="remove",
        list_name="Customers",
    )
    dialog = merchant.get("addon.delete_integration", htmx=True, integration_id=integration.id)
    text = dialog.text
    assert "These 2 rules use" in text
    assert "Product Purchased" in text and "Single-Origin Sampler" in text
    assert "Product Refunded" in text and "global" in text
    assert "Delete integration and 2 rules" in text
    answer = merchant.post("addon.delete_integration", integration_id=integration.id)
    assert (
        answer.status_code == 200 and "Deleted &#39;Main iContact&#39; and 2 rules." in answer.text
    )
    engine.db.session.expire_all()
    assert engine.db.session.scalar(select(Integration)) is None
    assert engine.db.session.scalar(select(Rule)) is None
