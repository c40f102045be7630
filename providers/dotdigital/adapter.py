"""Dotdigital adapter: contacts and consent (v3), order insight data, v2 polls.

Odoo masters consent here, but only through consent events. Dotdigital
creates a contact whose email status is not given as *subscribed*, so a
profile upsert writes the status only for a NEW contact (Odoo's opt-in, else
``unsubscribed``). An existing contact's status, e.g. an unsubscribe made in
Dotdigital, is never touched by a profile upsert or a backfill: only
:meth:`DotdigitalAdapter.update_consent` (the engine sends it when the Odoo
opt-in or blacklist changes) may change it, and may resubscribe.
"""

import hashlib
import re
import threading
import urllib.parse

from ..base import (
    ErrorCategory,
    EspAdapter,
    EspError,
    named_properties,
)
from . import const, identity, payloads
from .bulk import BulkMixin
from .catalog import CatalogMixin
from .consent import ConsentMixin
from .erasure import ErasureMixin
from .errors import error_from_response
from .inbound import InboundMixin
from .orders import OrdersMixin
from .reconcile import ReconcileMixin
from .reconcile_orders import ReconcileOrdersMixin
from .sms import SmsConsentMixin

# Data fields known to exist per (endpoint, user digest): one GET per process.
_fields_cache = {}
_fields_lock = threading.Lock()


def data_field_name(key):
    """The Dotdigital data field for a property: ``"Loyalty Tier"`` ->
    ``LOYALTY_TIER`` (letters, digits, ``_``; at most 20 characters)."""
    name = re.sub(r"[^A-Z0-9]+", "_", str(key).upper()).strip("_")
    name = name[: const.DATA_FIELD_MAX_LENGTH].rstrip("_")
    if not name or name[0].isdigit():
        raise EspError(
            f"Property {key!r} cannot be turned into a Dotdigital data field name",
            category=ErrorCategory.CONFIGURATION,
            field=str(key),
            code=const.CODE_INVALID_FIELD,
        )
    return name


