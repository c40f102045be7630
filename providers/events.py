"""Plain values the engine prepares from Odoo records for the adapters.

These are the contract between the Odoo side and the ESP packages: the
engine fills them, adapters turn them into ESP payloads. Amounts are floats
in the document currency; datetimes are timezone-aware UTC.
"""

import dataclasses
import datetime
import enum


class EventKind(str, enum.Enum):
    """Order lifecycle events, in the order they must reach an ESP."""

    PLACED = "placed"
    RELEASED = "released"  # passed the release gate: post-purchase flows start
    CANCELLED = "cancelled"
    FULFILLED = "fulfilled"
    REFUNDED = "refunded"
    RETURNED = "returned"


class ConsentStatus(str, enum.Enum):
    """Odoo's view of a person's marketing consent."""

    SUBSCRIBED = "subscribed"  # explicit opt-in recorded in Odoo
    UNSUBSCRIBED = "unsubscribed"  # opted out / withdrew consent
    NEVER = "never"  # no opt-in recorded: never subscribe


@dataclasses.dataclass(frozen=True)
class Address:
    street: str = ""
    street2: str = ""
    city: str = ""
    zip: str = ""
    region: str = ""
    country: str = ""
    country_code: str = ""


@dataclasses.dataclass(frozen=True)
class Profile:
    """A person as the ESP should see them, keyed by normalised email."""

    email: str
    external_id: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    organization: str = ""
    address: Address = None
    properties: dict = dataclasses.field(default_factory=dict)
    tags: tuple = ()
    customer_type: str = "b2c"  # b2c / b2b
    consent: "Consent" = None
    # Mailchimp audience routing: the audience the person was written to
    # until now; the member moves (status kept) and is archived there.
    moved_from: str = ""


@dataclasses.dataclass(frozen=True)
class Consent:
    """Odoo's consent for one email, with its evidence."""

    email: str
    external_id: str
    status: ConsentStatus
    consented_at: datetime.datetime = None
    source: str = "Odoo"
    suppressed: bool = False  # blacklisted: no email of any kind
    # The ESP was last told "suppressed" and Odoo's blacklist entry is gone:
    # lift the suppression (ESPs that cannot, ignore it).
    lift_suppression: bool = False


@dataclasses.dataclass(frozen=True)
class OrderLine:
    line_id: str
    product_id: str
    sku: str
    name: str
    quantity: float
    unit_price: float
    total: float
    variant_id: str = ""
    product_url: str = ""
    image_url: str = ""
    categories: tuple = ()


@dataclasses.dataclass(frozen=True)
class Order:
    """Snapshot of the sale order an event belongs to."""

    order_id: str  # stable id at the ESP (the Odoo order id, as text)
    name: str
    email: str
    external_id: str  # the customer's profile external id
    placed_at: datetime.datetime
    currency: str
    total: float
    untaxed: float
    tax: float
    shipping: float
    lines: tuple = ()  # OrderLine
    refunded_total: float = 0.0
    financial_status: str = "paid"  # pending / paid / refunded / cancelled
    fulfillment_status: str = ""  # "" / partial / shipped
    billing_address: Address = None
    shipping_address: Address = None
    # The backend's release gate let post-purchase flows start (None: held,
    # or no gate).
    released_at: datetime.datetime = None
    # The customer was erased and the backend sends their orders without
    # personal data: no email, external id or address; the ESP files the
    # order under this opaque id (Klaviyo's anonymous profile).
    anonymous_id: str = ""


@dataclasses.dataclass(frozen=True)
class OrderEvent:
    """One lifecycle event of an order.

    ``unique_id`` is the deterministic idempotency key (the ESP de-duplicates
    on it); ``value`` and ``lines`` are what this event is about (the whole
    order when placed, the shipped lines of one picking when fulfilled, the
    refunded amount and lines of a credit note when refunded).
    """

    kind: EventKind
    unique_id: str
    order: Order
    occurred_at: datetime.datetime
    value: float
    lines: tuple = ()
    reference: str = ""  # picking / credit note name
    backfill: bool = False
    properties: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CatalogVariant:
    external_id: str
    sku: str
    title: str
    price: float
    inventory_quantity: float
    url: str = ""
    image_url: str = ""


