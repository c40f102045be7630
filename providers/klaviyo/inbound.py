"""Klaviyo -> Odoo: consent changes polled from profiles or pushed by webhook."""

import datetime
import hashlib
import hmac
import json

from ..errors import ErrorCategory, EspError
from ..events import ConsentUpdate
from ..wire import dig, parse_timestamp
from . import builders as b
from . import const


class InboundMixin:
    """Consent polling and signed webhooks (needs ``_paginate``, ``settings``)."""

    def fetch_consent_updates(self, since):
        """Profiles suppressed or unsubscribed in Klaviyo after ``since``."""
        self._start()
        since = b.utc(since) or datetime.datetime(
            1970, 1, 1, tzinfo=datetime.timezone.utc
        )
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
        marketing = dig(attributes, "subscriptions", "email", "marketing") or {}
        if not email:
            return
        for entry in marketing.get("suppression") or ():
            occurred_at = parse_timestamp(entry.get("timestamp"))
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
            occurred_at = parse_timestamp(entry.get("timestamp"))
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
        meta_id = dig(doc, "meta", "klaviyo_webhook_id")
        if hook_id and meta_id and hook_id != meta_id:
            raise EspError(
                "The Klaviyo webhook id in the body does not match its header.",
                category=ErrorCategory.AUTHENTICATION,
            )
        sent_at = parse_timestamp(dig(doc, "meta", "timestamp"))
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
            parse_timestamp(attributes.get("datetime"))
            or parse_timestamp(attributes.get("timestamp"))
            or sent_at
            or datetime.datetime.now(datetime.timezone.utc)
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
        dig(attributes, "profile", "email"),
        properties.get("$email"),
        properties.get("email"),
        properties.get("Email"),
    ]
    for included in payload.get("included") or ():
        if isinstance(included, dict) and included.get("type") == "profile":
            candidates.append(dig(included, "attributes", "email"))
    for candidate in candidates:
        if candidate:
            return str(candidate).strip().lower()
    return ""
