"""Every error and warning text the simulator sends, in one place.

Texts marked "recorded" are verbatim from traffic captured against the real sandbox; the rest
are written in the same style because no recording of them exists.
"""

#: recorded: unknown query terms are ignored, not refused.
UNKNOWN_TERMS = (
    "The data you received may not be what you expected. This happened because your request "
    "contained terms which could not be recognized and so were ignored ({terms}).\n"
    "You can do either of the following: ignore this warning and continue, or make a new "
    "request using terms listed in the API documentation."
)
#: recorded (for email); the same sentence is used for every required field.
MISSING_FIELD = "You did not provide {field} field, which is required. Please provide {field} field"
#: recorded: POST {"status": "deleted"} to a contact.
BAD_CONTACT_STATUS = (
    "The status value you provided was not valid. status can be either donotcontact or normal. "
    "Please provide a valid status"
)
BAD_SUBSCRIPTION_STATUS = (
    "The status value you provided was not valid. status can be either normal, pending or "
    "unsubscribed. Please provide a valid status"
)
BAD_EMAIL = "The email address you provided was not valid. Please provide a valid email address"
EMAIL_TAKEN = "The email address you provided is already used by another contact"
BAD_FLAG = "The {field} value you provided was not valid. {field} can be either 0 or 1"
BAD_ID = "The {field} you provided ({value}) was not valid. Please provide a valid {field}"
STATUS_LOCKED = (
    "The status of this contact is {status} and cannot be changed. Please leave status out"
)
STATUS_KEPT = (
    "The status of the contact {email} is {status} and cannot be changed; status was ignored"
)
NOT_SUBSCRIBABLE = (
    "The contact you provided ({contact_id}) has status {status} and cannot be subscribed. "
    "This record was ignored"
)
TOO_MANY_RECORDS = (
    "The request contained {count} records; at most {limit} are accepted in one request. "
    "Please send them in smaller batches"
)
NOT_AN_OBJECT = "The record you provided was not an object and was ignored"
IGNORED_FIELDS = "These fields could not be recognized and so were ignored ({fields})"
IMMUTABLE_FIELDS = "These fields cannot be changed and so were ignored ({fields})"

#: recorded (401 with a bad username).
BAD_USERNAME = "Api username invalid"
BAD_PASSWORD = "Api password invalid"
APP_NOT_ENABLED = "AppId is not enabled for this account"
BAD_VERSION = "Incorrect version. API-Version must be one of 2.0, 2.1 or 2.2"
MOVE_NEEDS_2_2 = "Moving a subscription requires API-Version 2.2"
BAD_ACCEPT = "Unsupported Accept type. Accept must be application/json or text/xml"
BAD_CONTENT_TYPE = "Unsupported Content-Type. Send application/json"
BAD_JSON = "The data you provided could not be parsed. Please provide valid JSON"
NOT_OBJECT_BODY = "The data you provided must be a JSON object"
BAD_PAGING = "limit and offset must be non-negative whole numbers (limit at least 1)"
FORBIDDEN_ACCOUNT = "You do not have permission to access this account"
NOT_FOUND = "The resource you requested could not be found"
METHOD_NOT_ALLOWED = "The {method} method is not supported for this resource"

UNAVAILABLE = "The service is temporarily unavailable. Please try again later"
THROTTLED = (
    "The service is temporarily unavailable because this account sent more than "
    "{limit} requests in 60 seconds. Please slow down and try again later"
)
INTERNAL_ERROR = "An internal error occurred. Please try again later"


def missing_field(name: str) -> str:
    """The recorded "required field" warning for ``name`` ("an email field", "a name field")."""
    article = "an" if name[:1].lower() in "aeiou" else "a"
    return MISSING_FIELD.format(field=f"{article} {name}")


def unknown_terms(terms: list[str]) -> str:
    """The recorded warning for query terms that were ignored."""
    return UNKNOWN_TERMS.format(terms=", ".join(terms))


def unsaved_fields(ignored: list[str], immutable: list[str]) -> list[str]:
    """The warnings for the fields a write left out: unknown ones, and read-only ones."""
    warnings = []
    if ignored:
        warnings.append(IGNORED_FIELDS.format(fields=", ".join(ignored)))
    if immutable:
        warnings.append(IMMUTABLE_FIELDS.format(fields=", ".join(immutable)))
    return warnings
