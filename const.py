"""Odoo-side constants: providers, streams, event types, channels, teams."""

import dataclasses

PROVIDERS = [
    ("klaviyo", "Klaviyo"),
    ("mailchimp", "Mailchimp"),
    ("dotdigital", "Dotdigital"),
]

DEFAULT_BASE_URLS = {
    "klaviyo": "https://a.klaviyo.com",
    # Mailchimp's host depends on the key's data centre; the adapter derives it.
    "mailchimp": "",
    "dotdigital": "https://r1-api.dotdigital.com",
}

# Who is master of marketing consent, per provider (issue design card).
DEFAULT_CONSENT_MASTER = {
    "klaviyo": "odoo",
    "mailchimp": "esp",
    "dotdigital": "odoo",
}

SYNC_MODES = [
    ("realtime", "Real time"),
    ("scheduled", "Scheduled (batched by cron)"),
]

# stream -> label; each has a boolean switch and a mode on the backend.
STREAMS = {
    "profile": "Profiles",
    "consent": "Consent",
    "order": "Orders",
    "fulfilment": "Fulfilments",
    "refund": "Refunds",
    "catalog": "Catalogue",
}


@dataclasses.dataclass(frozen=True)
class EventType:
    """One kind of ledger row: where it travels and how it is delivered.

    ``coalesce``: rows of one record merge at delivery (the payload is built
    from the latest data); ``order_kind``: the providers' ``EventKind``;
    ``sequence``: tie-break inside one transaction (Placed first).
    """

    code: str
    label: str
    stream: str
    sequence: int
    urgent: bool = False
    coalesce: bool = False
    order_kind: str = ""


# Per stream, the backend fields that switch it on and choose its delivery
# mode (real time or batched): the one place that names them.
STREAM_SWITCH = {
    "profile": "sync_profiles",
    "consent": "sync_consent",
    "order": "sync_orders",
    "fulfilment": "sync_fulfilments",
    "refund": "sync_refunds",
    "catalog": "sync_catalog",
}
STREAM_MODE_FIELD = {
    "profile": "profile_mode",
    "consent": "consent_mode",
    "order": "order_mode",
    "fulfilment": "fulfilment_mode",
    "refund": "refund_mode",
    "catalog": "catalog_mode",
}

# The one table of event types: the engine, the views and the tests read it.
EVENT_TABLE = {
    spec.code: spec
    for spec in (
        EventType("consent", "Consent", "consent", 1, urgent=True, coalesce=True),
        EventType("erasure", "Erasure", "consent", 2, urgent=True),
        EventType(
            "sms_consent", "SMS consent", "consent", 4, urgent=True, coalesce=True
        ),
        EventType("email_change", "Email change", "profile", 3),
        EventType("profile", "Profile", "profile", 5, coalesce=True),
        EventType("order_placed", "Placed Order", "order", 10, True, False, "placed"),
        EventType(
            "order_released", "Order Confirmed", "order", 15, True, False, "released"
        ),
        EventType(
            "order_cancelled", "Cancelled Order", "order", 20, order_kind="cancelled"
        ),
        EventType(
            "order_fulfilled",
            "Fulfilled Order",
            "fulfilment",
            30,
            order_kind="fulfilled",
        ),
        EventType(
            "order_returned", "Returned Items", "fulfilment", 40, order_kind="returned"
        ),
        EventType(
            "order_refunded", "Refunded Order", "refund", 50, order_kind="refunded"
        ),
        EventType("catalog", "Catalogue item", "catalog", 60, coalesce=True),
        EventType("inventory", "Inventory", "catalog", 70, coalesce=True),
        EventType("back_in_stock", "Back-in-stock request", "catalog", 75),
    )
}
EVENT_TYPES = [(spec.code, spec.label) for spec in EVENT_TABLE.values()]
EVENT_STREAM = {code: spec.stream for code, spec in EVENT_TABLE.items()}
ORDER_EVENT_KIND = {
    code: spec.order_kind for code, spec in EVENT_TABLE.items() if spec.order_kind
}
EVENT_SEQUENCE = {code: spec.sequence for code, spec in EVENT_TABLE.items()}
URGENT_EVENTS = {code for code, spec in EVENT_TABLE.items() if spec.urgent}
COALESCED_EVENTS = {code for code, spec in EVENT_TABLE.items() if spec.coalesce}
# Order transitions that may happen again (an order cancelled, then confirmed).
REOCCURRING_EVENTS = {
    "order_placed": "order_cancelled",
    "order_cancelled": "order_placed",
}

CHANNEL_URGENT = "root.esp_sync.urgent"
CHANNEL_BULK = "root.esp_sync.bulk"
CHANNELS = {"urgent": CHANNEL_URGENT, "bulk": CHANNEL_BULK}
PRIORITY_URGENT = 5
PRIORITY_BULK = 50

