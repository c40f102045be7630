"""The adapter interface every ESP implements, and the errors it raises.

Nothing here imports Odoo: the engine hands adapters plain values (see
``events.py``) and adapters answer with :class:`DeliveryResult` or raise an
:class:`EspError` whose ``category`` tells the engine what to do next.
"""

import abc
import dataclasses
import enum
import re

# An address every ESP accepts: one @, a local part and a dotted domain.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")


def is_usable_email(email):
    """True when ``email`` has the shape every ESP accepts."""
    return bool(email and EMAIL_SHAPE.match(email))


class ErrorCategory(str, enum.Enum):
    """Why a delivery failed; decides retry or exception, and the owner team."""

    DATA = "data"
    CONFIGURATION = "configuration"
    RATE_LIMIT = "rate_limit"
    TRANSIENT = "transient"
    AUTHENTICATION = "authentication"

    @property
    def retryable(self):
        return self in (ErrorCategory.RATE_LIMIT, ErrorCategory.TRANSIENT)


class EspError(Exception):
    """A failed ESP call, classified. Messages never carry credentials."""

    def __init__(
        self,
        message,
        *,
        category,
        status=None,
        field=None,
        code=None,
        retry_after=None,
    ):
        super().__init__(message)
        self.message = message
        self.category = ErrorCategory(category)
        self.status = status
        self.field = field
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self):
        return self.category.retryable

    def __str__(self):
        prefix = f"HTTP {self.status}: " if self.status else ""
        suffix = f" (field: {self.field})" if self.field else ""
        return f"{prefix}{self.message}{suffix}"


def category_for_status(status):
    """Map an HTTP status to the error category the engine acts on."""
    if status == 429:
        return ErrorCategory.RATE_LIMIT
    if status in (401, 403):
        return ErrorCategory.AUTHENTICATION
    if status >= 500 or status in (408, 409, 423):
        return ErrorCategory.TRANSIENT
    if status == 404:
        return ErrorCategory.CONFIGURATION
    return ErrorCategory.DATA


def redact(text, secrets):
    """Return ``text`` with every non-empty secret replaced by ``***``."""
    text = str(text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    # Authorization headers that slipped into a message, whatever the scheme.
    return re.sub(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)[^'\",}]+", r"\1***", text)


def named_properties(properties, to_name, reserved, kind, code):
    """Yield ``(key, name, value)``: each property with its ESP field name.

    ``to_name`` turns a property key into the ESP's name (merge tag, data
    field); two keys landing on one name, or on a ``reserved`` one, is a
    configuration error naming both.
    """
    seen = set(reserved)
    for key, value in (properties or {}).items():
        name = to_name(key)
        if name in seen:
            raise EspError(
                f"Property {key!r} maps to {kind} {name}, which another value "
                "already uses; rename one of them",
                category=ErrorCategory.CONFIGURATION,
                field=str(key),
                code=code,
            )
        seen.add(name)
        yield key, name, value


@dataclasses.dataclass(frozen=True)
class BackendSettings:
    """What an adapter needs to know about one backend, credentials included.

    Built by the job at delivery time from the backend record; never stored in
    job arguments. ``repr`` hides the credentials.
    """

    provider: str
    base_url: str
    api_key: str = dataclasses.field(default="", repr=False)
    api_user: str = ""
    api_secret: str = dataclasses.field(default="", repr=False)
    klaviyo_revision: str = "2026-07-15"
    klaviyo_list_id: str = ""
    mailchimp_list_id: str = ""
    mailchimp_store_id: str = ""
    dotdigital_region: str = ""
    dotdigital_address_book_id: str = ""
    consent_source: str = "Odoo"
    webhook_secret: str = dataclasses.field(default="", repr=False)
    timeout: float = 20.0
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def secrets(self):
        return (self.api_key, self.api_secret, self.webhook_secret)


@dataclasses.dataclass
class DeliveryResult:
    """What a successful delivery tells the engine."""

    external_id: str = ""
    skipped_reason: str = ""
    requests: int = 1
    detail: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class BulkJob:
    """An asynchronous bulk operation at the ESP (import job, batch)."""

    job_id: str
    status: str = "queued"  # queued / processing / complete / failed
    total: int = 0
    completed: int = 0
    failed: int = 0
    errors: list = dataclasses.field(default_factory=list)  # [(email/key, msg)]

    @property
    def done(self):
        return self.status in ("complete", "failed", "cancelled")


class EspAdapter(abc.ABC):
    """One ESP behind one small interface.

    Each method takes plain values prepared by the engine, builds the ESP
    payload (pydantic models in the provider package) and sends it through
    the provider's single request method. Methods an ESP has no notion of
    return a ``DeliveryResult`` with ``skipped_reason`` set.
    """

    provider = None

    def __init__(self, settings, transport=None):
        from .http import HttpTransport

        self.settings = settings
        self.transport = transport or HttpTransport(timeout=settings.timeout)
        self._count = 0

    def _start(self):
        """Start counting the requests of one delivery."""
        self._count = 0

    def _result(self, **values):
        """A DeliveryResult carrying how many requests the delivery took."""
        return DeliveryResult(requests=self._count, **values)

    # --- connection ---------------------------------------------------------
    @abc.abstractmethod
    def test_connection(self):
        """Check credentials; return a short account description."""

    # --- Odoo -> ESP --------------------------------------------------------
    @abc.abstractmethod
    def upsert_profile(self, profile):
        """Create or update the profile/member/contact keyed by email."""

    @abc.abstractmethod
    def update_consent(self, consent):
        """Deliver an Odoo consent change (subscribe, unsubscribe, suppress)."""

    @abc.abstractmethod
    def send_order_event(self, event):
        """Deliver one order lifecycle event (:class:`events.OrderEvent`)."""

    def change_email(self, change):
        """Move a person to a new address (:class:`events.EmailChange`).

        The person keeps their history, id and consent (never upgraded): the
        ESP must end with one person at the new address, none at the old.
        """
        raise EspError(
            f"{self.provider} cannot change an email address yet",
            category=ErrorCategory.CONFIGURATION,
            code="email_change_unsupported",
        )

    def upsert_catalog_item(self, item):
        """Create or update a product (template with variants)."""
        return DeliveryResult(skipped_reason="catalogue not supported", requests=0)

    def update_inventory(self, levels):
        """Push inventory quantities for the given variants only."""
        return DeliveryResult(skipped_reason="inventory not supported", requests=0)

    # --- bulk ---------------------------------------------------------------
    def begin_backfill(self):  # noqa: B027 (optional hook, no-op by default)
        """Tell the ESP a historical load starts (so automations hold off)."""

    def end_backfill(self):  # noqa: B027
        """Tell the ESP the historical load is over."""

    def bulk_import_profiles(self, profiles):
        """Start an asynchronous bulk profile import; return a BulkJob."""
        raise NotImplementedError

    def bulk_send_events(self, events):
        """Start an asynchronous bulk event import (backfill); return a BulkJob."""
        raise NotImplementedError

    def get_bulk_job(self, job):
        """Refresh a BulkJob's status and per-record errors."""
        raise NotImplementedError

    # --- ESP -> Odoo --------------------------------------------------------
    def fetch_consent_updates(self, since):
        """Return :class:`events.ConsentUpdate` made in the ESP after ``since``."""
        return []

    def parse_webhook(self, headers, body):
        """Verify and parse a webhook call into ConsentUpdate values.

        Raises :class:`EspError` (category authentication) when the signature
        or token does not match.
        """
        return []
