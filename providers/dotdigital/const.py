"""Dotdigital API constants: endpoints, limits and status maps."""

DEFAULT_BASE_URL = "https://r1-api.dotdigital.com"
API_ENDPOINT_PROPERTY = "ApiEndpoint"
EXTRA_API_ENDPOINT = "api_endpoint"

ACCOUNT_INFO = "/v2/account-info"
DATA_FIELDS = "/v2/data-fields"
CONTACT = "/contacts/v3/email/{email}"
CONTACT_IMPORT = "/contacts/v3/import"
CONTACT_IMPORT_STATUS = "/contacts/v3/import/{import_id}"
INSIGHT_CONTACT_RECORD = (
    "/insightData/v3/contacts/email/{email}/{collection}/{record_id}"
)
INSIGHT_ACCOUNT_RECORD = "/insightData/v3/account/{collection}/{record_id}"
INSIGHT_COLLECTION = "/insightData/v3/collections/{collection}"
INSIGHT_IMPORT = "/insightData/v3/import"
INSIGHT_IMPORT_STATUS = "/insightData/v3/import/{import_id}"
SUPPRESSED_SINCE = "/v2/contacts/suppressed-since/{date}"
UNSUBSCRIBED_SINCE = "/v2/contacts/unsubscribed-since/{date}"

MERGE_OPTION = "overwrite"  # PATCH query value
IMPORT_MERGE_OPTION = "overwrite"  # import body value
ORDERS_COLLECTION = "Orders"
CATALOG_COLLECTION = "Catalog"
ORDERS_COLLECTION_TYPE = "orders"
PAGE_SIZE = 1000
IMPORT_MAX_CONTACTS = 500
DATA_FIELD_MAX_LENGTH = 20

# Default data fields every Dotdigital account has.
FIELD_FIRSTNAME = "FIRSTNAME"
FIELD_LASTNAME = "LASTNAME"
FIELD_FULLNAME = "FULLNAME"
FIELD_POSTCODE = "POSTCODE"
STANDARD_FIELDS = (FIELD_FIRSTNAME, FIELD_LASTNAME, FIELD_FULLNAME, FIELD_POSTCODE)

# Email channel statuses Odoo writes.
EMAIL_SUBSCRIBED = "subscribed"
EMAIL_UNSUBSCRIBED = "unsubscribed"
EMAIL_SUPPRESSED = "suppressed"
OPT_IN_TYPE = "single"
# Double opt-in: Dotdigital emails the confirmation link.
OPT_IN_TYPE_DOUBLE = "verifiedDouble"
EMAIL_PENDING = "pendingOptIn"

# A new contact Odoo holds no opt-in for (``settings.extra["never_opted_in"]``):
# "neutral", Dotdigital's default status (subscribed) outside the marketing
# address book, so a later opt-in, even one imported in Dotdigital, is never
# blocked; or "unsubscribed" (on the account's suppression list).
EXTRA_NEVER_OPTED_IN = "never_opted_in"
NEVER_NEUTRAL = "neutral"
NEVER_UNSUBSCRIBED = "unsubscribed"

# Bulk job ids carry their kind: "contacts:<id>" / "insight:<id>".
JOB_CONTACTS = "contacts"
JOB_INSIGHT = "insight"
IMPORT_STATUS = {
    "NotStarted": "queued",
    "NotFinished": "processing",
    "Processing": "processing",
    "Finished": "complete",
    "Complete": "complete",
    "Failed": "failed",
    "RejectedByWatchdog": "failed",
    "ExceedsAllowedContactLimit": "failed",
}

# Order record status by state.
ORDER_PLACED = "placed"
ORDER_CANCELLED = "cancelled"
ORDER_FULFILLED = "fulfilled"
ORDER_PARTIALLY_REFUNDED = "partially refunded"
ORDER_REFUNDED = "refunded"
ORDER_RETURNED = "returned"

# Error codes set on EspError.code
CODE_INVALID_EMAIL = "invalid_email"
CODE_CONTACT_NOT_FOUND = "insightData:contactNotFound"
CODE_COLLECTION_NOT_FOUND = "insightData:collectionNotFound"
CODE_ID_EXISTS = "contacts:idAlreadyExists"
CODE_INVALID_FIELD = "invalid_data_field"
CODE_FIELD_MISSING = "data_field_missing"
FIELD_MISSING_PATTERN = r"(does not|doesn't) exist|unknown|not found"

SKIP_NEVER = "No opt-in recorded in Odoo: Dotdigital consent left unchanged"