# Delivery: how long a dispatcher job works before handing over to a fresh
# one, how many groups it reads at a time, and how long a group may keep
# failing with retryable errors before it becomes an exception.
DISPATCH_SECONDS = 60
DISPATCH_BATCH = 50
DEFAULT_RETRY_BUDGET_HOURS = 4
# Seconds before a group whose row lock or advisory lock was busy is retried.
BUSY_RETRY_SECONDS = 2
# A rate-limit pause this short is slept inside the job, not rescheduled.
SHORT_PAUSE_SECONDS = 3
# A due row older than this with no live dispatcher is woken by the watchdog.
WATCHDOG_GRACE_SECONDS = 60

ERROR_CATEGORIES = [
    ("data", "Data"),
    ("configuration", "Configuration"),
    ("rate_limit", "Rate limit"),
    ("transient", "Transient"),
    ("authentication", "Authentication"),
    ("unexpected", "Unexpected error"),
    ("release", "Release gate"),
]

TEAMS = [
    ("marketing", "Marketing"),
    ("operations", "Operations"),
    ("it", "IT"),
    ("sales", "Sales"),
]

# Who fixes what: marketing owns audience data, IT owns configuration and
# credentials, operations watch the backlog (rate limits, outages).
CATEGORY_TEAM = {
    "data": "marketing",
    "configuration": "it",
    "authentication": "it",
    "rate_limit": "operations",
    "transient": "operations",
    "unexpected": "it",
    "release": "sales",
}

# Post-purchase release gate: what must hold before "Order Confirmed" leaves.
RELEASE_GATES = [
    ("none", "No gate (post-purchase flows start on Placed Order)"),
    ("reserved", "Stock reserved for every delivery"),
    ("paid", "Invoiced and paid"),
    ("credit", "No credit hold (credit limit, overdue invoices)"),
]

# People with an email, no internal user, who bought, were invoiced or opted
# in (email or SMS); the companies' own partners are excluded in code.
DEFAULT_PARTNER_DOMAIN = (
    "[('email', '!=', False), ('partner_share', '=', True), '|', '|', '|', "
    "('customer_rank', '>', 0), ('sale_order_ids', '!=', False), "
    "('esp_marketing_opt_in', '=', True), ('esp_sms_opt_in', '=', True)]"
)

# Partner fields whose change refreshes the profile (mapped fields are added).
PROFILE_FIELDS = {
    "name",
    "email",
    "phone",
    "mobile",
    "street",
    "street2",
    "city",
    "zip",
    "state_id",
    "country_id",
    "parent_id",
    "company_type",
    "is_company",
    "category_id",
    "lang",
}
CONSENT_FIELDS = {"esp_marketing_opt_in", "esp_consent_withdrawn_at"}
# SMS marketing consent: the fields whose change re-sends it, and the ESPs
# whose API has SMS consent (Mailchimp's Marketing API has none).
SMS_CONSENT_FIELDS = {"esp_sms_opt_in", "esp_sms_withdrawn_at", "mobile", "country_id"}
SMS_PROVIDERS = ("klaviyo", "dotdigital")

# Context key set by the sync itself so its own writes are not captured again.
NO_CAPTURE = "esp_sync_no_capture"

# Historical backfill: records per bulk call, within each ESP's limits
# (Klaviyo: 10,000 profiles / 1,000 events and 5 MB per job; Mailchimp: 500
# operations per batch we send; Dotdigital: 500 contacts per import).
# Klaviyo's orders: a placed order is 1 + its lines events and the adapter
# splits a chunk into as many event jobs as needed, so 500 orders fill jobs
# (few bulk calls under the 150/min limit) whatever the order size.
BACKFILL_CHUNK = {
    "klaviyo": {"profiles": 1000, "orders": 500},
    "mailchimp": {"profiles": 500, "orders": 200},
    "dotdigital": {"profiles": 500, "orders": 500},
}
BACKFILL_POLL_SECONDS = 10
# The poll after a backfill's last chunk comes sooner: the run ends there.
BACKFILL_FINAL_POLL_SECONDS = 2
# Bulk jobs a backfill keeps in flight at the ESP before it waits (Mailchimp
# refuses more than 500 pending batches per account).
BACKFILL_MAX_IN_FLIGHT = 20

# Product fields whose change refreshes the catalogue item (only the essentials).
CATALOG_TEMPLATE_FIELDS = {
    "name",
    "description_sale",
    "list_price",
    "default_code",
    "image_1920",
    "active",
    "sale_ok",
    "categ_id",
    "website_url",
    "is_published",
}
CATALOG_VARIANT_FIELDS = {
    "default_code",
    "image_variant_1920",
    "active",
    "product_template_attribute_value_ids",
}
# Quantity sent for products that do not track stock: always available.
UNTRACKED_INVENTORY_QUANTITY = 9999.0