@dataclasses.dataclass(frozen=True)
class CatalogItem:
    external_id: str
    title: str
    description: str
    url: str
    image_url: str
    price: float
    currency: str
    sku: str = ""
    variants: tuple = ()  # CatalogVariant
    categories: tuple = ()


@dataclasses.dataclass(frozen=True)
class InventoryLevel:
    variant_external_id: str
    sku: str
    quantity: float
    product_external_id: str = ""  # the template (Mailchimp's product id)


@dataclasses.dataclass(frozen=True)
class CatalogRemoval:
    """A product (template) no longer sold: archived, deleted or out of the
    backend's catalogue. The ESP removes it with its variants."""

    external_id: str
    title: str = ""


@dataclasses.dataclass(frozen=True)
class CatalogVariantRemoval:
    """A variant deleted from a product still sold: the ESP drops it."""

    external_id: str
    product_external_id: str


@dataclasses.dataclass(frozen=True)
class RemoteProfile:
    """A person as the ESP holds them, read back for reconciliation.

    ``consent``: subscribed / unsubscribed / suppressed / never (the ESP's
    neutral state); ``properties``: the ESP's values of the property names
    asked for, keyed by those Odoo names (absent: the ESP has none).
    """

    email: str
    consent: str
    first_name: str = ""
    last_name: str = ""
    properties: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class BackInStockRequest:
    """A customer asks to be told when a variant is back in stock."""

    email: str
    variant_external_id: str


@dataclasses.dataclass(frozen=True)
class Erasure:
    """Right to erasure: delete the person at the ESP, for good.

    ``email`` is the address the ESP knows them by (captured when the
    erasure was asked, so it works after the Odoo record is gone);
    ``audiences``: every Mailchimp audience they may be in.
    """

    email: str
    audiences: tuple = ()


@dataclasses.dataclass(frozen=True)
class EmailChange:
    """A person's address changed in Odoo: move them at the ESP, never copy.

    ``profile`` carries the new address and everything else; ``old_email``
    is the address the ESP knows them by; ``esp_id`` is the ESP's own id of
    that person when Odoo has it (Klaviyo profile id, Mailchimp member hash).
    """

    old_email: str
    profile: Profile
    esp_id: str = ""


@dataclasses.dataclass(frozen=True)
class ConsentUpdate:
    """A consent change made at the ESP, to be applied in Odoo."""

    email: str
    status: str  # unsubscribed / cleaned / suppressed / subscribed
    occurred_at: datetime.datetime
    reason: str = ""
    provider_ref: str = ""  # list id / webhook id, for echo detection
    # email, or sms: an SMS opt-out clears the SMS opt-in only (``phone``:
    # the number, E.164), never the email consent.
    channel: str = "email"
    phone: str = ""


@dataclasses.dataclass(frozen=True)
class SmsConsent:
    """Odoo's SMS marketing consent for one person's mobile number.

    ``phone``: the number in E.164 (``+32475123456``); ``email`` keeps the
    ESP's one person per address (the profile the number belongs to);
    ``country_code``: ISO 3166-1 alpha-2 of the number's country, when known.
    """

    email: str
    external_id: str
    phone: str
    status: ConsentStatus
    consented_at: datetime.datetime = None
    source: str = "Odoo"
    country_code: str = ""


@dataclasses.dataclass(frozen=True)
class RemoteOrder:
    """An order as the ESP holds it, read back for reconciliation.

    ``status``: placed / cancelled / the ESP's financial status (paid,
    pending, refunded, partially_refunded); ``total``: the order's value as
    placed, or net of refunds when ``refunded`` is None (Mailchimp keeps only
    the net figure); ``placed_at``: an aware datetime, or None; ``editable``:
    the ESP updates an order in place (Mailchimp, Dotdigital), so sending it
    again corrects it (Klaviyo's events are immutable).
    """

    order_id: str
    status: str
    total: float
    refunded: float = None
    placed_at: datetime.datetime = None
    email: str = ""
    editable: bool = False
