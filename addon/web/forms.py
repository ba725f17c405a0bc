"""The merchant screens' forms (Flask-WTF): what each accepts and the error shown next to it.

Wizard steps that only move forward (rule trigger, integration and action) are GET forms
without a CSRF field: they change nothing, and their URLs can be reloaded and bookmarked.
"""

from __future__ import annotations

import functools
from typing import Any

from flask_wtf import FlaskForm  # type: ignore[import-untyped]
from wtforms import (  # type: ignore[import-untyped]
    BooleanField,
    DateField,
    HiddenField,
    PasswordField,
    RadioField,
    SearchField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import (  # type: ignore[import-untyped]
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from ..engine.integrations import MAX_LABEL
from ..engine.triggers import ACTIONS, TRIGGERS
from ..providers import PROVIDERS, CredentialField, Provider
from ..store.models import (
    FAILED,
    PENDING,
    SKIPPED,
    SUCCESS,
)


class QueryForm(FlaskForm):
    """A form read from the query string of a GET request (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    def __init__(self, formdata: Any = None, **kwargs: Any):
        super().__init__(formdata=formdata, **kwargs)


# -- integrations --------------------------------------------------------------------------


class ProviderForm(QueryForm):
    """New Integration, step 1: which email-marketing service."""

    provider = RadioField(
        "Provider",
        default=next(iter(PROVIDERS)),
        validators=[InputRequired("Choose the service to connect.")],
    )

    def __init__(self, formdata: Any = None, **kwargs: Any):
        super().__init__(formdata, **kwargs)
        # Read at each request: a provider may register after this module is imported.
        self.provider.choices = [SelectChoice(p.name, p.display_name) for p in PROVIDERS.values()]


class IntegrationForm(FlaskForm):
    """New Integration, step 2, and Edit: a label, then the provider's credentials (see
    :func:`integration_form`, which adds them)."""

    label = StringField(
        "Integration label",
        validators=[DataRequired("Give the integration a label."), Length(max=MAX_LABEL)],
    )

    def check_label_free(self, taken: set[str]) -> bool:
        """Mark the label field when another integration of the marketplace uses it."""
        label = (self.label.data or "").strip()
        if label in taken:
            self.label.errors = [
                *self.label.errors,
                f"Another integration is already labelled '{label}'. Choose another label.",
            ]
            return False
        return True


def integration_form(provider: Provider, *, edit: bool = False, **kwargs: Any) -> IntegrationForm:
    """The form that connects (or, with ``edit``, changes) an integration of ``provider``.

    Args:
        provider: its ``credentials`` become the fields after the label.
        edit: a blank password keeps the stored one.
        kwargs: for the form (``obj=integration`` fills in what is stored).

    Returns:
        The form, read from the request's form data when it has any.
    """
    form = _form_class(provider, edit)(**kwargs)
    form.label.description = (
        "Only you see it: it tells your integrations apart, "
        f"e.g. 'Main {provider.display_name} account'."
    )
    return form


@functools.cache
def _form_class(provider: Provider, edit: bool) -> type[IntegrationForm]:
    fields = {field.name: _credential_field(field, edit) for field in provider.credentials}
    return type(f"{provider.name.title()}Form", (IntegrationForm,), fields)


def _credential_field(field: CredentialField, edit: bool) -> Any:
    if field.kind != "password":
        return StringField(field.label, [DataRequired(field.missing)], description=field.help)
    if edit:
        label = f"New {field.label[:1].lower()}{field.label[1:]}"
        return PasswordField(
            label, [Optional()], description="Leave blank to keep the current password."
        )
    return PasswordField(field.label, [DataRequired(field.missing)], description=field.help)


# -- rules ----------------------------------------------------------------------------------

TRIGGER_CHOICES = [SelectChoice(t.name, t.title) for t in TRIGGERS]
ACTION_CHOICES = [SelectChoice(name, title) for name, title in ACTIONS.items()]


class TriggerStepForm(QueryForm):
    """New Rule, step 1: when the rule runs."""

    trigger = RadioField(
        "Trigger",
        choices=TRIGGER_CHOICES,
        validators=[InputRequired("Choose when the rule should run.")],
    )


class ConnectionStepForm(TriggerStepForm):
    """New Rule, step 2: which integration, and whether to add or remove the customer."""

    integration_id = SelectField(
        "Integration",
        coerce=int,
        validators=[InputRequired("Choose the integration to use.")],
    )
    action = RadioField(
        "Action",
        choices=ACTION_CHOICES,
        validators=[InputRequired("Choose what to do with the customer.")],
    )

    def __init__(self, formdata: Any = None, *, integrations=(), **kwargs: Any):
        super().__init__(formdata, **kwargs)
        # The engine lists them sorted by label.
        self.integration_id.choices = [SelectChoice(i.id, i.label) for i in integrations]


class ListStepForm(FlaskForm):
    """New Rule, step 3: the list, picked from the cached ones or typed by name."""

    trigger = HiddenField(validators=[InputRequired()])
    integration_id = HiddenField(validators=[InputRequired()])
    action = HiddenField(validators=[InputRequired()])
    list_id = SelectField("List", validators=[Optional()], validate_choice=False)
    list_name = StringField(
        "Or type a list name",
        validators=[Optional(), Length(max=255)],
        description="A list that does not exist yet can be created for you.",
    )
    create_list = HiddenField()
    # Offered only for an add, on a provider that can ask (the wizard decides).
    double_opt_in = BooleanField(
        "Ask customers to confirm first (double opt-in)",
        description="iContact emails them a link; they join the list once they click it.",
    )

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.list_name.data or "").strip() and not self.list_id.data:
            self.list_name.errors = [
                *self.list_name.errors,
                "Choose a list, or type the name of one.",
            ]
            return False
        return valid


# -- logs -----------------------------------------------------------------------------------

STATUS_CHOICES = [
    SelectChoice("", "Any status"),
    SelectChoice(SUCCESS, "Success"),
    SelectChoice(FAILED, "Failed"),
    SelectChoice(PENDING, "Pending"),
    SelectChoice(SKIPPED, "Skipped"),
]


#: What the Logs list: what each rule did (the log's entries), or every stored event, those no
#: rule acted on included, each with why.
SHOW_CHOICES = [
    SelectChoice("", "Log entries"),
    SelectChoice("events", "Events, and why"),
]


class LogFilterForm(QueryForm):
    """Log search and filters; an invalid value is reported and ignored."""

    show = SelectField("Show", choices=SHOW_CHOICES, validators=[Optional()])
    q = SearchField("Search", validators=[Optional(), Length(max=200)])
    status = SelectField("Status", choices=STATUS_CHOICES, validators=[Optional()])
    trigger = SelectField(
        "Trigger",
        choices=[SelectChoice("", "Any trigger"), *TRIGGER_CHOICES],
        validators=[Optional()],
    )
    integration_id = SelectField("Integration", validators=[Optional()])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])

    def __init__(self, formdata: Any = None, *, integrations=(), **kwargs: Any):
        super().__init__(formdata, **kwargs)
        self.integration_id.choices = [SelectChoice("", "Any integration")] + [
            SelectChoice(str(i.id), i.label) for i in integrations
        ]

    def validate_q(self, field: SearchField) -> None:
        # No entry holds control characters, and PostgreSQL refuses NUL in a query.
        if field.data and any(ord(char) < 32 or ord(char) == 127 for char in field.data):
            raise ValidationError("Search for letters, digits and punctuation only.")

    def validate_date_to(self, field: DateField) -> None:
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")
