"""Klaviyo constants: API revision, paths, metric names and limits."""

from ..events import EventKind

BASE_URL = "https://a.klaviyo.com"
API_REVISION = "2026-07-15"
MEDIA_TYPE = "application/vnd.api+json"
AUTH_SCHEME = "Klaviyo-API-Key"

# --- paths (relative to the base URL) ------------------------------------------
PATH_ACCOUNTS = "/api/accounts"
PATH_PROFILES = "/api/profiles"
PATH_PROFILE_IMPORT = "/api/profile-import"
PATH_SUBSCRIBE_JOBS = "/api/profile-subscription-bulk-create-jobs"
PATH_UNSUBSCRIBE_JOBS = "/api/profile-subscription-bulk-delete-jobs"
PATH_SUPPRESS_JOBS = "/api/profile-suppression-bulk-create-jobs"
PATH_UNSUPPRESS_JOBS = "/api/profile-suppression-bulk-delete-jobs"
PATH_EVENTS = "/api/events"
PATH_DELETION_JOBS = "/api/data-privacy-deletion-jobs"
PATH_BACK_IN_STOCK = "/api/back-in-stock-subscriptions"
PATH_EVENT_BULK_JOBS = "/api/event-bulk-create-jobs"
PATH_CATALOG_ITEMS = "/api/catalog-items"
PATH_CATALOG_ITEM = "/api/catalog-items/{id}"
PATH_CATALOG_VARIANTS = "/api/catalog-variants"
PATH_CATALOG_VARIANT = "/api/catalog-variants/{id}"
PATH_PROFILE_IMPORT_JOBS = "/api/profile-bulk-import-jobs"
PATH_PROFILE_IMPORT_JOB = "/api/profile-bulk-import-jobs/{id}"
PATH_PROFILE_IMPORT_ERRORS = "/api/profile-bulk-import-jobs/{id}/import-errors"

# --- metrics -------------------------------------------------------------------
METRIC_BY_KIND = {
    EventKind.PLACED: "Placed Order",
    EventKind.RELEASED: "Order Confirmed",
    EventKind.CANCELLED: "Cancelled Order",
    EventKind.FULFILLED: "Fulfilled Order",
    EventKind.REFUNDED: "Refunded Order",
    EventKind.RETURNED: "Returned Items",
}
METRIC_ORDERED_PRODUCT = "Ordered Product"

# --- profile properties --------------------------------------------------------
TAGS_PROPERTY = "Odoo Tags"
RAW_PHONE_PROPERTY = "Odoo Phone"
CUSTOMER_TYPE_PROPERTY = "Odoo Customer Type"

# --- catalogue -----------------------------------------------------------------
# Catalog ids are "<integration_type>:::<catalog_type>:::<external_id>".
CATALOG_ID_PREFIX = "$custom:::$default:::"
INTEGRATION_TYPE = "$custom"
CATALOG_TYPE = "$default"
# 1: hide out-of-stock variants from product feeds; 0/2: show regardless.
DEFAULT_INVENTORY_POLICY = 1

# --- limits (from the operations' descriptions in the 2026-07-15 spec) ----------
MAX_BULK_PROFILES = 10_000
MAX_BULK_BYTES = 5 * 1024 * 1024
MAX_PROFILE_BYTES = 100 * 1024
MAX_BULK_EVENTS = 1_000
PAGE_SIZE = 100
MAX_PAGES = 500

# --- bulk jobs -----------------------------------------------------------------
# Klaviyo has no status endpoint for event bulk jobs: their BulkJob ids carry
# this prefix and are reported complete once accepted (202).
EVENT_JOB_PREFIX = "event-bulk-create-job:"
JOB_STATUS = {
    "queued": "queued",
    "processing": "processing",
    "complete": "complete",
    "cancelled": "cancelled",
}

# --- consent from Klaviyo --------------------------------------------------------
# Global suppression reasons -> ConsentUpdate.status
SUPPRESSION_STATUS = {
    "UNSUBSCRIBE": "unsubscribed",
    "HARD_BOUNCE": "cleaned",
    "INVALID_EMAIL": "cleaned",
    "SPAM_COMPLAINT": "suppressed",
    "SPAM_REPORT": "suppressed",
    "USER_SUPPRESSED": "suppressed",
}
SUPPRESSION_TIMESTAMP_FIELD = "subscriptions.email.marketing.suppression.timestamp"
LIST_SUPPRESSION_TIMESTAMP_FIELD = (
    "subscriptions.email.marketing.list_suppressions.timestamp"
)

# --- webhooks (system webhooks, signed with the endpoint's secret key) ----------
WEBHOOK_SIGNATURE_HEADER = "klaviyo-signature"
WEBHOOK_TIMESTAMP_HEADER = "klaviyo-timestamp"
WEBHOOK_ID_HEADER = "klaviyo-webhook-id"
TOPIC_BOUNCED = "event:klaviyo.bounced_email"
TOPIC_SUPPRESSED = "event:klaviyo.suppressed_email"
WEBHOOK_TOPIC_STATUS = {
    "event:klaviyo.unsubscribed_from_email_marketing": "unsubscribed",
    "event:klaviyo.unsubscribed": "unsubscribed",
    "event:klaviyo.unsubscribed_from_list": "unsubscribed",
    "event:klaviyo.marked_email_as_spam": "suppressed",
    "event:klaviyo.subscribed_to_email_marketing": "subscribed",
    TOPIC_BOUNCED: "cleaned",  # hard bounces only
    TOPIC_SUPPRESSED: "suppressed",  # refined by the event's reason
}