class DotdigitalAdapter(
    ConsentMixin,
    SmsConsentMixin,
    ReconcileMixin,
    ReconcileOrdersMixin,
    ErasureMixin,
    InboundMixin,
    OrdersMixin,
    CatalogMixin,
    BulkMixin,
    EspAdapter,
):
    """Dotdigital behind the :class:`EspAdapter` interface."""

    provider = "dotdigital"
    rate_limit_wait = 60.0

    def __init__(self, settings, transport=None):
        super().__init__(settings, transport=transport)
        self.api_endpoint = (settings.extra or {}).get(const.EXTRA_API_ENDPOINT) or ""

    # --- the request path (hooks of EspAdapter._send) -------------------------
    @property
    def region_url(self):
        return (self.settings.base_url or const.DEFAULT_BASE_URL).rstrip("/")

    def resolve_endpoint(self):
        """The account's API endpoint (``ApiEndpoint`` of account-info), cached.

        The engine keeps it in ``settings.extra["api_endpoint"]`` to skip the
        call; read :attr:`api_endpoint` after this to store it.
        """
        if not self.api_endpoint:
            info = self._request("GET", const.ACCOUNT_INFO)
            self.api_endpoint = self._endpoint_from(info) or self.region_url
        return self.api_endpoint

    @staticmethod
    def _endpoint_from(info):
        for prop in info.get("properties") or []:
            if prop.get("name") == const.API_ENDPOINT_PROPERTY and prop.get("value"):
                return str(prop["value"]).rstrip("/")
        return ""

    def _prepare_request(self, method, path, body):
        """Basic auth with the API user, on the account's endpoint."""
        if not (self.settings.api_user and self.settings.api_secret):
            raise EspError(
                "No Dotdigital API user or password is configured",
                category=ErrorCategory.CONFIGURATION,
            )
        base = self.region_url if path == const.ACCOUNT_INFO else None
        base = base or self.resolve_endpoint()
        return base + path, {
            "json": body,
            "auth": (self.settings.api_user, self.settings.api_secret),
            "headers": {"Accept": "application/json"},
        }

    def _error_from_response(self, response):
        return error_from_response(response)

    @staticmethod
    def _contact_path(email):
        return const.CONTACT.format(email=urllib.parse.quote(email, safe="@"))

    # --- connection ---------------------------------------------------------
    def test_connection(self):
        """Check the API user; resolve the account's endpoint."""
        self._start()
        info = self._request("GET", const.ACCOUNT_INFO)
        self.api_endpoint = self._endpoint_from(info) or self.region_url
        return f"Dotdigital account {info.get('id', '?')} at {self.api_endpoint}"

    # --- contacts -----------------------------------------------------------
    def _data_fields(self, profile):
        fields = {}
        full = " ".join(p for p in (profile.first_name, profile.last_name) if p)
        for name, value in (
            (const.FIELD_FIRSTNAME, profile.first_name),
            (const.FIELD_LASTNAME, profile.last_name),
            (const.FIELD_FULLNAME, full),
            (const.FIELD_POSTCODE, profile.address.zip if profile.address else ""),
        ):
            if value:
                fields[name] = value
        for _key, name, value in named_properties(
            profile.properties,
            data_field_name,
            const.STANDARD_FIELDS,
            "data field",
            const.CODE_INVALID_FIELD,
        ):
            if value is None or value == "":
                # Cleared in Odoo: clear it in Dotdigital too (merge-option
                # overwrite), rather than leave a stale value to segment on.
                fields[name] = ""
                continue
            # Missing fields are created as String: send text.
            if isinstance(value, list | tuple | set):
                # Tag names and the like: "VIP, Wholesale", not a Python repr.
                value = ", ".join(str(item) for item in value)
            fields[name] = (
                ("Yes" if value else "No") if isinstance(value, bool) else str(value)
            )
        return fields

    # --- data fields --------------------------------------------------------
    def _fields_key(self):
        digest = hashlib.sha256(self.settings.api_user.encode()).hexdigest()[:12]
        return (self.resolve_endpoint(), digest)

    def _create_data_field(self, name):
        if not self.settings.extra.get("create_data_fields", True):
            raise EspError(
                f"The Dotdigital account has no data field {name}; create it in "
                "Dotdigital or allow esp_sync to create data fields",
                category=ErrorCategory.CONFIGURATION,
                field=name,
                code=const.CODE_FIELD_MISSING,
            )
        body = payloads.DataFieldCreate(name=name).dump()
        self._request("POST", const.DATA_FIELDS, json=body)
        with _fields_lock:
            _fields_cache.setdefault(self._fields_key(), set()).add(name)

    def _ensure_data_fields(self, names):
        """Create custom data fields the account lacks (Dotdigital rejects
        contacts carrying unknown ones)."""
        custom = {n for n in names if n not in const.STANDARD_FIELDS}
        if not custom:
            return
        key = self._fields_key()
        with _fields_lock:
            known = _fields_cache.get(key)
        if known is None or not custom <= known:
            answer = self._request("GET", const.DATA_FIELDS)
            rows = answer if isinstance(answer, list) else []
            known = {str(r.get("name", "")).upper() for r in rows}
            with _fields_lock:
                _fields_cache[key] = set(known)
        for name in sorted(custom - known):
            self._create_data_field(name)

    def _lists(self):
        book = self.settings.dotdigital_address_book_id
        if not book:
            return None
        try:
            return [int(book)]
        except ValueError as exc:
            raise EspError(
                f"The Dotdigital address book id {book!r} is not a number",
                category=ErrorCategory.CONFIGURATION,
            ) from exc

    def _contact_exists(self, email):
        try:
            self._request("GET", self._contact_path(email))
        except EspError as error:
            if error.status == 404:
                return False
            raise
        return True

    def _patch_contact(self, email, body):
        """PATCH a contact; create data fields it reports missing, retry once."""
        path = self._contact_path(email)
        params = {"merge-option": const.MERGE_OPTION}
        try:
            return self._request("PATCH", path, json=body, params=params)
        except EspError as error:
            missing = self._missing_fields(error, body)
            if not missing:
                raise
            for name in missing:
                self._create_data_field(name)
            return self._request("PATCH", path, json=body, params=params)

    @staticmethod
    def _missing_fields(error, body):
        sent = set(body.get("dataFields") or {})
        details = getattr(error, "details", None) or []
        return [
            item.upper()
            for item, text in details
            if item.upper() in sent
            and re.search(const.FIELD_MISSING_PATTERN, text, re.I)
        ]

    def _contact_body(self, profile, email, channel, records=None):
        return payloads.ContactUpdate(
            identifiers=payloads.Identifiers(email=email),
            dataFields=self._data_fields(profile) or None,
            lists=self._marketing_lists(profile.consent),
            channelProperties=channel,
            consentRecords=records,
        ).dump()

    def upsert_profile(self, profile):
        """PATCH the contact (created if new) with data fields; an opt-in
        joins the marketing address book.

        The email status is written only for a new contact: Odoo's opt-in
        (with its evidence), else the backend's never-opted-in state. An
        existing contact keeps its status whatever Odoo's consent: a name
        edit must not resubscribe someone who unsubscribed in Dotdigital.
        """
        self._start()
        email = self._email(profile.email)
        channel = records = None
        if not self._contact_exists(email):
            channel = self._channel(profile.consent) or self._never_opted_in_channel()
            records = self._consent_records(profile.consent)
        body = self._contact_body(profile, email, channel, records)
        self._ensure_data_fields(body.get("dataFields") or {})
        contact = self._patch_contact(email, body)
        return self._result(
            external_id=str(contact.get("contactId") or ""),
            detail={"status": contact.get("status", "")},
        )

    def change_email(self, change):
        """Give the contact its new address (see :mod:`.identity`)."""
        return identity.change_email(self, change)
