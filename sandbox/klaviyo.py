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
import hashlib
import urllib.parse
import uuid

from . import klaviyo_filters as filters
from . import specs
from .core import ProviderApp, Response
from .klaviyo_catalog import CatalogMixin
from .klaviyo_common import (
    DEFAULT_CODES,
    DEFAULT_TITLES,
    EMAIL_PATTERN,
    EVENT_FILTERS,
    IDENTIFIERS,
    KEY_PREFIX,
    MAX_BULK_BYTES,
    MAX_BULK_EVENTS,
    MAX_PROFILE_BYTES,
    METRIC_NAMES,
    PROFILE_FIELDS,
    PROFILE_FILTERS,
    REVISION_PATTERN,
    SUPPRESSION_REASONS,
    TOPICS,
    ApiError,
    blank_channel,
    consent_text,
    event_value,
    iso,
    long_string,
    lowercase_values,
    mask_key,
    profile_value,
    sign_webhook,
    sort_items,
    subscriptions_out,
)
from .klaviyo_consent import ConsentMixin
from .klaviyo_identity import IdentityMixin
from .klaviyo_jobs import JobsMixin
from .klaviyo_webhooks import WebhooksMixin
from .ratelimit import parse_rate


class KlaviyoApp(
    IdentityMixin, ConsentMixin, JobsMixin, CatalogMixin, WebhooksMixin, ProviderApp
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
                "email": blank_channel(),
                "sms": blank_channel(),
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
        for name in IDENTIFIERS:
            value = attributes.get(name)
            if not value:
                continue
            if name == "email":
                value = value.lower()
            profile_id = state["index"][name].get(value)
            if profile_id and all(p["id"] != profile_id for p in matches):
                matches.append(state["profiles"][profile_id])
        return matches

    def _reindex(self, state, profile, before):
        """Point the identifier indexes at ``profile`` after a change."""
        for name in IDENTIFIERS:
            index = state["index"][name]
            old, new = before.get(name), profile[name]
            if old and old != new and index.get(old) == profile["id"]:
                del index[old]
            if new:
                index[new] = profile["id"]

    def _check_identity(self, attributes, pointer):
        email = attributes.get("email")
        if email is not None and not EMAIL_PATTERN.match(str(email)):
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

        Raises :class:`ApiError` on conflicts and bad identifiers.
        """
        attributes = resource.get("attributes") or {}
        problem = self._check_identity(attributes, f"{pointer}/attributes")
        if problem:
            raise ApiError(400, problem[1], problem[0])
        matches = self._find(state, attributes, resource.get("id"))
        if resource.get("id") and not matches:
            raise ApiError(404, f"Profile {resource['id']} not found", f"{pointer}/id")
        if len(matches) > 1:
            raise ApiError(
                409,
                "A profile already exists with one of these identifiers.",
                f"{pointer}/attributes",
                code="duplicate_profile",
                meta={"duplicate_profile_id": matches[1]["id"]},
            )
        if not matches and not any(
            attributes.get(name) for name in ("email", "external_id", "phone_number")
        ):
            raise ApiError(
                400,
                "A profile requires one of email, phone_number or external_id.",
                f"{pointer}/attributes",
            )
        if resource.get("id"):
            self._identity_conflict(state, matches[0], attributes, pointer)
        created = not matches
        profile = matches[0] if matches else self._blank_profile(state)
        if created:
            state["profiles"][profile["id"]] = profile
        before = {name: profile[name] for name in IDENTIFIERS}
        self._apply(profile, attributes, resource.get("meta"))
        self._reindex(state, profile, before)
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
            attributes["subscriptions"] = subscriptions_out(profile)
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
        """``POST /api/profile-import``: upsert one profile by
        id/email/external_id/phone; 201 new, 200 existing.
        """
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
            except ApiError as exc:
                return self._api_error(exc)
            body = {
                "data": self._profile_resource(
                    request, profile, self._wants_subscriptions(request)
                ),
                "links": {"self": self._url(request, "/api/profile-import")},
            }
        return Response(201 if created else 200, body)

    def create_profile(self, request):
        """``POST /api/profiles``."""
        data = request.json["data"]
        with self.lock:
            state = self._state(request)
            attributes = data.get("attributes") or {}
            existing = self._find(state, attributes)
            if existing:
                return self._api_error(
                    ApiError(
                        409,
                        "A profile already exists with one of these identifiers.",
                        "/data/attributes",
                        code="duplicate_profile",
                        meta={"duplicate_profile_id": existing[0]["id"]},
                    )
                )
            try:
                profile, _created = self._upsert(state, data)
            except ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(201, body)

    def update_profile(self, request):
        """``PATCH /api/profiles/{id}``."""
        data = request.json["data"]
        if data.get("id") != request.path_params["id"]:
            return self.error(
                409, "The id in the body does not match the URL.", "/data/id"
            )
        with self.lock:
            state = self._state(request)
            try:
                profile, _created = self._upsert(state, data)
            except ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(200, body)

    def get_profile(self, request):
        """``GET /api/profiles/{id}``."""
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
        """``GET /api/profiles``: filter, sort and page profiles (``additional-fields``
        for consent).
        """
        try:
            conditions = filters.parse(request.arg("filter"), PROFILE_FILTERS)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        conditions = [
            (op, field, lowercase_values(value) if field == "email" else value)
            for op, field, value in conditions
        ]
        with self.lock:
            state = self._state(request)
            found = [
                p
                for p in state["profiles"].values()
                if filters.matches(conditions, lambda f, p=p: profile_value(p, f))
            ]
            found = sort_items(found, request.arg("sort"), profile_value)
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
        """``POST /api/events``: record one event (202); a repeated ``unique_id`` stores
        nothing.
        """
        attributes = request.json["data"]["attributes"]
        problem = long_string(attributes, "/data/attributes")
        if problem:
            return self.error(400, "A single string cannot exceed 100KB.", problem)
        with self.lock:
            state = self._state(request)
            try:
                profile = self._event_profile(
                    state, attributes, "/data/attributes/profile/data"
                )
            except ApiError as exc:
                return self._api_error(exc)
            name = attributes["metric"]["data"]["attributes"]["name"]
            self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def bulk_events(self, request):
        """``POST /api/event-bulk-create-jobs``: up to 1,000 events for several profiles
        (202).
        """
        items = request.json["data"]["attributes"]["events-bulk-create"]["data"]
        total = sum(len(item["attributes"]["events"]["data"]) for item in items)
        if total > MAX_BULK_EVENTS:
            return self.error(
                400,
                f"At most {MAX_BULK_EVENTS} events per request; got {total}.",
                "/data/attributes/events-bulk-create/data",
            )
        base = "/data/attributes/events-bulk-create/data"
        problem = long_string(items, base)
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
                except ApiError as exc:
                    return self._api_error(exc)
                resolved.append((profile, item["attributes"]["events"]["data"]))
            for profile, events in resolved:
                for event in events:
                    attributes = event["attributes"]
                    name = attributes["metric"]["data"]["attributes"]["name"]
                    self._record_event(state, profile, attributes, name)
        return Response(202, None)

    def get_events(self, request):
        """``GET /api/events``."""
        try:
            conditions = filters.parse(request.arg("filter"), EVENT_FILTERS)
        except filters.FilterError as exc:
            return self.error(400, str(exc), field="query.filter")
        with self.lock:
            state = self._state(request)
            found = [
                e
                for e in state["events"]
                if filters.matches(conditions, lambda f, e=e: event_value(e, f))
            ]
            found = sort_items(found, request.arg("sort") or "timestamp", event_value)
            return self._page(
                request, found, lambda e: self._event_resource(request, e)
            )

    def get_event(self, request):
        """``GET /api/events/{id}``."""
        with self.lock:
            state = self._state(request)
            for event in state["events"]:
                if event["id"] == request.path_params["id"]:
                    return {"data": self._event_resource(request, event)}
        return self.error(404, f"Event {request.path_params['id']} not found.")

    def get_metrics(self, request):
        """``GET /api/metrics``."""
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

    # == ESP-side actions =======================================================
    def actions(self):
        """ESP-side changes a test can trigger (they fire webhooks)."""
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

    def action_unsubscribe(
        self, email, account=None, method="PREFERENCE_PAGE", list_id=None
    ):
        """The person unsubscribes in Klaviyo (from one list, or globally)."""
        with self.lock:
            done = []
            for key, state, profile in self._targets(email, account, create=True):
                if list_id:
                    self._unsubscribe_from_list(profile, list_id)
                else:
                    self._set_unsubscribed(profile, "email", method=method)
                self._system_event(
                    state,
                    profile,
                    TOPICS["unsubscribe"],
                    {"method": method, "list_id": list_id},
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
__all__ = ["App", "KlaviyoApp", "iso", "sign_webhook"]
