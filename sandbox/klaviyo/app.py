"""The Klaviyo app: routing, auth, JSON:API errors, rate limits, inspection."""

import base64
import hashlib
import urllib.parse
import uuid

from .. import specs
from ..core import ProviderApp, Response
from ..ratelimit import parse_rate
from . import filters
from .actions import ActionsMixin
from .catalog import CatalogMixin
from .common import (
    DEFAULT_CODES,
    DEFAULT_TITLES,
    IDENTIFIERS,
    KEY_PREFIX,
    MAX_BULK_BYTES,
    REVISION_PATTERN,
    consent_text,
    mask_key,
)
from .consent import ConsentMixin
from .events import EventsMixin
from .identity import ErasureMixin, IdentityMixin
from .jobs import JobsMixin
from .profiles import ProfilesMixin
from .webhooks import WebhooksMixin


class KlaviyoApp(
    IdentityMixin,
    ErasureMixin,
    ProfilesMixin,
    EventsMixin,
    ConsentMixin,
    JobsMixin,
    CatalogMixin,
    WebhooksMixin,
    ActionsMixin,
    ProviderApp,
):
    """The Klaviyo emulator."""

    name = "klaviyo"
    spec = "klaviyo"
    content_type = "application/vnd.api+json"
    max_body = MAX_BULK_BYTES

    def __init__(self, sandbox):
        self._limits = {}
        super().__init__(sandbox)

    def routes(self):
        """Every endpoint esp_sync uses, with Klaviyo's own path templates."""
        return [
            ("GET", "/api/accounts", self.get_accounts),
            ("GET", "/api/profiles", self.get_profiles),
            ("POST", "/api/profiles", self.create_profile),
            ("GET", "/api/profiles/{id}", self.get_profile),
            ("PATCH", "/api/profiles/{id}", self.update_profile),
            ("POST", "/api/profile-import", self.profile_import),
            ("POST", "/api/profile-merge", self.merge_profiles),
            ("POST", "/api/data-privacy-deletion-jobs", self.deletion_job),
            ("GET", "/api/events", self.get_events),
            ("POST", "/api/events", self.create_event),
            ("GET", "/api/events/{id}", self.get_event),
            ("GET", "/api/metrics", self.get_metrics),
            ("POST", "/api/event-bulk-create-jobs", self.bulk_events),
            ("POST", "/api/profile-subscription-bulk-create-jobs", self.subscribe),
            ("POST", "/api/profile-subscription-bulk-delete-jobs", self.unsubscribe),
            ("POST", "/api/profile-suppression-bulk-create-jobs", self.suppress),
            ("POST", "/api/profile-suppression-bulk-delete-jobs", self.unsuppress),
            ("GET", "/api/lists", self.get_lists),
            ("POST", "/api/lists", self.create_list),
            ("GET", "/api/lists/{id}", self.get_list),
            ("GET", "/api/lists/{id}/profiles", self.get_list_profiles),
            ("POST", "/api/lists/{id}/relationships/profiles", self.add_to_list),
            ("DELETE", "/api/lists/{id}/relationships/profiles", self.remove_from_list),
            ("GET", "/api/profile-bulk-import-jobs", self.get_import_jobs),
            ("POST", "/api/profile-bulk-import-jobs", self.create_import_job),
            ("GET", "/api/profile-bulk-import-jobs/{job_id}", self.get_import_job),
            (
                "GET",
                "/api/profile-suppression-bulk-create-jobs/{job_id}",
                self.get_suppression_job,
            ),
            (
                "GET",
                "/api/profile-suppression-bulk-delete-jobs/{job_id}",
                self.get_suppression_job,
            ),
            (
                "GET",
                "/api/profile-bulk-import-jobs/{id}/import-errors",
                self.get_import_errors,
            ),
            (
                "GET",
                "/api/profile-bulk-import-jobs/{id}/profiles",
                self.get_job_profiles,
            ),
            ("GET", "/api/catalog-items", self.get_catalog_items),
            ("POST", "/api/catalog-items", self.create_catalog_item),
            ("GET", "/api/catalog-items/{id}", self.get_catalog_item),
            ("PATCH", "/api/catalog-items/{id}", self.update_catalog_item),
            ("DELETE", "/api/catalog-items/{id}", self.delete_catalog_item),
            ("GET", "/api/catalog-variants", self.get_catalog_variants),
            ("POST", "/api/catalog-variants", self.create_catalog_variant),
            ("GET", "/api/catalog-variants/{id}", self.get_catalog_variant),
            ("PATCH", "/api/catalog-variants/{id}", self.update_catalog_variant),
            ("DELETE", "/api/catalog-variants/{id}", self.delete_catalog_variant),
            ("POST", "/api/back-in-stock-subscriptions", self.create_bis),
            ("GET", "/api/webhooks", self.get_webhooks),
            ("POST", "/api/webhooks", self.create_webhook),
            ("GET", "/api/webhooks/{id}", self.get_webhook),
            ("DELETE", "/api/webhooks/{id}", self.delete_webhook),
            ("GET", "/api/webhook-topics", self.get_webhook_topics),
        ]

    # == protocol ===============================================================
    def authenticate(self, request):
        """``Klaviyo-API-Key pk_sandbox...`` (401 otherwise), then ``revision``."""
        header = request.headers.get("Authorization") or ""
        scheme, _sep, key = header.partition(" ")
        if not header:
            return self.error(
                401,
                "Missing or invalid authorization scheme. Please use Klaviyo-API-Key.",
                code="not_authenticated",
            )
        if scheme != "Klaviyo-API-Key" or not key.strip().startswith(KEY_PREFIX):
            return self.error(
                401,
                "Incorrect authentication credentials.",
                code="authentication_failed",
                title="Incorrect authentication credentials.",
            )
        revision = request.headers.get("revision")
        if not revision:
            return self.error(
                400,
                "Missing required header 'revision'.",
                field="revision",
                code="invalid",
            )
        if not REVISION_PATTERN.match(revision.strip()):
            return self.error(
                400,
                f"Invalid revision '{revision}'; use YYYY-MM-DD.",
                field="revision",
                code="invalid",
            )
        return key.strip()

    def error(self, status, detail, field=None, code=None, title=None):
        """A JSON:API error document with one error object."""
        return Response(
            status,
            {"errors": [self._error_object(status, detail, field, code, title)]},
            content_type=self.content_type,
        )

    def _error_object(self, status, detail, field=None, code=None, title=None):
        error = {
            "id": str(uuid.UUID(int=self.sandbox.rng.getrandbits(128), version=4)),
            "status": status,
            "code": code or DEFAULT_CODES.get(status, "error"),
            "title": title or DEFAULT_TITLES.get(status, "Error."),
            "detail": detail,
            "source": {"pointer": "/data/"},
        }
        if field and field.startswith("query."):
            error["source"] = {"parameter": field[len("query.") :]}
        elif field and field.startswith("/"):
            error["source"] = {"pointer": field}
        elif field:
            error["source"] = {"parameter": field}
        return error

    def validation_error(self, violations):
        """One JSON:API error per spec violation, each with its pointer."""
        errors = [
            self._error_object(400, v.message, v.field or "/data", "invalid")
            for v in violations
        ]
        return Response(400, {"errors": errors}, content_type=self.content_type)

    def rate_limits(self, request):
        """Burst/steady (and daily) windows from ``x-klaviyo-ratelimit``."""
        key = (request.method, request.template)
        if key not in self._limits:
            op = specs.operation("klaviyo", request.method, request.template) or {}
            raw = op.get("x-klaviyo-ratelimit") or {"burst": "75/s", "steady": "700/m"}
            self._limits[key] = [parse_rate(value) for value in raw.values()]
        return self._limits[key]

    # == state ==================================================================
    def new_account(self, key):
        """Empty state of one API key's account."""
        digest = hashlib.sha256(key.encode()).hexdigest()
        return {
            "account_id": "SBX" + digest[:3].upper(),
            "public_key": digest[3:9].upper(),
            "profiles": {},
            "index": {name: {} for name in IDENTIFIERS},
            "metrics": {},
            "events": [],
            "event_keys": set(),
            "lists": {},
            "jobs": {},
            "catalog_items": {},
            "catalog_variants": {},
            "bis": [],
            "webhooks": {},
        }

    def _state(self, request):
        state = self.account_state(request.account)
        self._settle_jobs(state)
        return state

    def _new_id(self, length=26):
        alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
        rng = self.sandbox.rng
        return "01" + "".join(rng.choice(alphabet) for _ in range(length - 2))

    def _url(self, request, path):
        return f"{self.sandbox.url}/klaviyo{path}"

    # == accounts ===============================================================
    def get_accounts(self, request):
        """``GET /api/accounts``: the account of the API key (used to test the
        connection).
        """
        with self.lock:
            state = self._state(request)
            resource = {
                "type": "account",
                "id": state["account_id"],
                "attributes": {
                    "test_account": True,
                    "contact_information": {
                        "default_sender_name": "Sandbox",
                        "default_sender_email": "sandbox@example.com",
                        "website_url": "https://example.com",
                        "organization_name": f"Sandbox {state['account_id']}",
                        "street_address": {
                            "address1": None,
                            "address2": None,
                            "city": None,
                            "region": None,
                            "country": None,
                            "zip": None,
                        },
                    },
                    "industry": None,
                    "timezone": "UTC",
                    "preferred_currency": "USD",
                    "public_api_key": state["public_key"],
                    "locale": "en-US",
                },
                "links": {
                    "self": self._url(request, f"/api/accounts/{state['account_id']}")
                },
            }
        return {
            "data": [resource],
            "links": {"self": self._url(request, "/api/accounts")},
        }

    # == profiles ===============================================================

    @staticmethod
    def _matching(conditions, items, value_of):
        """The ``items`` meeting parsed ``filter`` conditions (``value_of(item,
        field)`` reads a field)."""
        return [
            item
            for item in items
            if filters.matches(conditions, lambda f, item=item: value_of(item, f))
        ]

    def _page(self, request, items, render):
        size = int(request.arg("page[size]") or 20)
        try:
            offset = int(
                base64.urlsafe_b64decode(request.arg("page[cursor]") or "MA==").decode()
            )
        except ValueError:
            return self.error(400, "Invalid page cursor.", field="query.page[cursor]")
        chunk = items[offset : offset + size]
        links = {"self": self._url(request, request.path), "next": None, "prev": None}
        if offset + size < len(items):
            # Like Klaviyo, the next link keeps every other query parameter
            # (filter, sort, additional-fields...): only the cursor moves.
            cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            query = [
                (name, value)
                for name, values in request.query.items()
                if name not in ("page[cursor]", "page[size]")
                for value in values
            ]
            query += [("page[cursor]", cursor), ("page[size]", str(size))]
            links["next"] = self._url(
                request, f"{request.path}?{urllib.parse.urlencode(query)}"
            )
        return {"data": [render(item) for item in chunk], "links": links}

    # == events =================================================================

    def dump(self, account=None):
        """State as JSON (identifier indexes left out: they repeat profiles)."""
        with self.lock:
            for state in self.accounts.values():
                self._settle_jobs(state)
            dumped = super().dump(account)
        states = [dumped] if account is not None else dumped.values()
        for state in states:
            state.pop("index", None)
        return dumped

    def ui_rows(self, account=None):
        """One row per profile: email, consent, event timeline."""
        rows = []
        with self.lock:
            for key, state in self.accounts.items():
                if account and key != account:
                    continue
                self._settle_jobs(state)
                timeline = {}
                for event in state["events"]:
                    timeline.setdefault(event["profile_id"], []).append(
                        {
                            "time": event["timestamp"],
                            "name": event["metric"],
                            "detail": event["properties"].get("OrderId")
                            or event["properties"].get("reason")
                            or "",
                        }
                    )
                label = f"{state['account_id']} ({mask_key(key)})"
                for profile in state["profiles"].values():
                    rows.append(
                        {
                            "account": label,
                            "email": profile["email"]
                            or profile["external_id"]
                            or profile["id"],
                            "consent": consent_text(profile),
                            "events": timeline.get(profile["id"], []),
                        }
                    )
        return rows

    def handler_error(self, request, exc):
        """A bad ``filter`` is a 400; so is a body missing what the handler
        needs (validation off)."""
        if isinstance(exc, filters.FilterError):
            return self.error(400, str(exc), field="query.filter")
        if self.sandbox.config.get("validate"):
            return None
        if isinstance(exc, KeyError | TypeError | IndexError | AttributeError):
            return self.error(
                400, f"Invalid request body: {type(exc).__name__} {exc}", "/data"
            )
        return None

    def _api_error(self, exc):
        response = self.error(exc.status, exc.detail, exc.field, exc.code)
        if exc.meta:
            response.body["errors"][0]["meta"] = exc.meta
        return response
