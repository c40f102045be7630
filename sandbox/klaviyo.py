"""Emulated Klaviyo API (revision 2026-07-15), the parts esp_sync uses.

Mounted at ``/klaviyo``: a backend's base URL is ``<sandbox>/klaviyo``
instead of ``https://a.klaviyo.com``. Authentication is
``Authorization: Klaviyo-API-Key pk_sandbox...``; every distinct key is its
own account. Requests need a ``revision`` header. Bodies and errors follow
JSON:API (``application/vnd.api+json``).

Behaviour kept from the real API: profile upsert by id/email/external_id/
phone (null clears a field, properties merge), event de-duplication on
``unique_id`` per profile and metric, subscribing lifts ``UNSUBSCRIBE``,
``SPAM_REPORT`` and ``USER_SUPPRESSED`` suppressions, unsuppressing only
lifts ``USER_SUPPRESSED``, bulk profile imports are asynchronous jobs,
per-operation rate limits from the spec's ``x-klaviyo-ratelimit``.

ESP-side actions (``sb.action("klaviyo", name, email=...)``):
``unsubscribe``, ``suppress`` (``reason``: USER_SUPPRESSED, HARD_BOUNCE,
SPAM_REPORT, INVALID_EMAIL), ``confirm_opt_in``. They fire the registered
webhooks, signed as Klaviyo does: ``Klaviyo-Signature`` is the hex
HMAC-SHA256, keyed by the webhook's secret, of the raw body followed by the
``Klaviyo-Timestamp`` header value (see :func:`sign_webhook`).
"""

import base64
import datetime
import hashlib
import hmac
import json
import re
import uuid

from . import klaviyo_filters as filters
from . import specs
from .core import ProviderApp, Response
from .ratelimit import parse_rate

REVISION = "2026-07-15"
KEY_PREFIX = "pk_sandbox"
MAX_BULK_BYTES = 5 * 1024 * 1024
MAX_PROFILE_BYTES = 100 * 1024
MAX_IMPORT_PROFILES = 10000
MAX_BULK_EVENTS = 1000
MAX_SUBSCRIBE = 1000
MAX_UNSUBSCRIBE = 100
MAX_SUPPRESS = 100
LIFTED_BY_SUBSCRIBE = ("UNSUBSCRIBE", "SPAM_REPORT", "USER_SUPPRESSED")
SUPPRESSION_REASONS = (
    "USER_SUPPRESSED",
    "UNSUBSCRIBE",
    "HARD_BOUNCE",
    "SPAM_REPORT",
    "INVALID_EMAIL",
)
TOPICS = {
    "unsubscribe": "event:klaviyo.unsubscribed_from_email_marketing",
    "subscribe": "event:klaviyo.subscribed_to_email_marketing",
    "HARD_BOUNCE": "event:klaviyo.bounced_email",
    "SPAM_REPORT": "event:klaviyo.marked_email_as_spam",
    "USER_SUPPRESSED": "event:klaviyo.suppressed_email",
    "INVALID_EMAIL": "event:klaviyo.suppressed_email",
}
METRIC_NAMES = {
    "event:klaviyo.unsubscribed_from_email_marketing": (
        "Unsubscribed from Email Marketing"
    ),
    "event:klaviyo.subscribed_to_email_marketing": "Subscribed to Email Marketing",
    "event:klaviyo.bounced_email": "Bounced Email",
    "event:klaviyo.marked_email_as_spam": "Marked Email as Spam",
    "event:klaviyo.suppressed_email": "Suppressed Email",
}
PROFILE_FIELDS = (
    "email",
    "phone_number",
    "external_id",
    "first_name",
    "last_name",
    "organization",
    "locale",
    "title",
    "image",
)
PROFILE_FILTERS = {
    "id": ("any", "equals"),
    "email": ("any", "equals"),
    "phone_number": ("any", "equals"),
    "external_id": ("any", "equals"),
    "_kx": ("equals",),
    "created": ("greater-than", "less-than"),
    "updated": ("greater-than", "less-than"),
    "subscriptions.email.marketing.list_suppressions.reason": ("equals",),
    "subscriptions.email.marketing.list_suppressions.timestamp": (
        "greater-or-equal",
        "greater-than",
        "less-or-equal",
        "less-than",
    ),
    "subscriptions.email.marketing.list_suppressions.list_id": ("equals",),
    "subscriptions.email.marketing.suppression.reason": ("equals",),
    "subscriptions.email.marketing.suppression.timestamp": (
        "greater-or-equal",
        "greater-than",
        "less-or-equal",
        "less-than",
    ),
}
EVENT_FILTERS = {
    "metric_id": ("equals",),
    "profile_id": ("equals",),
    "datetime": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
    "timestamp": ("greater-or-equal", "greater-than", "less-or-equal", "less-than"),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$")
_DEFAULT_TITLES = {
    400: "Invalid input.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "Conflict.",
    413: "Request entity too large.",
    415: "Unsupported media type.",
    429: "Request was throttled.",
    500: "A server error occurred.",
    502: "Bad gateway.",
    503: "Service unavailable.",
}
_DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "throttled",
    500: "error",
}


def sign_webhook(secret, body, timestamp):
    """Klaviyo's webhook signature: hex HMAC-SHA256 of body + timestamp."""
    data = body if isinstance(body, bytes) else body.encode()
    return hmac.new(
        secret.encode(), data + timestamp.encode(), hashlib.sha256
    ).hexdigest()


def iso(epoch):
    """Klaviyo's datetime format (``2026-01-01T10:00:00+00:00``)."""
    if epoch is None:
        return None
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")


