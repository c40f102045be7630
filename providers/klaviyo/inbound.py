"""Klaviyo -> Odoo: consent changes polled from profiles or pushed by webhook."""

import datetime
import hashlib
import hmac
import json
import re

from ..errors import ErrorCategory, EspError
from ..events import ConsentUpdate
from ..wire import dig, parse_timestamp
from . import builders as b
from . import const


class InboundMixin:
    """Consent polling and signed webhooks (needs ``_paginate``, ``settings``)."""

    # How far a signed webhook timestamp may be from now (replay protection).
    webhook_tolerance = datetime.timedelta(minutes=5)

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
        # A global unsubscribe (preference page) leaves no suppression entry:
        # profiles updated since, whose consent is now UNSUBSCRIBED.
        fields.append("updated")
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

    def _profile_with_subscriptions(self, email):
        """The profile of ``email`` with its subscriptions ([] or [profile])."""
        self._start()
        params = {
            "filter": f'equals(email,"{self._email(email)}")',
            "additional-fields[profile]": "subscriptions",
        }
        doc = self._request("GET", const.PATH_PROFILES, params=params)
        return (doc.get("data") or [])[:1]

    def read_consent(self, email):
        """The profile's opt-out (suppression or unsubscribe), newest first."""
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        updates = [
            update
            for profile in self._profile_with_subscriptions(email)
            for update in self._profile_consent_updates(profile, epoch)
        ]
        return max(updates, key=lambda u: u.occurred_at, default=None)

    def _profile_consent_updates(self, profile, since):
        attributes = profile.get("attributes") or {}
        email = (attributes.get("email") or "").strip().lower()
        marketing = dig(attributes, "subscriptions", "email", "marketing") or {}
        if not email:
            return
        if marketing.get("consent") == "UNSUBSCRIBED":
            changed = parse_timestamp(
                marketing.get("last_updated") or marketing.get("consent_timestamp")
            )
            if changed and changed > since:
                yield ConsentUpdate(
                    email=email,
                    status="unsubscribed",
                    occurred_at=changed,
                    reason="UNSUBSCRIBED",
                )
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
        The signature is checked first (constant time), then the signed
        timestamp must fall within :attr:`webhook_tolerance` of now (a
        captured call cannot be replayed later); a body of any other shape
        than Klaviyo's is a DATA error, never a crash.
        """
        headers = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
        raw = body.encode() if isinstance(body, str) else bytes(body or b"")
        self._verify_signature(headers, raw)
        self._verify_timestamp(headers.get(const.WEBHOOK_TIMESTAMP_HEADER, ""))
        try:
            doc = json.loads(raw.decode("utf-8") or "{}")
        except (ValueError, RecursionError) as exc:
            raise _malformed("is not JSON") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("data") or [], list):
            raise _malformed("is not a Klaviyo webhook document")
        hook_id = headers.get(const.WEBHOOK_ID_HEADER)
        meta_id = dig(doc, "meta", "klaviyo_webhook_id")
        if hook_id and meta_id and hook_id != meta_id:
            raise EspError(
                "The Klaviyo webhook id in the body does not match its header.",
                category=ErrorCategory.AUTHENTICATION,
            )
        sent_at = _timestamp(dig(doc, "meta", "timestamp"))
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
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise EspError(
                "The Klaviyo webhook signature does not match.",
                category=ErrorCategory.AUTHENTICATION,
            )

    def _verify_timestamp(self, value):
        """Refuse a signed timestamp missing or outside the tolerance."""
        text = value.strip()
        moment = _timestamp(text)
        if re.fullmatch(r"\d+(\.\d+)?", text):
            seconds = float(text)
            # Epoch seconds, or milliseconds.
            moment = _timestamp(seconds / 1000 if seconds > 1e11 else seconds)
        now = datetime.datetime.now(datetime.timezone.utc)
        if moment is None or abs(now - moment) > self.webhook_tolerance:
            raise EspError(
                "The Klaviyo webhook timestamp is missing or too far from now; "
                "the call is refused (replay protection).",
                category=ErrorCategory.AUTHENTICATION,
                code="webhook_stale",
            )

    @staticmethod
    def _webhook_update(item, sent_at):
        if not isinstance(item, dict):
            raise _malformed("holds an item that is not an object")
        topic = item.get("topic") or ""
        status = (
            const.WEBHOOK_TOPIC_STATUS.get(topic) if isinstance(topic, str) else None
        )
        payload = _object(item.get("payload"))
        # "payload" has the shape of a Get Event answer; accept it unwrapped too.
        event = (
            payload.get("data") if isinstance(payload.get("data"), dict) else payload
        )
        attributes = _object(event.get("attributes"))
        properties = _object(attributes.get("event_properties"))
        reason = str(properties.get("reason") or properties.get("Reason") or "")
        if topic == const.TOPIC_BOUNCED:
            bounce = str(properties.get("Bounce Type") or "").lower()
            hard = bounce == "hard" or reason.upper() == "HARD_BOUNCE"
            status = status if hard else None
        elif topic == const.TOPIC_SUPPRESSED:
            status = const.SUPPRESSION_STATUS.get(reason.upper(), status)
        email = _webhook_email(payload, attributes, properties)
        # Withdrawals are looked up, never sent: any address counts.
        if not status or "@" not in email:
            return None
        occurred_at = (
            _timestamp(attributes.get("datetime"))
            or _timestamp(attributes.get("timestamp"))
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


def _malformed(what):
    return EspError(
        f"The Klaviyo webhook body {what}.",
        category=ErrorCategory.DATA,
        code="webhook_malformed",
    )


def _object(value):
    """``value`` when it is a JSON object (or absent); else a DATA error."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _malformed("has a field of the wrong type")
    return value


def _timestamp(value):
    """:func:`parse_timestamp`, ``None`` for values no calendar holds."""
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError):
        return None


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
        if candidate and isinstance(candidate, str):
            return candidate.strip().lower()
    return ""
