"""Klaviyo behind the :class:`providers.base.EspAdapter` interface.

Every call goes through :meth:`KlaviyoAdapter._request`; the bodies are built
by ``payloads.py`` from the engine's plain values. Error documents (JSON:API
``errors``) become classified :class:`EspError` without credentials.
"""

import datetime
import hashlib
import hmac
import json
import logging
from urllib.parse import quote, urlsplit

from ..base import (
    BulkJob,
    DeliveryResult,
    ErrorCategory,
    EspAdapter,
    EspError,
    category_for_status,
    redact,
)
from ..events import ConsentStatus, ConsentUpdate
from ..http import parse_rate_limit, parse_retry_after
from ..wire import parse_timestamp, response_json
from . import bulk_consent, const, identity
from . import payloads as p

_logger = logging.getLogger(__name__)


def _encode(body):
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def chunk_profiles(
    profiles, max_count=const.MAX_BULK_PROFILES, max_bytes=const.MAX_BULK_BYTES
):
    """Split ``profiles`` into lists one bulk import job accepts.

    Each list holds at most ``max_count`` profiles and serialises under
    ``max_bytes`` (with room for the job envelope).
    """
    budget = max_bytes - 1024
    chunk, size = [], 0
    for profile in profiles:
        weight = len(_encode(p.build_profile_resource(profile).dump())) + 1
        if chunk and (len(chunk) >= max_count or size + weight > budget):
            yield chunk
            chunk, size = [], 0
        chunk.append(profile)
        size += weight
    if chunk:
        yield chunk


def chunk_events(order_events, max_events=const.MAX_BULK_EVENTS):
    """Split order events into lists of at most ``max_events`` Klaviyo events.

    A placed order counts one event per line on top of "Placed Order".
    """
    chunk, count = [], 0
    for event in order_events:
        weight = p.count_events(event)
        if chunk and count + weight > max_events:
            yield chunk
            chunk, count = [], 0
        chunk.append(event)
        count += weight
    if chunk:
        yield chunk


def _field_from_source(source):
    """``/data/attributes/location/zip`` -> ``location.zip``."""
    if not isinstance(source, dict):
        return None
    if source.get("parameter"):
        return str(source["parameter"])
    pointer = str(source.get("pointer") or "").strip("/")
    if not pointer or pointer == "data":
        return None
    parts = pointer.split("/")
    if "attributes" in parts:
        parts = parts[parts.index("attributes") + 1 :]
    return ".".join(parts) or None


def _parse_time(value):
    return parse_timestamp(value)


def _dig(doc, *keys):
    for key in keys:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