class KlaviyoApp(ProviderApp):
    """The Klaviyo emulator."""

    name = "klaviyo"
    spec = "klaviyo"
    content_type = "application/vnd.api+json"
    max_body = MAX_BULK_BYTES

    def __init__(self, sandbox):
        self._limits = {}
        super().__init__(sandbox)

    def routes(self):
        return [
            ("GET", "/api/accounts", self.get_accounts),
            ("GET", "/api/profiles", self.get_profiles),
            ("POST", "/api/profiles", self.create_profile),
            ("GET", "/api/profiles/{id}", self.get_profile),
            ("PATCH", "/api/profiles/{id}", self.update_profile),
            ("POST", "/api/profile-import", self.profile_import),
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
        if not _REVISION.match(revision.strip()):
            return self.error(
                400,
                f"Invalid revision '{revision}'; use YYYY-MM-DD.",
                field="revision",
                code="invalid",
            )
        return key.strip()

    def error(self, status, detail, field=None, code=None, title=None):
        return Response(
            status,
            {"errors": [self._error_object(status, detail, field, code, title)]},
            content_type=self.content_type,
        )

    def _error_object(self, status, detail, field=None, code=None, title=None):
        error = {
            "id": str(uuid.UUID(int=self.sandbox.rng.getrandbits(128), version=4)),
            "status": status,
            "code": code or _DEFAULT_CODES.get(status, "error"),
            "title": title or _DEFAULT_TITLES.get(status, "Error."),
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
        errors = [
            self._error_object(400, v.message, v.field or "/data", "invalid")
            for v in violations
        ]
        return Response(400, {"errors": errors}, content_type=self.content_type)

    def rate_limits(self, request):
        key = (request.method, request.template)
        if key not in self._limits:
            op = specs.operation("klaviyo", request.method, request.template) or {}
            raw = op.get("x-klaviyo-ratelimit") or {"burst": "75/s", "steady": "700/m"}
            self._limits[key] = [parse_rate(value) for value in raw.values()]
        return self._limits[key]

    # == state ==================================================================
    def new_account(self, key):
        digest = hashlib.sha256(key.encode()).hexdigest()
        return {
            "account_id": "SBX" + digest[:3].upper(),
            "public_key": digest[3:9].upper(),
            "profiles": {},
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
    def _blank_profile(self, state):
        now = self.now()
        return {
            "id": self._new_id(),
            **dict.fromkeys(PROFILE_FIELDS),
            "location": {},
            "properties": {},
            "created": now,
            "updated": now,
            "last_event_date": None,
            "subscriptions": {
                "email": _channel(),
                "sms": _channel(),
            },
            "lists": set(),
            "pending_lists": set(),
        }

    def _find(self, state, attributes, profile_id=None):
        """Profiles matching the identifiers given (id first)."""
        if profile_id:
            found = state["profiles"].get(profile_id)
            return [found] if found else []
        matches = []
        for name in ("email", "external_id", "phone_number"):
            value = attributes.get(name)
            if not value:
                continue
            if name == "email":
                value = value.lower()
            for profile in state["profiles"].values():
                if profile[name] == value and profile not in matches:
                    matches.append(profile)
                    break
        return matches

    def _check_identity(self, attributes, pointer):
        email = attributes.get("email")
        if email is not None and not _EMAIL.match(str(email)):
            return f"{pointer}/email", f"Invalid email address: {email!r}"
        return None

    def _apply(self, profile, attributes, meta=None):
        """Write attributes onto a profile: null clears, properties merge."""
        for name in PROFILE_FIELDS:
            if name in attributes:
                value = attributes[name]
                profile[name] = value.lower() if name == "email" and value else value
        if "location" in attributes:
            location = attributes["location"]
            if location is None:
                profile["location"] = {}
            else:
                for key, value in location.items():
                    if value is None:
                        profile["location"].pop(key, None)
                    else:
                        profile["location"][key] = value
        if "properties" in attributes:
            props = attributes["properties"]
            if props is None:
                profile["properties"] = {}
            else:
                for key, value in props.items():
                    if value is None:
                        profile["properties"].pop(key, None)
                    else:
                        profile["properties"][key] = value
        patch = (meta or {}).get("patch_properties") or {}
        for key in patch.get("unset") or []:
            profile["properties"].pop(key, None)
        for key, value in (patch.get("append") or {}).items():
            current = profile["properties"].get(key)
            current = (
                current
                if isinstance(current, list)
                else []
                if current is None
                else [current]
            )
            profile["properties"][key] = current + (
                value if isinstance(value, list) else [value]
            )
        for key, value in (patch.get("unappend") or {}).items():
            current = profile["properties"].get(key)
            if isinstance(current, list):
                drop = value if isinstance(value, list) else [value]
                profile["properties"][key] = [v for v in current if v not in drop]
        profile["updated"] = self.now()

    def _upsert(self, state, resource, pointer="/data"):
        """Create or update from a profile resource; ``(profile, created)``.

        Raises :class:`_ApiError` on conflicts and bad identifiers.
        """
        attributes = resource.get("attributes") or {}
        problem = self._check_identity(attributes, f"{pointer}/attributes")
        if problem:
            raise _ApiError(400, problem[1], problem[0])
        matches = self._find(state, attributes, resource.get("id"))
        if resource.get("id") and not matches:
            raise _ApiError(404, f"Profile {resource['id']} not found", f"{pointer}/id")
        if len(matches) > 1:
            raise _ApiError(
                409,
                "A profile already exists with one of these identifiers.",
                f"{pointer}/attributes",
                code="duplicate_profile",
                meta={"duplicate_profile_id": matches[1]["id"]},
            )
        if not matches and not any(
            attributes.get(name) for name in ("email", "external_id", "phone_number")
        ):
            raise _ApiError(
                400,
                "A profile requires one of email, phone_number or external_id.",
                f"{pointer}/attributes",
            )
        created = not matches
        profile = matches[0] if matches else self._blank_profile(state)
        if created:
            state["profiles"][profile["id"]] = profile
        self._apply(profile, attributes, resource.get("meta"))
        return profile, created

    def _profile_resource(self, request, profile, subscriptions=False):
        attributes = {name: profile[name] for name in PROFILE_FIELDS}
        attributes.update(
            location=dict(profile["location"]) or None,
            properties=dict(profile["properties"]),
            created=iso(profile["created"]),
            updated=iso(profile["updated"]),
            last_event_date=iso(profile["last_event_date"]),
        )
        if subscriptions:
            attributes["subscriptions"] = _subscriptions_out(profile)
        return {
            "type": "profile",
            "id": profile["id"],
            "attributes": attributes,
            "relationships": {
                "lists": {
                    "data": [
                        {"type": "list", "id": i} for i in sorted(profile["lists"])
                    ]
                }
            },
            "links": {"self": self._url(request, f"/api/profiles/{profile['id']}")},
        }

    def _wants_subscriptions(self, request):
        values = request.query.get("additional-fields[profile]") or []
        return any("subscriptions" in value.split(",") for value in values)

    def profile_import(self, request):
        if len(request.body) > MAX_PROFILE_BYTES:
            return self.error(
                413,
                "The maximum allowed payload size is 100KB; "
                f"got {len(request.body)} bytes.",
            )
        data = request.json["data"]
        with self.lock:
            state = self._state(request)
            try:
                profile, created = self._upsert(state, data)
            except _ApiError as exc:
                return self._api_error(exc)
            body = {
                "data": self._profile_resource(
                    request, profile, self._wants_subscriptions(request)
                ),
                "links": {"self": self._url(request, "/api/profile-import")},
            }
        return Response(201 if created else 200, body)

    def create_profile(self, request):
        data = request.json["data"]
        with self.lock:
            state = self._state(request)
            attributes = data.get("attributes") or {}
            existing = self._find(state, attributes)
            if existing:
                return self._api_error(
                    _ApiError(
                        409,
                        "A profile already exists with one of these identifiers.",
                        "/data/attributes",
                        code="duplicate_profile",
                        meta={"duplicate_profile_id": existing[0]["id"]},
                    )
                )
            try:
                profile, _created = self._upsert(state, data)
            except _ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(201, body)

    def update_profile(self, request):
        data = request.json["data"]
        if data.get("id") != request.path_params["id"]:
            return self.error(
                409, "The id in the body does not match the URL.", "/data/id"
            )
        with self.lock:
            state = self._state(request)
            try:
                profile, _created = self._upsert(state, data)
            except _ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(200, body)

    def get_profile(self, request):
        with self.lock:
            state = self._state(request)
            profile = state["profiles"].get(request.path_params["id"])
            if profile is None:
                return self.error(
                    404, f"Profile {request.path_params['id']} not found."
                )
            return {
                "data": self._profile_resource(
                    request, profile, self._wants_subscriptions(request)
                )
            }

    def get_profiles(self, request):
        try:
            conditions = filters.parse(request.arg("filter"), PROFILE_FILTERS)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        conditions = [
            (op, field, _lower(value) if field == "email" else value)
            for op, field, value in conditions
        ]
        with self.lock:
            state = self._state(request)
            found = [
                p
                for p in state["profiles"].values()
                if filters.matches(conditions, lambda f, p=p: _profile_value(p, f))
            ]
            found = _sorted(found, request.arg("sort"), _profile_value)
            wants = self._wants_subscriptions(request)
            return self._page(
                request, found, lambda p: self._profile_resource(request, p, wants)
            )

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
            cursor = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
            links["next"] = self._url(
                request, f"{request.path}?page[cursor]={cursor}&page[size]={size}"
            )
        return {"data": [render(item) for item in chunk], "links": links}

    # == events =================================================================
    def _metric(self, state, name):
        metric = state["metrics"].get(name)
        if metric is None:
            metric = {"id": self._new_id(6)[2:], "name": name, "created": self.now()}
            metric["id"] = "M" + metric["id"][:5]
            state["metrics"][name] = metric
        return metric

    def _record_event(self, state, profile, attributes, name):
        """Store one event unless its unique_id was seen for profile+metric."""
        metric = self._metric(state, name)
        unique_id = attributes.get("unique_id")
        if unique_id:
            key = (profile["id"], metric["id"], unique_id)
            if key in state["event_keys"]:
                return None
            state["event_keys"].add(key)
        when = attributes.get("time")
        moment = filters.to_epoch(when) if when else self.now()
        event = {
            "id": self._new_id(),
            "profile_id": profile["id"],
            "metric_id": metric["id"],
            "metric": name,
            "timestamp": moment,
            "properties": dict(attributes.get("properties") or {}),
            "value": attributes.get("value"),
            "value_currency": attributes.get("value_currency"),
            "unique_id": unique_id or str(uuid.uuid4()),
            "received": self.now(),
        }
        state["events"].append(event)
        profile["last_event_date"] = max(profile["last_event_date"] or 0, moment)
        return event

    def _event_resource(self, request, event):
        attributes = {
            "timestamp": int(event["timestamp"]),
            "event_properties": event["properties"],
            "datetime": iso(event["timestamp"]),
            "uuid": event["unique_id"],
        }
        if event["value"] is not None:
            attributes["event_properties"] = {
                **event["properties"],
                "$value": event["value"],
            }
        return {
            "type": "event",
            "id": event["id"],
            "attributes": attributes,
            "relationships": {
                "profile": {"data": {"type": "profile", "id": event["profile_id"]}},
                "metric": {"data": {"type": "metric", "id": event["metric_id"]}},
            },
            "links": {"self": self._url(request, f"/api/events/{event['id']}")},
        }

    def _event_profile(self, state, attributes, pointer):
        profile_data = (attributes.get("profile") or {}).get("data") or {}
        return self._upsert(state, profile_data, pointer)[0]

    def create_event(self, request):
        attributes = request.json["data"]["attributes"]
        problem = _long_string(attributes, "/data/attributes")
        if problem:
            return self.error(400, "A single string cannot exceed 100KB.", problem)
        with self.lock:
            state = self._state(request)
            try:
                profile = self._event_profile(
                    state, attributes, "/data/attributes/profile/data"
                )
            except _ApiError as exc:
                return self._api_error(exc)
            name = attributes["metric"]["data"]["attributes"]["name"]
            self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def bulk_events(self, request):
        items = request.json["data"]["attributes"]["events-bulk-create"]["data"]
        total = sum(len(item["attributes"]["events"]["data"]) for item in items)
        if total > MAX_BULK_EVENTS:
            return self.error(
                400,
                f"At most {MAX_BULK_EVENTS} events per request; got {total}.",
                "/data/attributes/events-bulk-create/data",
            )
        base = "/data/attributes/events-bulk-create/data"
        problem = _long_string(items, base)
        if problem:
            return self.error(400, "A single string cannot exceed 100KB.", problem)
        with self.lock:
            state = self._state(request)
            resolved = []
            for index, item in enumerate(items):
                try:
                    profile = self._event_profile(
                        state,
                        item["attributes"],
                        f"{base}/{index}/attributes/profile/data",
                    )
                except _ApiError as exc:
                    return self._api_error(exc)
                resolved.append((profile, item["attributes"]["events"]["data"]))
            for profile, events in resolved:
                for event in events:
                    attributes = event["attributes"]
                    name = attributes["metric"]["data"]["attributes"]["name"]
                    self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def get_events(self, request):
        try:
            conditions = filters.parse(request.arg("filter"), EVENT_FILTERS)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        with self.lock:
            state = self._state(request)
            found = [
                e
                for e in state["events"]
                if filters.matches(conditions, lambda f, e=e: _event_value(e, f))
            ]
            found = _sorted(found, request.arg("sort") or "timestamp", _event_value)
            return self._page(
                request, found, lambda e: self._event_resource(request, e)
            )

    def get_event(self, request):
        with self.lock:
            state = self._state(request)
            for event in state["events"]:
                if event["id"] == request.path_params["id"]:
                    return {"data": self._event_resource(request, event)}
        return self.error(404, f"Event {request.path_params['id']} not found.")

    def get_metrics(self, request):
        with self.lock:
            state = self._state(request)
            data = [
                {
                    "type": "metric",
                    "id": m["id"],
                    "attributes": {"name": m["name"], "created": iso(m["created"])},
                }
                for m in state["metrics"].values()
            ]
        return {"data": data, "links": {"self": self._url(request, "/api/metrics")}}

    # == consent ================================================================
    def _list_from(self, state, relationships, pointer):
        list_id = (((relationships or {}).get("list") or {}).get("data") or {}).get(
            "id"
        )
        if list_id is None:
            return None
        if list_id not in state["lists"]:
            raise _ApiError(404, f"List {list_id} not found.", pointer)
        return state["lists"][list_id]

    def subscribe(self, request):
        data = request.json["data"]
        attributes = data["attributes"]
        profiles = attributes["profiles"]["data"]
        if len(profiles) > MAX_SUBSCRIBE:
            return self.error(
                400,
                f"At most {MAX_SUBSCRIBE} profiles per request; got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        historical = bool(attributes.get("historical_import"))
        with self.lock:
            state = self._state(request)
            try:
                target = self._list_from(
                    state, data.get("relationships"), "/data/relationships/list/data/id"
                )
                plans = []
                for index, item in enumerate(profiles):
                    pointer = f"/data/attributes/profiles/data/{index}"
                    channels = item["attributes"].get("subscriptions") or {}
                    consented = (
                        (channels.get("email") or {}).get("marketing") or {}
                    ).get("consented_at")
                    if historical and not consented:
                        raise _ApiError(
                            400,
                            "consented_at is required when historical_import is true.",
                            f"{pointer}/attributes/subscriptions/email/marketing",
                        )
                    if consented and filters.to_epoch(consented) > self.now() + 60:
                        raise _ApiError(
                            400,
                            "consented_at must be in the past.",
                            f"{pointer}/attributes/subscriptions/email/marketing/consented_at",
                        )
                    profile, _created = self._upsert(state, _identity(item), pointer)
                    plans.append((profile, channels))
            except (_ApiError, filters.FilterError) as exc:
                return self._api_error(exc)
            double = target is not None and target["opt_in_process"] == "double_opt_in"
            for profile, channels in plans:
                if target is not None:
                    if double and not historical:
                        profile["pending_lists"].add(target["id"])
                        continue
                    profile["lists"].add(target["id"])
                for channel, wanted in channels.items():
                    marketing = (wanted or {}).get("marketing")
                    if channel not in profile["subscriptions"] or not marketing:
                        continue
                    self._set_subscribed(
                        profile,
                        channel,
                        marketing.get("consented_at"),
                        attributes.get("custom_source"),
                        target,
                    )
        return Response(202, None)

    def _set_subscribed(self, profile, channel, consented_at, source, target=None):
        sub = profile["subscriptions"][channel]
        now = self.now()
        sub.update(
            consent="SUBSCRIBED",
            consent_timestamp=filters.to_epoch(consented_at) if consented_at else now,
            last_updated=now,
            method="API",
            custom_method_detail=source,
            double_optin=bool(target and target["opt_in_process"] == "double_opt_in"),
        )
        if channel == "email":
            sub["suppression"] = [
                s for s in sub["suppression"] if s["reason"] not in LIFTED_BY_SUBSCRIBE
            ]
            if target is not None:
                sub["list_suppressions"] = [
                    s for s in sub["list_suppressions"] if s["list_id"] != target["id"]
                ]
        profile["updated"] = now

    def _set_unsubscribed(self, profile, channel="email", method="API"):
        sub = profile["subscriptions"][channel]
        now = self.now()
        sub.update(
            consent="UNSUBSCRIBED",
            consent_timestamp=now,
            last_updated=now,
            method=method,
        )
        if channel == "email" and not any(
            s["reason"] == "UNSUBSCRIBE" for s in sub["suppression"]
        ):
            sub["suppression"].append({"reason": "UNSUBSCRIBE", "timestamp": now})
        profile["updated"] = now

    def unsubscribe(self, request):
        data = request.json["data"]
        profiles = data["attributes"]["profiles"]["data"]
        if len(profiles) > MAX_UNSUBSCRIBE:
            return self.error(
                400,
                f"At most {MAX_UNSUBSCRIBE} profiles per request; got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        with self.lock:
            state = self._state(request)
            try:
                target = self._list_from(
                    state, data.get("relationships"), "/data/relationships/list/data/id"
                )
                plans = [
                    self._upsert(
                        state, _identity(item), f"/data/attributes/profiles/data/{i}"
                    )[0]
                    for i, item in enumerate(profiles)
                ]
            except _ApiError as exc:
                return self._api_error(exc)
            for profile, item in zip(plans, profiles, strict=True):
                channels = item["attributes"].get("subscriptions") or {"email": {}}
                for channel in channels:
                    if channel in profile["subscriptions"]:
                        self._set_unsubscribed(profile, channel)
                if target is not None:
                    profile["lists"].discard(target["id"])
        return Response(202, None)

    def _suppression_job(self, request, kind):
        data = request.json["data"]
        profiles = ((data["attributes"].get("profiles") or {}).get("data")) or []
        if len(profiles) > MAX_SUPPRESS:
            return None, self.error(
                400,
                f"At most {MAX_SUPPRESS} email addresses per request; "
                f"got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        state = self._state(request)
        emails = [item["attributes"]["email"].lower() for item in profiles]
        relationships = data.get("relationships") or {}
        list_id = ((relationships.get("list") or {}).get("data") or {}).get("id")
        if list_id:
            if list_id not in state["lists"]:
                return None, self.error(
                    404,
                    f"List {list_id} not found.",
                    "/data/relationships/list/data/id",
                )
            emails += [
                p["email"]
                for p in state["profiles"].values()
                if list_id in p["lists"] and p["email"]
            ]
        job = self._new_job(state, kind, len(emails))
        job["emails"] = emails
        return job, None

    def suppress(self, request):
        with self.lock:
            job, problem = self._suppression_job(
                request, "profile-suppression-bulk-create-job"
            )
            if problem:
                return problem
            job["apply"] = "suppress"
            return Response(202, {"data": self._job_resource(request, job)})

    def unsuppress(self, request):
        with self.lock:
            job, problem = self._suppression_job(
                request, "profile-suppression-bulk-delete-job"
            )
            if problem:
                return problem
            job["apply"] = "unsuppress"
            return Response(202, {"data": self._job_resource(request, job)})

    def _suppress_email(self, state, email, reason="USER_SUPPRESSED"):
        profile = self._profile_by_email(state, email, create=True)
        sub = profile["subscriptions"]["email"]
        if not any(s["reason"] == reason for s in sub["suppression"]):
            sub["suppression"].append({"reason": reason, "timestamp": self.now()})
        sub["last_updated"] = profile["updated"] = self.now()
        return profile

    def _profile_by_email(self, state, email, create=False):
        email = email.lower()
        for profile in state["profiles"].values():
            if profile["email"] == email:
                return profile
        if not create:
            return None
        profile = self._blank_profile(state)
        profile["email"] = email
        state["profiles"][profile["id"]] = profile
        return profile

    # == lists ==================================================================
    def _list_resource(self, request, item):
        return {
            "type": "list",
            "id": item["id"],
            "attributes": {
                "name": item["name"],
                "created": iso(item["created"]),
                "updated": iso(item["updated"]),
                "opt_in_process": item["opt_in_process"],
            },
            "links": {"self": self._url(request, f"/api/lists/{item['id']}")},
        }

    def create_list(self, request):
        attributes = request.json["data"]["attributes"]
        with self.lock:
            state = self._state(request)
            list_id = self._new_id(6)[2:].upper()
            item = {
                "id": list_id,
                "name": attributes["name"],
                "opt_in_process": attributes.get("opt_in_process") or "single_opt_in",
                "created": self.now(),
                "updated": self.now(),
            }
            state["lists"][list_id] = item
            return Response(201, {"data": self._list_resource(request, item)})

    def get_lists(self, request):
        allowed = {
            "name": ("any", "equals"),
            "id": ("any", "equals"),
            "created": ("greater-than",),
            "updated": ("greater-than",),
        }
        try:
            conditions = filters.parse(request.arg("filter"), allowed)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        with self.lock:
            state = self._state(request)
            found = [
                item
                for item in state["lists"].values()
                if filters.matches(conditions, lambda f, item=item: item.get(f))
            ]
            return self._page(request, found, lambda i: self._list_resource(request, i))

    def get_list(self, request):
        with self.lock:
            item = self._state(request)["lists"].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"List {request.path_params['id']} not found.")
            return {"data": self._list_resource(request, item)}

    def get_list_profiles(self, request):
        with self.lock:
            state = self._state(request)
            list_id = request.path_params["id"]
            if list_id not in state["lists"]:
                return self.error(404, f"List {list_id} not found.")
            found = [p for p in state["profiles"].values() if list_id in p["lists"]]
            return self._page(
                request, found, lambda p: self._profile_resource(request, p)
            )

    def add_to_list(self, request):
        return self._list_membership(request, add=True)

    def remove_from_list(self, request):
        return self._list_membership(request, add=False)

    def _list_membership(self, request, add):
        with self.lock:
            state = self._state(request)
            list_id = request.path_params["id"]
            if list_id not in state["lists"]:
                return self.error(404, f"List {list_id} not found.")
            for index, ref in enumerate(request.json["data"]):
                profile = state["profiles"].get(ref["id"])
                if profile is None:
                    return self.error(
                        404, f"Profile {ref['id']} not found.", f"/data/{index}/id"
                    )
                if add:
                    profile["lists"].add(list_id)
                else:
                    profile["lists"].discard(list_id)
        return Response(204, None)

    # == bulk import jobs =======================================================
    def _new_job(self, state, kind, total):
        job = {
            "id": self._new_id(),
            "type": kind,
            "status": "queued",
            "created": self.now(),
            "started": None,
            "completed": None,
            "total": total,
            "completed_count": 0,
            "failed_count": 0,
            "errors": [],
            "profile_ids": [],
            "list_ids": [],
            "gets": 0,
        }
        state["jobs"][job["id"]] = job
        return job

    def _settle_jobs(self, state, touch=None):
        """Advance jobs: complete after ``job_seconds``, or one step per GET."""
        delay = float(self.sandbox.config.get("job_seconds", 0.5))
        for job in state["jobs"].values():
            if job["status"] == "complete":
                continue
            elapsed = self.now() - job["created"]
            if job is touch:
                job["gets"] += 1
            if elapsed >= delay or job["gets"] >= 2:
                self._run_job(state, job)
            elif job["gets"] >= 1 or elapsed >= delay / 2:
                job["status"] = "processing"
                job["started"] = job["started"] or self.now()

    def _run_job(self, state, job):
        job["started"] = job["started"] or self.now()
        action = job.get("apply")
        if action == "import":
            self._run_import(state, job)
        elif action == "suppress":
            for email in job["emails"]:
                self._suppress_email(state, email)
            job["completed_count"] = len(job["emails"])
        elif action == "unsuppress":
            for email in job["emails"]:
                profile = self._profile_by_email(state, email)
                if profile is None:
                    continue
                sub = profile["subscriptions"]["email"]
                sub["suppression"] = [
                    s for s in sub["suppression"] if s["reason"] != "USER_SUPPRESSED"
                ]
                profile["updated"] = self.now()
            job["completed_count"] = len(job["emails"])
        job["status"] = "complete"
        job["completed"] = self.now()

    def _run_import(self, state, job):
        for index, item in enumerate(job.pop("items")):
            pointer = f"/data/attributes/profiles/data/{index}"
            size = len(json.dumps(item))
            try:
                if size > MAX_PROFILE_BYTES:
                    raise _ApiError(
                        400,
                        f"Profile payload of {size} bytes exceeds 100KB.",
                        pointer,
                        code="profile_too_large",
                    )
                profile, _created = self._upsert(state, item, pointer)
            except _ApiError as exc:
                job["failed_count"] += 1
                job["errors"].append(
                    {
                        "id": self._new_id(),
                        "code": exc.code or "invalid",
                        "title": _DEFAULT_TITLES.get(exc.status, "Invalid input."),
                        "detail": exc.detail,
                        "source": {"pointer": exc.field or pointer},
                        "original_payload": item,
                    }
                )
                continue
            for list_id in job["list_ids"]:
                if list_id in state["lists"]:
                    profile["lists"].add(list_id)
            job["profile_ids"].append(profile["id"])
            job["completed_count"] += 1

    def _job_resource(self, request, job):
        attributes = {
            "status": job["status"],
            "created_at": iso(job["created"]),
            "total_count": job["total"],
            "completed_count": job["completed_count"],
            "completed_at": iso(job["completed"]),
        }
        if job["type"] == "profile-bulk-import-job":
            attributes.update(
                failed_count=job["failed_count"],
                started_at=iso(job["started"]),
                expires_at=iso(job["created"] + 7 * 86400),
            )
        else:
            attributes["skipped_count"] = 0
        resource = {
            "type": job["type"],
            "id": job["id"],
            "attributes": attributes,
            "links": {"self": self._url(request, f"/api/{job['type']}s/{job['id']}")},
        }
        if job["type"] == "profile-bulk-import-job":
            resource["relationships"] = {
                "lists": {"data": [{"type": "list", "id": i} for i in job["list_ids"]]}
            }
        return resource

    def create_import_job(self, request):
        data = request.json["data"]
        items = data["attributes"]["profiles"]["data"]
        if len(items) > MAX_IMPORT_PROFILES:
            return self.error(
                400,
                f"At most {MAX_IMPORT_PROFILES} profiles per job; got {len(items)}.",
                "/data/attributes/profiles/data",
            )
        lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
        with self.lock:
            state = self._state(request)
            for index, ref in enumerate(lists):
                if ref["id"] not in state["lists"]:
                    return self.error(
                        404,
                        f"List {ref['id']} not found.",
                        f"/data/relationships/lists/data/{index}/id",
                    )
            job = self._new_job(state, "profile-bulk-import-job", len(items))
            job.update(apply="import", items=items, list_ids=[r["id"] for r in lists])
            return Response(202, {"data": self._job_resource(request, job)})

    def _job(self, request, key, kind="profile-bulk-import-job"):
        state = self.account_state(request.account)
        job = state["jobs"].get(request.path_params[key])
        if job is None or job["type"] != kind:
            return state, None
        self._settle_jobs(state, touch=job)
        return state, job

    def get_suppression_job(self, request):
        kind = request.template.split("/")[2][:-1]
        with self.lock:
            _state, job = self._job(request, "job_id", kind)
            if job is None:
                return self.error(
                    404, f"Job {request.path_params['job_id']} not found."
                )
            return {"data": self._job_resource(request, job)}

    def get_import_job(self, request):
        with self.lock:
            _state, job = self._job(request, "job_id")
            if job is None:
                return self.error(
                    404, f"Job {request.path_params['job_id']} not found."
                )
            return {"data": self._job_resource(request, job)}

    def get_import_jobs(self, request):
        with self.lock:
            state = self._state(request)
            jobs = [
                j
                for j in state["jobs"].values()
                if j["type"] == "profile-bulk-import-job"
            ]
            return self._page(request, jobs, lambda j: self._job_resource(request, j))

    def get_import_errors(self, request):
        with self.lock:
            _state, job = self._job(request, "id")
            if job is None:
                return self.error(404, f"Job {request.path_params['id']} not found.")
            data = [
                {
                    "type": "import-error",
                    "id": error["id"],
                    "attributes": {k: v for k, v in error.items() if k != "id"},
                }
                for error in job["errors"]
            ]
            return {"data": data, "links": {"self": self._url(request, request.path)}}

    def get_job_profiles(self, request):
        with self.lock:
            state, job = self._job(request, "id")
            if job is None:
                return self.error(404, f"Job {request.path_params['id']} not found.")
            found = [
                state["profiles"][i]
                for i in job["profile_ids"]
                if i in state["profiles"]
            ]
            return self._page(
                request, found, lambda p: self._profile_resource(request, p)
            )

    # == catalog ================================================================
    def _catalog_resource(self, request, kind, item):
        attributes = {
            k: v
            for k, v in item.items()
            if k not in ("id", "item_id", "created", "updated")
        }
        attributes.update(created=iso(item["created"]), updated=iso(item["updated"]))
        resource = {
            "type": kind,
            "id": item["id"],
            "attributes": attributes,
            "links": {"self": self._url(request, f"/api/{kind}s/{item['id']}")},
        }
        if kind == "catalog-variant":
            resource["relationships"] = {
                "item": {"data": {"type": "catalog-item", "id": item["item_id"]}}
            }
        return resource

    def _create_catalog(self, request, kind, store):
        data = request.json["data"]
        attributes = dict(data["attributes"])
        catalog_id = "$custom:::{}:::{}".format(
            attributes.get("catalog_type") or "$default", attributes["external_id"]
        )
        with self.lock:
            state = self._state(request)
            if catalog_id in state[store]:
                return self.error(
                    409,
                    f"A {kind} with id {catalog_id} already exists.",
                    "/data/attributes/external_id",
                    code="conflict",
                )
            item = {
                "id": catalog_id,
                **attributes,
                "integration_type": "$custom",
                "catalog_type": attributes.get("catalog_type") or "$default",
                "published": attributes.get("published", True),
                "created": self.now(),
                "updated": self.now(),
            }
            if kind == "catalog-variant":
                item_id = data["relationships"]["item"]["data"]["id"]
                if item_id not in state["catalog_items"]:
                    return self.error(
                        404,
                        f"Catalog item {item_id} not found.",
                        "/data/relationships/item/data/id",
                    )
                item["item_id"] = item_id
            state[store][catalog_id] = item
            return Response(201, {"data": self._catalog_resource(request, kind, item)})

    def _get_catalog(self, request, kind, store):
        with self.lock:
            item = self._state(request)[store].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"{kind} {request.path_params['id']} not found.")
            return {"data": self._catalog_resource(request, kind, item)}

    def _list_catalog(self, request, kind, store, allowed):
        try:
            conditions = filters.parse(request.arg("filter"), allowed)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        with self.lock:
            state = self._state(request)
            found = [
                item
                for item in state[store].values()
                if filters.matches(
                    conditions, lambda f, item=item: _catalog_value(item, f)
                )
            ]
            return self._page(
                request, found, lambda i: self._catalog_resource(request, kind, i)
            )

    def _update_catalog(self, request, kind, store):
        data = request.json["data"]
        if data.get("id") != request.path_params["id"]:
            return self.error(
                409, "The id in the body does not match the URL.", "/data/id"
            )
        with self.lock:
            state = self._state(request)
            item = state[store].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"{kind} {request.path_params['id']} not found.")
            before = item.get("inventory_quantity")
            item.update(data.get("attributes") or {})
            item["updated"] = self.now()
            after = item.get("inventory_quantity")
            if kind == "catalog-variant" and (before or 0) <= 0 and (after or 0) > 0:
                for sub in state["bis"]:
                    if sub["variant_id"] == item["id"] and not sub["notified"]:
                        sub["notified"] = self.now()
            return {"data": self._catalog_resource(request, kind, item)}

    def _delete_catalog(self, request, store):
        with self.lock:
            state = self._state(request)
            if state[store].pop(request.path_params["id"], None) is None:
                return self.error(404, f"{request.path_params['id']} not found.")
        return Response(204, None)

    def get_catalog_items(self, request):
        allowed = {
            "ids": ("any",),
            "title": ("contains",),
            "published": ("equals",),
            "category.id": ("equals",),
        }
        return self._list_catalog(request, "catalog-item", "catalog_items", allowed)

    def create_catalog_item(self, request):
        return self._create_catalog(request, "catalog-item", "catalog_items")

    def get_catalog_item(self, request):
        return self._get_catalog(request, "catalog-item", "catalog_items")

    def update_catalog_item(self, request):
        return self._update_catalog(request, "catalog-item", "catalog_items")

    def delete_catalog_item(self, request):
        return self._delete_catalog(request, "catalog_items")

    def get_catalog_variants(self, request):
        allowed = {
            "ids": ("any",),
            "item.id": ("equals",),
            "sku": ("equals",),
            "title": ("contains",),
            "published": ("equals",),
        }
        return self._list_catalog(
            request, "catalog-variant", "catalog_variants", allowed
        )

    def create_catalog_variant(self, request):
        return self._create_catalog(request, "catalog-variant", "catalog_variants")

    def get_catalog_variant(self, request):
        return self._get_catalog(request, "catalog-variant", "catalog_variants")

    def update_catalog_variant(self, request):
        return self._update_catalog(request, "catalog-variant", "catalog_variants")

    def delete_catalog_variant(self, request):
        return self._delete_catalog(request, "catalog_variants")

    def create_bis(self, request):
        data = request.json["data"]
        variant_id = data["relationships"]["variant"]["data"]["id"]
        with self.lock:
            state = self._state(request)
            if variant_id not in state["catalog_variants"]:
                return self.error(
                    404,
                    f"Catalog variant {variant_id} not found.",
                    "/data/relationships/variant/data/id",
                )
            profile_data = (data["attributes"].get("profile") or {}).get("data")
            if not profile_data:
                return self.error(
                    400, "A profile is required.", "/data/attributes/profile"
                )
            try:
                profile, _created = self._upsert(
                    state, profile_data, "/data/attributes/profile/data"
                )
            except _ApiError as exc:
                return self._api_error(exc)
            state["bis"].append(
                {
                    "profile_id": profile["id"],
                    "variant_id": variant_id,
                    "channels": data["attributes"]["channels"],
                    "created": self.now(),
                    "notified": None,
                }
            )
        return Response(202, None)

    # == webhooks ===============================================================
    def _webhook_resource(self, request, hook):
        return {
            "type": "webhook",
            "id": hook["id"],
            "attributes": {
                "name": hook["name"],
                "endpoint_url": hook["endpoint_url"],
                "enabled": hook["enabled"],
                "created_at": iso(hook["created"]),
                "updated_at": iso(hook["created"]),
            },
            "relationships": {
                "webhook-topics": {
                    "data": [{"type": "webhook-topic", "id": t} for t in hook["topics"]]
                }
            },
            "links": {"self": self._url(request, f"/api/webhooks/{hook['id']}")},
        }

    def create_webhook(self, request):
        data = request.json["data"]
        attributes = data["attributes"]
        topics = [t["id"] for t in data["relationships"]["webhook-topics"]["data"]]
        unknown = [t for t in topics if t not in METRIC_NAMES]
        if unknown:
            return self.error(
                400,
                f"Unknown webhook topic {unknown[0]!r}.",
                "/data/relationships/webhook-topics/data",
            )
        if len(attributes["secret_key"]) < 16:
            return self.error(
                400,
                "secret_key must be at least 16 characters.",
                "/data/attributes/secret_key",
            )
        with self.lock:
            state = self._state(request)
            hook = {
                "id": self._new_id(),
                "name": attributes["name"],
                "endpoint_url": attributes["endpoint_url"],
                "secret": attributes["secret_key"],
                "topics": topics,
                "enabled": True,
                "created": self.now(),
            }
            state["webhooks"][hook["id"]] = hook
            return Response(201, {"data": self._webhook_resource(request, hook)})

    def get_webhooks(self, request):
        with self.lock:
            hooks = list(self._state(request)["webhooks"].values())
            data = [self._webhook_resource(request, h) for h in hooks]
        return {"data": data, "links": {"self": self._url(request, "/api/webhooks")}}

    def get_webhook(self, request):
        with self.lock:
            hook = self._state(request)["webhooks"].get(request.path_params["id"])
            if hook is None:
                return self.error(
                    404, f"Webhook {request.path_params['id']} not found."
                )
            return {"data": self._webhook_resource(request, hook)}

    def delete_webhook(self, request):
        with self.lock:
            if (
                self._state(request)["webhooks"].pop(request.path_params["id"], None)
                is None
            ):
                return self.error(
                    404, f"Webhook {request.path_params['id']} not found."
                )
        return Response(204, None)

    def get_webhook_topics(self, request):
        data = [
            {"type": "webhook-topic", "id": topic, "attributes": {"name": name}}
            for topic, name in METRIC_NAMES.items()
        ]
        return {
            "data": data,
            "links": {"self": self._url(request, "/api/webhook-topics")},
        }

    def _fire(self, state, topic, profile, event):
        """Send the signed webhook of ``topic`` to each subscribed endpoint."""
        for hook in state["webhooks"].values():
            if not hook["enabled"] or (hook["topics"] and topic not in hook["topics"]):
                continue
            timestamp = iso(self.now())
            body = {
                "data": [
                    {
                        "topic": topic,
                        "external_id": event["id"],
                        "payload": {
                            "type": "event",
                            "id": event["id"],
                            "attributes": {
                                "timestamp": int(event["timestamp"]),
                                "datetime": iso(event["timestamp"]),
                                "event_properties": event["properties"],
                                "uuid": event["unique_id"],
                            },
                            "relationships": {
                                "profile": {
                                    "data": {"type": "profile", "id": profile["id"]}
                                },
                                "metric": {
                                    "data": {"type": "metric", "id": event["metric_id"]}
                                },
                            },
                            "included": [
                                {
                                    "type": "profile",
                                    "id": profile["id"],
                                    "attributes": {
                                        "email": profile["email"],
                                        "external_id": profile["external_id"],
                                    },
                                }
                            ],
                        },
                    }
                ],
                "meta": {
                    "klaviyo_account_id": state["account_id"],
                    "klaviyo_webhook_id": hook["id"],
                    "timestamp": timestamp,
                },
            }
            raw = json.dumps(body).encode()
            headers = {
                "Content-Type": "application/json",
                "Klaviyo-Webhook-Id": hook["id"],
                "Klaviyo-Timestamp": timestamp,
                "Klaviyo-Signature": sign_webhook(hook["secret"], raw, timestamp),
            }
            self.sandbox.send_webhook(
                hook["endpoint_url"], raw, headers, provider=self.name
            )

    # == ESP-side actions =======================================================
    def actions(self):
        return {
            "unsubscribe": self.action_unsubscribe,
            "suppress": self.action_suppress,
            "confirm_opt_in": self.action_confirm_opt_in,
        }

    def _targets(self, email, account, create):
        """``[(account_key, state, profile)]`` the action applies to."""
        keys = [account] if account else list(self.accounts)
        found = []
        for key in keys:
            state = self.account_state(key)
            profile = self._profile_by_email(
                state, email, create=bool(account) and create
            )
            if profile is not None:
                found.append((key, state, profile))
        if not found:
            raise KeyError(f"no Klaviyo profile with email {email!r}")
        return found

    def _system_event(self, state, profile, topic, properties):
        event = self._record_event(
            state,
            profile,
            {"properties": properties, "unique_id": self._new_id()},
            METRIC_NAMES[topic],
        )
        self._fire(state, topic, profile, event)
        return event

    def action_unsubscribe(self, email, account=None, method="PREFERENCE_PAGE"):
        """The person unsubscribes in Klaviyo (preference page)."""
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=True):
                self._set_unsubscribed(profile, "email", method=method)
                self._system_event(
                    state, profile, TOPICS["unsubscribe"], {"method": method}
                )
                done.append({"account": key, "profile_id": profile["id"]})
            return {"unsubscribed": email.lower(), "profiles": done}

    def action_suppress(self, email, reason="USER_SUPPRESSED", account=None):
        """Klaviyo suppresses the address (bounce, spam report, manual)."""
        if reason not in SUPPRESSION_REASONS:
            raise ValueError(f"reason must be one of {SUPPRESSION_REASONS}")
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=True):
                self._suppress_email(state, profile["email"], reason)
                topic = TOPICS.get(reason, TOPICS["USER_SUPPRESSED"])
                self._system_event(state, profile, topic, {"reason": reason})
                done.append({"account": key, "profile_id": profile["id"]})
            return {"suppressed": email.lower(), "reason": reason, "profiles": done}

    def action_confirm_opt_in(self, email, account=None):
        """The person clicks the double opt-in confirmation link."""
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=False):
                for list_id in sorted(profile["pending_lists"]):
                    target = state["lists"].get(list_id)
                    profile["lists"].add(list_id)
                    self._set_subscribed(
                        profile, "email", None, "double opt-in", target
                    )
                profile["pending_lists"].clear()
                self._system_event(
                    state, profile, TOPICS["subscribe"], {"method": "double_opt_in"}
                )
                done.append({"account": key, "profile_id": profile["id"]})
            return {"confirmed": email.lower(), "profiles": done}

    # == inspection =============================================================
    def dump(self, account=None):
        with self.lock:
            for state in self.accounts.values():
                self._settle_jobs(state)
            return super().dump(account)

    def ui_rows(self, account=None):
        rows = []
        with self.lock:
            for key, state in self.accounts.items():
                if account and key != account:
                    continue
                self._settle_jobs(state)
                for profile in state["profiles"].values():
                    rows.append(
                        {
                            "account": f"{state['account_id']} ({_mask(key)})",
                            "email": profile["email"]
                            or profile["external_id"]
                            or profile["id"],
                            "consent": _consent_text(profile),
                            "events": [
                                {
                                    "time": e["timestamp"],
                                    "name": e["metric"],
                                    "detail": e["properties"].get("OrderId")
                                    or e["properties"].get("reason")
                                    or "",
                                }
                                for e in state["events"]
                                if e["profile_id"] == profile["id"]
                            ],
                        }
                    )
        return rows

    def handler_error(self, request, exc):
        """A body missing what the handler needs (validation off) is a 400."""
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


