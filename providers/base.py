"""The adapter interface every ESP implements, and its one request path.

Nothing here imports Odoo: the engine hands adapters plain values (see
``events.py``) and adapters answer with :class:`DeliveryResult` or raise an
:class:`EspError` (``errors.py``) whose ``category`` tells the engine what to
do next.
"""

import abc
import dataclasses
import re

from .errors import ErrorCategory, EspError, category_for_status, redact
from .http import HttpTransport, parse_rate_limit, parse_retry_after, throttle_wait
from .wire import response_json

__all__ = [
    "BackendSettings",
    "BulkJob",
    "DeliveryResult",
    "ErrorCategory",
    "EspAdapter",
    "EspError",
    "category_for_status",
    "is_usable_email",
    "named_properties",
    "redact",
]

# An address every ESP accepts and mail can reach: a dot-atom local part
# (RFC 5322, no quoting, no comments) and a domain of hostname labels (no
# empty label, no hyphen at either end, no IP literal) with an alphabetic or
# punycode top-level domain.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
_TLD = r"(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
EMAIL_SHAPE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TLD}")
EMAIL_MAX_LENGTH = 254


CODE_INVALID_EMAIL = "invalid_email"


def is_usable_email(email):
    """True when ``email`` is exactly a deliverable address, as typed.

    No normaliser runs first: anything that would need rewriting (spaces,
    several ``@``, display names, ``mailto:``, markup) is refused, and so are
    shape-valid but undeliverable domains (``bar..com``, ``-bad-.com``,
    ``[127.0.0.1]``).
    """
    return bool(
        email
        and len(email) <= EMAIL_MAX_LENGTH
        and len(email.partition("@")[0]) <= 64
        and EMAIL_SHAPE.fullmatch(email)
    )


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
    klaviyo_revision: str = ""  # empty: klaviyo.const.API_REVISION
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
    # Seconds to wait after a rate limit that names no wait (None: the engine's).
    rate_limit_wait = None

    def __init__(self, settings, transport=None):
        self.settings = settings
        self.transport = transport or HttpTransport(timeout=settings.timeout)
        self._count = 0
        self.last_rate_limit = {}

    def _start(self):
        """Start counting the requests of one delivery."""
        self._count = 0
        self.last_rate_limit = {}

    def _result(self, **values):
        """A DeliveryResult with the delivery's request count and, when the
        ESP sent them, its rate-limit headers (``detail["rate_limit"]``)."""
        result = DeliveryResult(requests=self._count, **values)
        if any(value is not None for value in self.last_rate_limit.values()):
            result.detail.setdefault("rate_limit", dict(self.last_rate_limit))
        return result

    # --- the request path ---------------------------------------------------
    def _send(self, method, path, *, json=None, params=None):
        """Send one request to the ESP; return the response (status < 400).

        The one request path of every adapter: counts the request, applies
        the transport's timeout, records the rate-limit headers and raises a
        classified :class:`EspError` (without credentials) for network
        failures and error answers.
        """
        url, options = self._prepare_request(method, path, json)
        self._count += 1
        try:
            response = self.transport.send(method, url, params=params, **options)
        except EspError as exc:
            exc.redact(self.settings.secrets)
            raise
        self.last_rate_limit = parse_rate_limit(response.headers)
        if response.status_code >= 400:
            raise self._classify(response)
        return response

    def _request(self, method, path, *, json=None, params=None):
        """:meth:`_send` and return the decoded JSON body (``{}`` when none)."""
        return response_json(self._send(method, path, json=json, params=params))

    def _delete_if_present(self, path):
        """DELETE ``path``; False when the ESP did not have it (404), which
        for a removal means already gone."""
        try:
            self._request("DELETE", path)
        except EspError as error:
            if error.status != 404:
                raise
            return False
        return True

    def _prepare_request(self, method, path, body):
        """Return ``(url, transport options)`` for one request: the ESP's URL,
        auth and headers, and ``body`` encoded. Raise a configuration
        :class:`EspError` when credentials are missing."""
        url = self.settings.base_url.rstrip("/") + path
        return url, {"json": body, "headers": {"Accept": "application/json"}}

    def _error_from_response(self, response):
        """Classify an error answer (status >= 400) as an :class:`EspError`.

        ESPs word their errors differently and override this; the wait before
        a retry is filled in by :meth:`_classify` when left ``None``.
        """
        return EspError(
            f"{self.provider} answered HTTP {response.status_code}",
            category=category_for_status(response.status_code),
            status=response.status_code,
        )

    def _classify(self, response):
        error = self._error_from_response(response).redact(self.settings.secrets)
        if error.retry_after is None:
            if error.category == ErrorCategory.RATE_LIMIT:
                error.retry_after = throttle_wait(
                    response.headers, default=self.rate_limit_wait
                )
            elif error.category == ErrorCategory.TRANSIENT:
                error.retry_after = parse_retry_after(response.headers)
        return error

    @staticmethod
    def _email(email):
        """The normalised email, or a DATA error before any request."""
        value = (email or "").strip().lower()
        if not is_usable_email(value):
            raise EspError(
                f"{email!r} is not a valid email address",
                category=ErrorCategory.DATA,
                field="email",
                code=CODE_INVALID_EMAIL,
            )
        return value

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

    def read_consent(self, email):
        """The ESP's current opt-out of ``email``, as a ``ConsentUpdate``.

        Read before an opt-in is delivered where Odoo masters opt-ins, so an
        opt-out made at the ESP and not heard yet is never overwritten.
        ``None``: subscribed, unknown to the ESP, or not readable here.
        """
        return None

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

    def read_profiles(self, emails, property_names=()):
        """``{email: RemoteProfile}`` for the ``emails`` the ESP knows (the
        others are absent), with the values of ``property_names``: what the
        reconciliation compares with Odoo."""
        raise EspError(
            f"{self.provider} cannot read profiles back yet",
            category=ErrorCategory.CONFIGURATION,
            code="read_unsupported",
        )

    def subscribe_back_in_stock(self, request):
        """Register a customer for a variant's back-in-stock alert
        (:class:`events.BackInStockRequest`), where the ESP has such a list."""
        raise EspError(
            f"{self.provider} has no back-in-stock subscriptions",
            category=ErrorCategory.CONFIGURATION,
            code="back_in_stock_unsupported",
        )

    def erase_profile(self, erasure):
        """Delete the person for good (:class:`events.Erasure`): the ESP's
        own deletion request; a person it does not know is no error."""
        raise EspError(
            f"{self.provider} cannot erase a person yet",
            category=ErrorCategory.CONFIGURATION,
            code="erasure_unsupported",
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

    # --- SMS consent ------------------------------------------------------------
    def update_sms_consent(self, consent):
        """Write Odoo's SMS marketing consent (:class:`events.SmsConsent`).

        ESPs without SMS consent in their API (Mailchimp's Marketing API)
        keep this default: nothing is sent.
        """
        return DeliveryResult(
            skipped_reason=f"{self.provider.title()} has no SMS consent in its API.",
            requests=0,
        )

    def read_sms_consent(self, email):
        """The person's SMS opt-out at the ESP (``ConsentUpdate`` with
        ``channel="sms"``), or None: read before an SMS opt-in is sent."""
        return None

    def read_subscription(self, email):
        """Where ``email`` stands at the ESP: subscribed / pending (awaiting
        the double opt-in confirmation) / unsubscribed / never, or ``None``
        (unknown there, or not readable): how a double opt-in confirmation
        is read back."""
        return None

    # --- catalogue removal (issue 11) ----------------------------------------
    def remove_catalog_item(self, removal):
        """Remove a product and its variants (:class:`events.CatalogRemoval`)
        from the ESP's catalogue; one it does not have is no error."""
        return DeliveryResult(skipped_reason="catalogue not supported", requests=0)

    def remove_catalog_variant(self, removal):
        """Remove one variant (:class:`events.CatalogVariantRemoval`) of a
        product the ESP keeps; one it does not have is no error."""
        return DeliveryResult(skipped_reason="catalogue not supported", requests=0)

    # --- reconciliation of orders and extra contacts -------------------------
    def read_orders(self, since, until):
        """``{order_id: RemoteOrder}`` of the orders placed in ``[since,
        until)`` (aware datetimes) as the ESP holds them, read through its
        list endpoints with paging; ``None``: this ESP cannot report its
        orders (the reconciliation says so instead of comparing)."""
        return None

    def read_contacts_page(self, cursor=None):
        """One page of the addresses the ESP knows: ``(emails, next_cursor)``,
        ``next_cursor`` None after the last page; ``None``: not listable."""
        return None