class KlaviyoAdapter(EspAdapter):
    """Klaviyo API (revision ``settings.klaviyo_revision``) with a private key."""

    provider = "klaviyo"

    def __init__(self, settings, transport=None):
        super().__init__(settings, transport=transport)
        self.last_rate_limit = {}

    # --- the request chokepoint ----------------------------------------------
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

    def _request(self, method, path, *, json=None, params=None):
        """Send one request to Klaviyo; return the response or raise EspError."""
        data = _encode(json) if json is not None else None
        try:
            response = self.transport.send(
                method,
                self._url(path),
                headers=self._headers(data is not None),
                data=data,
                params=params,
            )
        except EspError as exc:
            exc.message = redact(exc.message, self.settings.secrets)
            exc.args = (exc.message,)
            raise
        self.last_rate_limit = parse_rate_limit(response.headers)
        if response.status_code >= 400:
            raise self._error(response)
        return response

    def _error(self, response):
        """Turn a Klaviyo error answer into a classified EspError."""
        status = response.status_code
        try:
            errors = response.json().get("errors") or []
        except (ValueError, AttributeError):
            errors = []
        details, field, code = [], None, None
        for error in errors[:5] if isinstance(errors, list) else ():
            if not isinstance(error, dict):
                continue
            detail = error.get("detail") or error.get("title")
            if detail and detail not in details:
                details.append(str(detail))
            code = code or error.get("code")
            field = field or _field_from_source(error.get("source"))
        message = "; ".join(details) or (
            f"Klaviyo answered {response.reason or 'an error'}".strip()
        )
        category = category_for_status(status)
        if status == 409:  # duplicate / conflict: the data must change
            category = ErrorCategory.DATA
        retry_after = None
        if category == ErrorCategory.RATE_LIMIT:
            reset = self.last_rate_limit.get("reset")
            try:
                retry_after = parse_retry_after(response.headers, default=reset)
            except (TypeError, ValueError):  # unreadable HTTP date
                retry_after = reset
        return EspError(
            redact(message, self.settings.secrets),
            category=category,
            status=status,
            field=field,
            code=code,
            retry_after=retry_after,
        )

    _json = staticmethod(response_json)

    def _result(self, external_id="", requests=1, **detail):
        detail["rate_limit"] = dict(self.last_rate_limit)
        return DeliveryResult(external_id=external_id, requests=requests, detail=detail)

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
        data = self._json(self._request("GET", const.PATH_ACCOUNTS)).get("data")
        account = data[0] if isinstance(data, list) and data else {}
        name = _dig(account, "attributes", "contact_information", "organization_name")
        account_id = account.get("id") or "?"
        if name:
            return f"Klaviyo account {name} ({account_id})"
        return f"Klaviyo account {account_id}"

    # --- profiles and consent ---------------------------------------------------
    def upsert_profile(self, profile):
        self._require_email(profile.email)
        body = p.ProfileImportRequest(data=p.build_profile_resource(profile))
        response = self._request("POST", const.PATH_PROFILE_IMPORT, json=body.dump())
        profile_id = _dig(self._json(response), "data", "id") or ""
        return self._result(profile_id, created=response.status_code == 201)

    def change_email(self, change):
        """Move the profile to the new address (see :mod:`.identity`)."""
        return identity.change_email(self, change)

    def update_consent(self, consent):
        """Subscribe (with evidence), unsubscribe globally or suppress.

        A person who never opted in is never subscribed: nothing is sent.
        """
        if consent.status == ConsentStatus.NEVER and not consent.suppressed:
            return DeliveryResult(
                skipped_reason="No opt-in recorded in Odoo: never subscribed.",
                requests=0,
            )
        self._require_email(consent.email)
        if consent.suppressed:
            body = p.build_suppress_request([consent.email])
            path, action = const.PATH_SUPPRESS_JOBS, "suppressed"
        elif consent.status == ConsentStatus.SUBSCRIBED:
            consented_at = p.utc(consent.consented_at)
            now = datetime.datetime.now(datetime.UTC)
            if consented_at and consented_at > now:
                consented_at = now  # Klaviyo wants consent in the past
            body = p.build_subscribe_request(
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
            body = p.build_unsubscribe_request([consent.email])
            path, action = const.PATH_UNSUBSCRIBE_JOBS, "unsubscribed"
        self._request("POST", path, json=body.dump())
        return self._result(action=action)

    # --- orders ------------------------------------------------------------------
    def send_order_event(self, event):
        self._require_email(event.order.email)
        cores = p.build_events(event)
        for core in cores:
            body = p.build_event_request(core, event.order)
            self._request("POST", const.PATH_EVENTS, json=body.dump())
        return self._result(
            event.unique_id,
            requests=len(cores),
            metric=const.METRIC_BY_KIND[event.kind],
        )

    # --- catalogue -----------------------------------------------------------------
    def _inventory_policy(self):
        return self.settings.extra.get(
            "klaviyo_inventory_policy", const.DEFAULT_INVENTORY_POLICY
        )

    def _create_or_update(self, create_path, create_body, update_path, update_body):
        """POST; on Klaviyo's 409 duplicate answer PATCH. Return (created, calls)."""
        try:
            self._request("POST", create_path, json=create_body.dump())
            return True, 1
        except EspError as exc:
            if exc.status != 409:
                raise
        self._request("PATCH", update_path, json=update_body.dump())
        return False, 2

    def upsert_catalog_item(self, item):
        if not item.url:
            raise EspError(
                f"Product {item.title!r} has no URL; Klaviyo catalog items need one.",
                category=ErrorCategory.DATA,
                field="url",
            )
        item_id = p.catalog_id(item.external_id)
        created, calls = self._create_or_update(
            const.PATH_CATALOG_ITEMS,
            p.build_item_create(item),
            const.PATH_CATALOG_ITEM.format(id=quote(item_id, safe="$:")),
            p.build_item_update(item),
        )
        policy = self._inventory_policy()
        for variant in item.variants:
            variant_id = p.catalog_id(variant.external_id)
            _created, variant_calls = self._create_or_update(
                const.PATH_CATALOG_VARIANTS,
                p.build_variant_create(item, variant, policy),
                const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:")),
                p.build_variant_update(item, variant, policy),
            )
            calls += variant_calls
        return self._result(item_id, requests=calls, created=created)

    def update_inventory(self, levels):
        missing, calls = [], 0
        for level in levels:
            variant_id = p.catalog_id(level.variant_external_id)
            path = const.PATH_CATALOG_VARIANT.format(id=quote(variant_id, safe="$:"))
            calls += 1
            try:
                self._request(
                    "PATCH", path, json=p.build_inventory_update(level).dump()
                )
            except EspError as exc:
                if exc.status != 404:
                    raise
                missing.append(level.variant_external_id)
        return self._result(requests=calls, missing=missing)

    # --- bulk ----------------------------------------------------------------------
    def bulk_import_profiles(self, profiles):
        """Start one profile import job (use :func:`chunk_profiles` to split)."""
        profiles = list(profiles)
        if len(profiles) > const.MAX_BULK_PROFILES:
            raise EspError(
                f"{len(profiles)} profiles in one import job; Klaviyo accepts "
                f"{const.MAX_BULK_PROFILES}. Split them with chunk_profiles().",
                category=ErrorCategory.DATA,
            )
        resources = []
        for profile in profiles:
            self._require_email(profile.email)
            resource = p.build_profile_resource(profile)
            if len(_encode(resource.dump())) > const.MAX_PROFILE_BYTES:
                raise EspError(
                    f"Profile {profile.email} is larger than Klaviyo's 100 KB "
                    "per-profile limit; trim its custom properties.",
                    category=ErrorCategory.DATA,
                    field="properties",
                )
            resources.append(resource)
        body = p.build_profile_import_job(resources).dump()
        if len(_encode(body)) > const.MAX_BULK_BYTES:
            raise EspError(
                "The import job is larger than Klaviyo's 5 MB limit. "
                "Split it with chunk_profiles().",
                category=ErrorCategory.DATA,
            )
        response = self._request("POST", const.PATH_PROFILE_IMPORT_JOBS, json=body)
        bulk_consent.send_opt_outs(self, profiles)
        return self._bulk_job(self._json(response).get("data") or {}, len(resources))

    @staticmethod
    def _bulk_job(data, total=0):
        attributes = data.get("attributes") or {}
        job = BulkJob(
            job_id=str(data.get("id") or ""),
            status=const.JOB_STATUS.get(attributes.get("status"), "queued"),
            total=attributes.get("total_count") or total,
            completed=attributes.get("completed_count") or 0,
            failed=attributes.get("failed_count") or 0,
        )
        if job.status == "complete" and job.failed and not job.completed:
            job.status = "failed"
        return job

    def get_bulk_job(self, job):
        """Refresh a profile import job; event jobs are final once accepted."""
        job_id = job.job_id if isinstance(job, BulkJob) else str(job)
        if job_id.startswith(const.EVENT_JOB_PREFIX):
            return job if isinstance(job, BulkJob) else BulkJob(job_id, "complete")
        path = const.PATH_PROFILE_IMPORT_JOB.format(id=quote(job_id, safe=""))
        refreshed = self._bulk_job(
            self._json(self._request("GET", path)).get("data") or {}
        )
        refreshed.job_id = refreshed.job_id or job_id
        if refreshed.failed:
            refreshed.errors = self._import_errors(job_id)
        return refreshed

    def _import_errors(self, job_id):
        errors = []
        path = const.PATH_PROFILE_IMPORT_ERRORS.format(id=quote(job_id, safe=""))
        for item in self._paginate(path, {"page[size]": const.PAGE_SIZE}):
            attributes = item.get("attributes") or {}
            original = attributes.get("original_payload") or {}
            key = (
                original.get("email")
                or _dig(original, "attributes", "email")
                or original.get("external_id")
                or _field_from_source(attributes.get("source"))
                or item.get("id", "")
            )
            message = attributes.get("detail") or attributes.get("title") or ""
            errors.append((str(key), redact(message, self.settings.secrets)))
        return errors

    def bulk_send_events(self, events):
        """Send order events in as many event bulk jobs as Klaviyo's limits need.

        Event jobs are final once accepted (Klaviyo has no status for them),
        so the jobs are reported as one complete :class:`BulkJob`.
        """
        events = list(events)
        if not events:
            return BulkJob(f"{const.EVENT_JOB_PREFIX}empty", "complete")
        jobs = [self._send_event_job(chunk) for chunk in chunk_events(events)]
        if len(jobs) == 1:
            return jobs[0]
        total = sum(job.total for job in jobs)
        return BulkJob(
            job_id=jobs[0].job_id, status="complete", total=total, completed=total
        )

    def _send_event_job(self, events):
        """One event bulk create job (at most 1,000 events and 5 MB)."""
        count = sum(p.count_events(event) for event in events)
        if count > const.MAX_BULK_EVENTS:
            raise EspError(
                f"{count} Klaviyo events in one bulk job; Klaviyo accepts "
                f"{const.MAX_BULK_EVENTS}. Split them with chunk_events().",
                category=ErrorCategory.DATA,
            )
        for event in events:
            self._require_email(event.order.email)
        body = p.build_event_bulk_request(events).dump()
        if len(_encode(body)) > const.MAX_BULK_BYTES:
            raise EspError(
                "The event job is larger than Klaviyo's 5 MB limit. "
                "Split it with chunk_events().",
                category=ErrorCategory.DATA,
            )
        self._request("POST", const.PATH_EVENT_BULK_JOBS, json=body)
        digest = hashlib.sha256(
            "\n".join(event.unique_id for event in events).encode()
        ).hexdigest()[:16]
        return BulkJob(
            job_id=f"{const.EVENT_JOB_PREFIX}{digest}",
            status="complete",
            total=count,
            completed=count,
        )

    def _paginate(self, path, params=None):
        """Yield ``data`` items across ``links.next`` pages."""
        url = path
        for _page in range(const.MAX_PAGES):
            doc = self._json(self._request("GET", url, params=params))
            yield from doc.get("data") or []
            url = _dig(doc, "links", "next")
            params = None  # the next link carries the query
            if not url:
                return
        _logger.warning("Klaviyo pagination stopped after %s pages", const.MAX_PAGES)

    # --- ESP -> Odoo -------------------------------------------------------------
    def fetch_consent_updates(self, since):
        """Profiles suppressed or unsubscribed in Klaviyo after ``since``."""
        since = p.utc(since) or datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
        stamp = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        found = {}
        fields = [const.SUPPRESSION_TIMESTAMP_FIELD]
        if self.settings.klaviyo_list_id:
            # Only our list's unsubscribes matter; other lists are not Odoo's.
            fields.append(const.LIST_SUPPRESSION_TIMESTAMP_FIELD)
        for field in fields:
            params = {
                "filter": f"greater-than({field},{stamp})",
                "additional-fields[profile]": "subscriptions",
                "page[size]": const.PAGE_SIZE,
            }
            for profile in self._paginate(const.PATH_PROFILES, params):
                for update in self._profile_consent_updates(profile, since):
                    key = (update.email, update.status, update.provider_ref)
                    if key not in found or found[key].occurred_at < update.occurred_at:
                        found[key] = update
        return sorted(found.values(), key=lambda u: (u.occurred_at, u.email))

    def _profile_consent_updates(self, profile, since):
        attributes = profile.get("attributes") or {}
        email = (attributes.get("email") or "").strip().lower()
        marketing = _dig(attributes, "subscriptions", "email", "marketing") or {}
        if not email:
            return
        for entry in marketing.get("suppression") or ():
            occurred_at = _parse_time(entry.get("timestamp"))
            if occurred_at and occurred_at > since:
                reason = entry.get("reason") or ""
                yield ConsentUpdate(
                    email=email,
                    status=const.SUPPRESSION_STATUS.get(reason, "suppressed"),
                    occurred_at=occurred_at,
                    reason=reason,
                )
        list_id = self.settings.klaviyo_list_id
        for entry in marketing.get("list_suppressions") or ():
            occurred_at = _parse_time(entry.get("timestamp"))
            if not list_id or entry.get("list_id") != list_id:
                continue
            if occurred_at and occurred_at > since:
                yield ConsentUpdate(
                    email=email,
                    status="unsubscribed",
                    occurred_at=occurred_at,
                    reason=entry.get("reason") or "",
                    provider_ref=entry.get("list_id") or "",
                )

    def parse_webhook(self, headers, body):
        """Verify a Klaviyo system webhook and return its consent changes.

        Klaviyo signs ``raw body + Klaviyo-Timestamp`` with HMAC-SHA256 (hex)
        using the webhook's secret key, in the ``Klaviyo-Signature`` header.
        """
        headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        raw = body.encode() if isinstance(body, str) else bytes(body or b"")
        self._verify_signature(headers, raw)
        try:
            doc = json.loads(raw.decode() or "{}")
        except ValueError as exc:
            raise EspError(
                "The Klaviyo webhook body is not JSON.", category=ErrorCategory.DATA
            ) from exc
        hook_id = headers.get(const.WEBHOOK_ID_HEADER)
        meta_id = _dig(doc, "meta", "klaviyo_webhook_id")
        if hook_id and meta_id and hook_id != meta_id:
            raise EspError(
                "The Klaviyo webhook id in the body does not match its header.",
                category=ErrorCategory.AUTHENTICATION,
            )
        sent_at = _parse_time(_dig(doc, "meta", "timestamp"))
        updates = []
        for item in doc.get("data") or ():
            update = self._webhook_update(item, sent_at)
            if update:
                updates.append(update)
        return updates

    def _verify_signature(self, headers, raw):
        secret = self.settings.webhook_secret
        signature = headers.get(const.WEBHOOK_SIGNATURE_HEADER, "").strip().lower()
        if not secret:
            raise EspError(
                "No Klaviyo webhook secret is configured; the call is refused.",
                category=ErrorCategory.AUTHENTICATION,
            )
        timestamp = headers.get(const.WEBHOOK_TIMESTAMP_HEADER, "")
        expected = hmac.new(
            secret.encode(), raw + timestamp.encode(), hashlib.sha256
        ).hexdigest()
        if not signature or not hmac.compare_digest(expected, signature):
            raise EspError(
                "The Klaviyo webhook signature does not match.",
                category=ErrorCategory.AUTHENTICATION,
            )

    @staticmethod
    def _webhook_update(item, sent_at):
        if not isinstance(item, dict):
            return None
        topic = item.get("topic") or ""
        status = const.WEBHOOK_TOPIC_STATUS.get(topic)
        payload = item.get("payload") or {}
        # "payload" has the shape of a Get Event answer; accept it unwrapped too.
        event = (
            payload.get("data") if isinstance(payload.get("data"), dict) else payload
        )
        attributes = event.get("attributes") or {}
        properties = attributes.get("event_properties") or {}
        reason = str(properties.get("reason") or properties.get("Reason") or "")
        if topic == const.TOPIC_BOUNCED:
            bounce = str(properties.get("Bounce Type") or "").lower()
            hard = bounce == "hard" or reason.upper() == "HARD_BOUNCE"
            status = status if hard else None
        elif topic == const.TOPIC_SUPPRESSED:
            status = const.SUPPRESSION_STATUS.get(reason.upper(), status)
        email = _webhook_email(payload, attributes, properties)
        if not status or not email:
            return None
        occurred_at = (
            _parse_time(attributes.get("datetime"))
            or _parse_time(attributes.get("timestamp"))
            or sent_at
            or datetime.datetime.now(datetime.UTC)
        )
        return ConsentUpdate(
            email=email,
            status=status,
            occurred_at=occurred_at,
            reason=reason or topic,
            provider_ref=str(item.get("external_id") or event.get("id") or ""),
        )


def _webhook_email(payload, attributes, properties):
    """The profile email in a webhook item, wherever this topic carries it."""
    candidates = [
        _dig(attributes, "profile", "email"),
        properties.get("$email"),
        properties.get("email"),
        properties.get("Email"),
    ]
    for included in payload.get("included") or ():
        if isinstance(included, dict) and included.get("type") == "profile":
            candidates.append(_dig(included, "attributes", "email"))
    for candidate in candidates:
        if candidate:
            return str(candidate).strip().lower()
    return ""