App = KlaviyoApp


class _ApiError(Exception):
    def __init__(self, status, detail, field=None, code=None, meta=None):
        super().__init__(detail)
        self.status, self.detail, self.field, self.code, self.meta = (
            status,
            detail,
            field,
            code,
            meta,
        )


# == helpers =====================================================================
def _channel():
    return {
        "consent": "NEVER_SUBSCRIBED",
        "consent_timestamp": None,
        "last_updated": None,
        "method": None,
        "custom_method_detail": None,
        "double_optin": None,
        "suppression": [],
        "list_suppressions": [],
    }


def _subscriptions_out(profile):
    email = profile["subscriptions"]["email"]
    sms = profile["subscriptions"]["sms"]
    return {
        "email": {
            "marketing": {
                "can_receive_email_marketing": email["consent"] == "SUBSCRIBED"
                and not email["suppression"],
                "consent": email["consent"],
                "consent_timestamp": iso(email["consent_timestamp"]),
                "last_updated": iso(email["last_updated"]),
                "method": email["method"],
                "method_detail": "",
                "custom_method_detail": email["custom_method_detail"],
                "double_optin": email["double_optin"],
                "suppression": [
                    {"reason": s["reason"], "timestamp": iso(s["timestamp"])}
                    for s in email["suppression"]
                ],
                "list_suppressions": [
                    {**s, "timestamp": iso(s["timestamp"])}
                    for s in email["list_suppressions"]
                ],
            }
        },
        "sms": {
            "marketing": {
                "can_receive_sms_marketing": sms["consent"] == "SUBSCRIBED",
                "consent": sms["consent"],
                "consent_timestamp": iso(sms["consent_timestamp"]),
                "method": sms["method"],
                "method_detail": "",
                "last_updated": iso(sms["last_updated"]),
            }
        },
    }


