"""Odoo-side constants: providers, streams, event types, channels, teams."""

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

EVENT_TYPES = [
    ("profile", "Profile"),
    ("consent", "Consent"),
    ("order_placed", "Placed Order"),
    ("order_cancelled", "Cancelled Order"),
    ("order_fulfilled", "Fulfilled Order"),
    ("order_refunded", "Refunded Order"),
    ("order_returned", "Returned Items"),
    ("catalog", "Catalogue item"),
    ("inventory", "Inventory"),
]

EVENT_STREAM = {
    "profile": "profile",
    "consent": "consent",
    "order_placed": "order",
    "order_cancelled": "order",
    "order_fulfilled": "fulfilment",
    "order_returned": "fulfilment",
    "order_refunded": "refund",
    "catalog": "catalog",
    "inventory": "catalog",
}

# Order events and the providers' EventKind values.
ORDER_EVENT_KIND = {
    "order_placed": "placed",
    "order_cancelled": "cancelled",
    "order_fulfilled": "fulfilled",
    "order_refunded": "refunded",
    "order_returned": "returned",
}

# Tie-break inside one ordering group: Placed before Cancelled/Fulfilled/...
EVENT_SEQUENCE = {
    "profile": 5,
    "consent": 1,
    "order_placed": 10,
    "order_cancelled": 20,
    "order_fulfilled": 30,
    "order_returned": 40,
    "order_refunded": 50,
    "catalog": 60,
    "inventory": 70,
}

URGENT_EVENTS = {"consent", "order_placed"}
CHANNEL_URGENT = "root.esp_sync.urgent"
CHANNEL_BULK = "root.esp_sync.bulk"
PRIORITY_URGENT = 5
PRIORITY_BULK = 50

# Retries of retryable ESP errors (429, 5xx, network), in seconds.
RETRY_BASE_SECONDS = 30
RETRY_CAP_SECONDS = 3600
MAX_ATTEMPTS = 8

ERROR_CATEGORIES = [
    ("data", "Data"),
    ("configuration", "Configuration"),
    ("rate_limit", "Rate limit"),
    ("transient", "Transient"),
    ("authentication", "Authentication"),
]

TEAMS = [
    ("marketing", "Marketing"),
    ("operations", "Operations"),
    ("it", "IT"),
]

# Who fixes what: marketing owns audience data, IT owns configuration and
# credentials, operations watch the backlog (rate limits, outages).
CATEGORY_TEAM = {
    "data": "marketing",
    "configuration": "it",
    "authentication": "it",
    "rate_limit": "operations",
    "transient": "operations",
}

# People with an email, no internal user, who bought, were invoiced or opted
# in; the companies' own partners are excluded in code.
DEFAULT_PARTNER_DOMAIN = (
    "[('email', '!=', False), ('partner_share', '=', True), '|', '|', "
    "('customer_rank', '>', 0), ('sale_order_ids', '!=', False), "
    "('esp_marketing_opt_in', '=', True)]"
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

# Context key set by the sync itself so its own writes are not captured again.
NO_CAPTURE = "esp_sync_no_capture"

# Historical backfill: records per bulk call, within each ESP's limits
# (Klaviyo: 10,000 profiles / 1,000 events and 5 MB per job; Mailchimp: 500
# operations per batch we send; Dotdigital: 500 contacts per import).
BACKFILL_CHUNK = {
    "klaviyo": {"profiles": 1000, "orders": 200},
    "mailchimp": {"profiles": 500, "orders": 200},
    "dotdigital": {"profiles": 500, "orders": 500},
}
BACKFILL_POLL_SECONDS = 10
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
