"""Klaviyo behind the :class:`providers.base.EspAdapter` interface.

Requests go through the base's one request path (:meth:`EspAdapter._send`);
this class adds Klaviyo's auth, revision and media type, and its error
reading (``errors.py``). Bodies come from ``builders.py``; the catalogue,
bulk jobs and inbound consent live in their own mixins.
"""

import datetime
import logging
from urllib.parse import urlsplit

from ..base import DeliveryResult, ErrorCategory, EspAdapter, EspError
from ..events import ConsentStatus
from ..wire import dig, response_json
from . import builders as b
from . import const, identity
from . import payloads as p
from .back_in_stock import BackInStockMixin
from .bulk import BulkMixin
from .catalog import CatalogMixin
from .erasure import ErasureMixin
from .errors import error_from_response
from .inbound import InboundMixin
from .reconcile import ReconcileMixin
from .reconcile_orders import ReconcileOrdersMixin
from .sms import SmsConsentMixin

_logger = logging.getLogger(__name__)


class KlaviyoAdapter(
    SmsConsentMixin,
    ReconcileMixin,
    ReconcileOrdersMixin,
    BackInStockMixin,
    ErasureMixin,
    CatalogMixin,
    BulkMixin,
    InboundMixin,
    EspAdapter,
):
    """Klaviyo API (revision ``settings.klaviyo_revision``) with a private key."""

    provider = "klaviyo"

    # --- the request path (hooks of EspAdapter._send) -------------------------
    def _url(self, path):
        base = (self.settings.base_url or const.BASE_URL).rstrip("/")
        if path.startswith(("http://", "https://")):
            if path.startswith(base + "/"):
                return path
            # A pagination link naming another host: keep its path, our host,
            # so the API key never travels anywhere else.
            parts = urlsplit(path)
            start = parts.path.find("/api/")
            path = parts.path[start:] if start >= 0 else parts.path
            return f"{base}{path}" + (f"?{parts.query}" if parts.query else "")
        return f"{base}{path}"

    def _headers(self, with_body):
        headers = {
            "Authorization": f"{const.AUTH_SCHEME} {self.settings.api_key}",
            "revision": self.settings.klaviyo_revision or const.API_REVISION,
            "Accept": const.MEDIA_TYPE,
        }
        if with_body:
            headers["Content-Type"] = const.MEDIA_TYPE
        return headers

    def _prepare_request(self, method, path, body):
        """The private key, the API revision and the JSON:API media type."""
        data = b.encode(body) if body is not None else None
        return self._url(path), {
            "headers": self._headers(data is not None),
            "data": data,
        }

    def _error_from_response(self, response):
        return error_from_response(response)

    @staticmethod
    def _require_email(email):
        if not email:
            raise EspError(
                "The customer has no email address; Klaviyo needs one.",
                category=ErrorCategory.DATA,
                field="email",
            )

    # --- connection ------------------------------------------------------------
    def test_connection(self):
        self._start()
        data = self._request("GET", const.PATH_ACCOUNTS).get("data")
        account = data[0] if isinstance(data, list) and data else {}
        name = dig(account, "attributes", "contact_information", "organization_name")
        account_id = account.get("id") or "?"
        if name:
            return f"Klaviyo account {name} ({account_id})"
        return f"Klaviyo account {account_id}"

    # --- profiles and consent ---------------------------------------------------
    def upsert_profile(self, profile):
        self._start()
        self._require_email(profile.email)
        body = p.ProfileImportRequest(data=b.build_profile_resource(profile))
        response = self._send("POST", const.PATH_PROFILE_IMPORT, json=body.dump())
        profile_id = dig(response_json(response), "data", "id") or ""
        return self._result(
            external_id=profile_id, detail={"created": response.status_code == 201}
        )

    def change_email(self, change):
        """Move the profile to the new address (see :mod:`.identity`)."""
        return identity.change_email(self, change)

    def update_consent(self, consent):
        """Subscribe (with evidence), unsubscribe globally or suppress.

        A person who never opted in is never subscribed: nothing is sent.
        """
        lift = consent.lift_suppression and not consent.suppressed
        if consent.status == ConsentStatus.NEVER and not (consent.suppressed or lift):
            return DeliveryResult(
                skipped_reason="No opt-in recorded in Odoo: never subscribed.",
                requests=0,
            )
        self._start()
        self._require_email(consent.email)
        if lift:
            # The Odoo blacklist entry was removed: the suppression esp_sync set
            # goes too; an opt-in, if any, follows. Without one, the profile is
            # unsubscribed as well: lifting a suppression must never bring
            # back a subscription the person had before it (no re-subscribe).
            body = b.build_unsuppress_request([consent.email])
            self._request("POST", const.PATH_UNSUPPRESS_JOBS, json=body.dump())
            if consent.status != ConsentStatus.SUBSCRIBED:
                body = b.build_unsubscribe_request([consent.email])
                self._request("POST", const.PATH_UNSUBSCRIBE_JOBS, json=body.dump())
                return self._result(detail={"action": "unsuppressed, unsubscribed"})
        if consent.suppressed:
            body = b.build_suppress_request([consent.email])
            path, action = const.PATH_SUPPRESS_JOBS, "suppressed"
        elif consent.status == ConsentStatus.SUBSCRIBED:
            if self.settings.extra.get("double_opt_in"):
                return self._request_confirmation(consent)
            consented_at = b.utc(consent.consented_at)
            now = datetime.datetime.now(datetime.timezone.utc)
            if consented_at and consented_at > now:
                consented_at = now  # Klaviyo wants consent in the past
            body = b.build_subscribe_request(
                [(consent.email, consented_at)],
                # The partner's recorded source; the backend's is the fallback.
                source=consent.source or self.settings.consent_source,
                list_id=self.settings.klaviyo_list_id,
                historical=bool(
                    consented_at
                    and self.settings.extra.get("klaviyo_historical_import")
                ),
            )
            path, action = const.PATH_SUBSCRIBE_JOBS, "subscribed"
        else:
            body = b.build_unsubscribe_request([consent.email])
            path, action = const.PATH_UNSUBSCRIBE_JOBS, "unsubscribed"
        self._request("POST", path, json=body.dump())
        return self._result(detail={"action": action})

    def _request_confirmation(self, consent):
        """Double opt-in: subscribe to the backend's list, whose opt-in
        process (double opt-in, set in Klaviyo) sends the confirmation email;
        never a historical import (it would bypass the confirmation). A
        profile subscribed already is only added to the list (Klaviyo asks
        no confirmation of it): nothing to await."""
        list_id = self.settings.klaviyo_list_id
        if not list_id:
            raise EspError(
                "Double opt-in needs a Klaviyo list set for double opt-in.",
                category=ErrorCategory.CONFIGURATION,
                field="klaviyo_list_id",
            )
        subscribed = self.read_subscription(consent.email) == "subscribed"
        body = b.build_subscribe_request(
            [(consent.email, None)],
            source=consent.source or self.settings.consent_source,
            list_id=list_id,
        )
        self._request("POST", const.PATH_SUBSCRIBE_JOBS, json=body.dump())
        if subscribed:
            return self._result(detail={"action": "subscribed"})
        return self._result(
            detail={"action": "confirmation requested", "awaiting_confirmation": True}
        )

    def read_subscription(self, email):
        """subscribed / unsubscribed / never (Klaviyo shows no pending state:
        a profile awaiting confirmation is still never subscribed)."""
        self._start()
        self._require_email(email)
        params = {
            "filter": f'equals(email,"{self._email(email)}")',
            "additional-fields[profile]": "subscriptions",
        }
        doc = self._request("GET", const.PATH_PROFILES, params=params)
        profiles = doc.get("data") or []
        if not profiles:
            return None
        marketing = (
            dig(profiles[0], "attributes", "subscriptions", "email", "marketing") or {}
        )
        if marketing.get("suppression") or marketing.get("consent") == "UNSUBSCRIBED":
            return "unsubscribed"
        return "subscribed" if marketing.get("consent") == "SUBSCRIBED" else "never"

    # --- orders ------------------------------------------------------------------
    def send_order_event(self, event):
        self._start()
        if not event.order.anonymous_id:
            self._require_email(event.order.email)
        cores = b.build_events(event)
        for core in cores:
            body = b.build_event_request(core, event.order)
            self._request("POST", const.PATH_EVENTS, json=body.dump())
        return self._result(
            external_id=event.unique_id,
            detail={"metric": const.METRIC_BY_KIND[event.kind]},
        )

    def _paginate(self, path, params=None):
        """Yield ``data`` items across ``links.next`` pages."""
        url = path
        for _page in range(const.MAX_PAGES):
            doc = self._request("GET", url, params=params)
            yield from doc.get("data") or []
            url = dig(doc, "links", "next")
            params = None  # the next link carries the query
            if not url:
                return
        _logger.warning("Klaviyo pagination stopped after %s pages", const.MAX_PAGES)