def _profile_value(profile, field):
    if field in ("created", "updated"):
        return profile[field]
    if field.startswith("subscriptions.email.marketing."):
        rest = field[len("subscriptions.email.marketing.") :]
        group, _sep, attr = rest.partition(".")
        entries = profile["subscriptions"]["email"].get(group) or []
        return [entry.get(attr) for entry in entries]
    return profile.get(field)


def _event_value(event, field):
    if field in ("datetime", "timestamp"):
        return event["timestamp"]
    return event.get(field)


def _catalog_value(item, field):
    if field == "ids":
        return item["id"]
    if field == "item.id":
        return item.get("item_id")
    return item.get(field)


def _sorted(items, sort, lookup):
    if not sort:
        return items
    field = sort.lstrip("-")

    def key(item):
        value = lookup(item, field)
        if isinstance(value, list):
            value = max((v for v in value if v is not None), default=None)
        return (value is None, value if value is not None else 0)

    return sorted(items, key=key, reverse=sort.startswith("-"))


def _lower(value):
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value.lower() if isinstance(value, str) else value


def _identity(item):
    attributes = item.get("attributes") or {}
    identity = {
        k: attributes[k]
        for k in ("email", "phone_number", "external_id")
        if attributes.get(k)
    }
    resource = {"type": "profile", "attributes": identity}
    if item.get("id"):
        resource["id"] = item["id"]
    return resource


def _long_string(value, pointer):
    """Pointer of the first string longer than 100KB, or ``None``."""
    if isinstance(value, str):
        return pointer if len(value.encode()) > MAX_PROFILE_BYTES else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, sub in items:
        found = _long_string(sub, f"{pointer}/{key}")
        if found:
            return found
    return None


def _consent_text(profile):
    email = profile["subscriptions"]["email"]
    text = email["consent"].lower().replace("_", " ")
    if email["suppression"]:
        reasons = ", ".join(s["reason"] for s in email["suppression"])
        text += f" (suppressed: {reasons})"
    if profile["pending_lists"]:
        text += " (double opt-in pending)"
    return text


def _mask(key):
    return key[:10] + "…" + key[-4:] if len(key) > 14 else key
