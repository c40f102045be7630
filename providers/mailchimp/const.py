"""Mailchimp Marketing API constants: paths, limits and status maps."""

API_PREFIX = "/3.0"
DEFAULT_BASE_URL = "https://{dc}.api.mailchimp.com"
AUTH_USER = "esp_sync"

PING = "/3.0/ping"
LIST = "/3.0/lists/{list_id}"
MEMBERS = "/3.0/lists/{list_id}/members"
MEMBER = "/3.0/lists/{list_id}/members/{subscriber_hash}"
MEMBER_TAGS = "/3.0/lists/{list_id}/members/{subscriber_hash}/tags"
MERGE_FIELDS = "/3.0/lists/{list_id}/merge-fields"
WEBHOOKS = "/3.0/lists/{list_id}/webhooks"
STORES = "/3.0/ecommerce/stores"
STORE = "/3.0/ecommerce/stores/{store_id}"
CUSTOMER = "/3.0/ecommerce/stores/{store_id}/customers/{customer_id}"
PRODUCT = "/3.0/ecommerce/stores/{store_id}/products/{product_id}"
ORDERS = "/3.0/ecommerce/stores/{store_id}/orders"
ORDER = "/3.0/ecommerce/stores/{store_id}/orders/{order_id}"
BATCHES = "/3.0/batches"
BATCH = "/3.0/batches/{batch_id}"

# Member statuses a new member may get; an existing member's is never written.
STATUS_NEW_SUBSCRIBED = "subscribed"
STATUS_NEW_TRANSACTIONAL = "transactional"
STATUS_PENDING = "pending"  # double opt-in: awaiting the confirmation

# Merge tags Odoo fills itself; custom ones come from Profile.properties.
MERGE_FNAME = "FNAME"
MERGE_LNAME = "LNAME"
MERGE_PHONE = "PHONE"
MERGE_ADDRESS = "ADDRESS"
STANDARD_MERGE_TAGS = (MERGE_FNAME, MERGE_LNAME, MERGE_PHONE, MERGE_ADDRESS)
MERGE_TAG_MAX_LENGTH = 10

PAGE_SIZE = 1000
BATCH_MAX_OPERATIONS = 500
CUSTOMER_ID_MAX_LENGTH = 50

# Mailchimp batch status -> BulkJob.status
BATCH_STATUS = {
    "pending": "queued",
    "preprocessing": "queued",
    "started": "processing",
    "finalizing": "processing",
    "finished": "complete",
}

# Consent statuses read back from Mailchimp (it owns them).
CONSENT_STATUSES_POLLED = ("unsubscribed", "cleaned")
WEBHOOK_STATUS = {
    "unsubscribe": "unsubscribed",
    "cleaned": "cleaned",
    "subscribe": "subscribed",
}
WEBHOOK_EVENTS = ("subscribe", "unsubscribe", "cleaned", "profile", "upemail")
WEBHOOK_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Error codes set on EspError.code
CODE_MERGE_FIELD_MISSING = "merge_field_missing"
CODE_INVALID_MERGE_TAG = "invalid_merge_tag"
CODE_MEMBER_EXISTS = "member_exists"
CODE_COMPLIANCE_STATE = "member_in_compliance_state"
CODE_ALREADY_EXISTS = "already_exists"
CODE_INVALID_EMAIL = "invalid_email"
CODE_THROTTLED = "throttled"

TITLE_MEMBER_EXISTS = "member exists"
TITLE_COMPLIANCE = "member in compliance state"
THROTTLE_PATTERN = (
    r"too many|throttl|rate.?limit|simultaneous connections|exceeded the limit"
)
MISSING_MERGE_PATTERN = (
    r"merge field.*(does not|doesn't|not) exist|(does not|doesn't) exist"
    r"|unknown merge|not found|no such|missing merge"
)
ALREADY_EXISTS_PATTERN = r"already exists"

SKIP_CONSENT = "Mailchimp owns subscription status"
SKIP_RETURNED = "Mailchimp has no return status; the refund carries the amounts"
