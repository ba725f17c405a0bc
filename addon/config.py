"""Documented defaults for every ``ADDON_*`` setting, in one place.

``IntegrationEngine.init_app`` gives each key the value of the app's config, else of the
environment variable of the same name (:mod:`addon.environment`), else the default here.
docs/settings.md explains each one with an example; a test keeps the two in step.
"""

#: Where the add-on's blueprint is mounted.
ADDON_URL_PREFIX = "/integrations"
#: The blueprint's name (its endpoints are ``<name>.logs`` ...): change it when the host has a
#: blueprint called ``addon`` already.
ADDON_BLUEPRINT_NAME = "addon"
#: Redis for the RQ queue; ``None`` means "no Redis configured" (emit still stores events).
ADDON_REDIS_URL = None
#: Name of the RQ queue the add-on enqueues on and its worker listens to.
ADDON_QUEUE = "addon"
#: Base URL of the iContact API (the simulator serves the same paths under its own host).
ADDON_ICONTACT_API_URL = "https://app.icontact.com/icp"
#: The add-on's App ID that merchants enable in their iContact account.
ADDON_ICONTACT_APP_ID = "addon-icontact-app"
#: Where merchants enable that App ID and pick an application password.
ADDON_ICONTACT_REGISTER_URL = "https://app.icontact.com/icp/core/externallogin"
#: The merchant's iContact allowance, shared by every worker through Redis.
ADDON_ICONTACT_CALLS_PER_MINUTE = 60
#: Contact lookups one worker runs at the same time. A lookup mostly waits on the network, so
#: many in flight keep a burst of new customers moving; the shared limiter still paces every call.
ADDON_ICONTACT_CONCURRENCY = 32
#: Records one POST /contacts or /subscriptions carries. iContact documents no cap; the
#: simulator took 100,000 contacts in one POST (about 2 s). At 60 calls a minute, bigger posts
#: leave more of the allowance for the rest of a burst.
ADDON_ICONTACT_BATCH_SIZE = 1000
#: Contacts read per call when the add-on syncs an account's contacts (iContact documents no
#: largest page; one client was told 500, another uses 1000).
ADDON_ICONTACT_PAGE_SIZE = 500
#: Hours between two full syncs of an account's contacts (at connect, then on this schedule;
#: each batch checks for contacts created since, in between). 0 turns the schedule off.
ADDON_CONTACT_SYNC_HOURS = 24
#: Seconds before one iContact API call gives up (connect, read).
ADDON_ICONTACT_TIMEOUT = (5.0, 20.0)
#: Fernet key (or comma-separated keys, newest first) that encrypts stored credentials.
ADDON_ENCRYPTION_KEY = None
#: Shared secret for signed webhook events; without it the webhook refuses every request.
ADDON_WEBHOOK_SECRET = None
#: How old (seconds) a webhook signature may be before it is refused as a replay.
ADDON_WEBHOOK_TOLERANCE = 300
#: Largest webhook body accepted, in bytes.
ADDON_WEBHOOK_MAX_BYTES = 64 * 1024
#: Cart-abandonment delay: Prospect Created rules fire this many seconds after the prospect.
ADDON_PROSPECT_DELAY = 7200
#: Finished log entries kept per marketplace (pending work is never pruned).
ADDON_LOG_LIMIT = 1000
#: Days stored events are kept, apart from the log: a check against iContact and a rule applied
#: to the past replay them, so keep them at least as long as a customer stays a customer.
ADDON_EVENT_RETENTION_DAYS = 400
#: Hour of the day (UTC, 0-23) of the nightly check of every integration against iContact and
#: the pruning of old events; None turns the nightly run off (the button still works).
ADDON_CHECK_HOUR: int | None = 3
#: Deliveries one worker claims at a time; a claim is a lease that expires after this many seconds.
#: A claim's own statements cost the same whatever its size: 500 spends a sixth less of a
#: worker's CPU per delivery than 200 did, and still leaves a second worker customers to claim.
ADDON_CLAIM_BATCH = 500
#: When the provider's allowance sets the pace, the claims of an integration whose contacts
#: are synced double, up to this many deliveries: such a batch costs a few calls whatever its
#: size, so a burst needs fewer of the account's calls.
ADDON_CLAIM_BATCH_MAX = 2000
ADDON_LEASE_SECONDS = 300
#: A large backlog of one integration is shared by up to this many drain jobs (workers).
ADDON_PARALLEL_DRAINS = 4
#: One drain job works at most this long, then hands the rest to a fresh job (fairness).
ADDON_DRAIN_SECONDS = 60
#: An integration is "stuck" when work due to be sent has waited this many minutes.
ADDON_STUCK_MINUTES = 15
#: An integration is "failing" when, in the last hour, at least this many updates failed ...
ADDON_FAILING_MIN_FAILURES = 5
#: ... and they were at least this percentage of its finished updates.
ADDON_FAILING_PERCENT = 50
#: Alarms by email (through the host's Flask-Mail ``MAIL_*`` settings); False turns them off.
ADDON_ALARM_EMAIL = True
#: The alarms' From address (None: the host's ``MAIL_DEFAULT_SENDER``).
ADDON_ALARM_EMAIL_SENDER = None
#: Addresses (comma-separated) that get every marketplace's alarms, besides the merchant's
#: own from ``@engine.alarm_recipients``.
ADDON_ALARM_RECIPIENTS = None
#: Where alarms are also posted as signed JSON (None: no alarm webhook).
ADDON_ALARM_WEBHOOK_URL = None
#: Secret that signs the alarm webhook (``X-Addon-Signature``); required with its URL.
ADDON_ALARM_WEBHOOK_SECRET = None
#: At most one alarm per integration and condition within this many hours.
ADDON_ALARM_DIGEST_HOURS = 4
#: How often a worker's sweeper looks for work that waited too long (lost jobs, dead workers).
ADDON_SWEEP_INTERVAL = 30
#: Temporary failures are retried with backoff for this long before the entry fails.
ADDON_RETRY_WINDOW = 24 * 3600
#: The host's sign-in endpoint signed-out merchants are sent to (None: "login" if it exists).
ADDON_LOGIN_ENDPOINT = None
#: The host's product page endpoint (built with ``product_id=``): a product's Integrations tab
#: shown as a page of its own (without JavaScript, or on a reload) links back to it.
ADDON_PRODUCT_ENDPOINT = None
#: Content-Security-Policy of the add-on's own pages: our own files only, no inline script or
#: style (htmx's indicator styles are off, see ``_assets.html``), no framing by other sites.
#: Sent on pages in the add-on's standalone layout; empty sends none.
ADDON_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'self'; "
    "object-src 'none'"
)
#: Also send that policy on pages in the host's layout (``ADDON_BASE_TEMPLATE``); off, because
#: the page is then the host's. Inline code of the layout needs ``nonce="{{ csp_nonce() }}"``.
ADDON_CSP_IN_HOST_LAYOUT = False
#: Base template the add-on's pages extend, so they sit inside the host's layout.
ADDON_BASE_TEMPLATE = "addon/_standalone.html"
#: Set False when the host page already loads htmx 2.
ADDON_INCLUDE_HTMX = True
