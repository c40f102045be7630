"""Klaviyo SMS marketing consent: the subscription bulk jobs, SMS channel.

Subscribe: ``profile-subscription-bulk-create-job`` with the profile's email
(the person), its ``phone_number`` in E.164 and ``subscriptions.sms.marketing``
SUBSCRIBED with the consent date. Unsubscribe: ``-delete-job`` naming only the
``phone_number`` and the SMS channel, so the email channel is never touched.
"""

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from ..base import DeliveryResult
from ..events import ConsentStatus, ConsentUpdate
from ..wire import dig, parse_timestamp
from . import builders as b
from . import const


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self):
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class SmsMarketing(_Model):
    consent: Literal["SUBSCRIBED", "UNSUBSCRIBED"]
    consented_at: datetime.datetime | None = None


class SmsChannel(_Model):
    marketing: SmsMarketing


class SmsChannels(_Model):
    sms: SmsChannel


class SmsProfileAttributes(_Model):
    email: str | None = None
    phone_number: str
    subscriptions: SmsChannels


class SmsProfile(_Model):
    type: Literal["profile"] = "profile"
    attributes: SmsProfileAttributes


class SmsProfiles(_Model):
    data: list[SmsProfile]


class SmsJobAttributes(_Model):
    custom_source: str | None = None
    profiles: SmsProfiles


class SmsJob(_Model):
    type: Literal[
        "profile-subscription-bulk-create-job", "profile-subscription-bulk-delete-job"
    ]
    attributes: SmsJobAttributes


class SmsJobRequest(_Model):
    """POST /api/profile-subscription-bulk-create-jobs or -delete-jobs."""

    data: SmsJob


def build_sms_subscribe_request(consent, consented_at):
    """Subscribe ``consent.phone`` to SMS marketing on the person's profile."""
    return SmsJobRequest(
        data=SmsJob(
            type="profile-subscription-bulk-create-job",
            attributes=SmsJobAttributes(
                custom_source=consent.source or None,
                profiles=SmsProfiles(
                    data=[
                        SmsProfile(
                            attributes=SmsProfileAttributes(
                                email=consent.email,
                                phone_number=consent.phone,
                                subscriptions=SmsChannels(
                                    sms=SmsChannel(
                                        marketing=SmsMarketing(
                                            consent="SUBSCRIBED",
                                            consented_at=consented_at,
                                        )
                                    )
                                ),
                            )
                        )
                    ]
                ),
            ),
        )
    )


def build_sms_unsubscribe_request(phone):
    """Unsubscribe ``phone`` from SMS marketing only."""
    return SmsJobRequest(
        data=SmsJob(
            type="profile-subscription-bulk-delete-job",
            attributes=SmsJobAttributes(
                profiles=SmsProfiles(
                    data=[
                        SmsProfile(
                            attributes=SmsProfileAttributes(
                                phone_number=phone,
                                subscriptions=SmsChannels(
                                    sms=SmsChannel(
                                        marketing=SmsMarketing(consent="UNSUBSCRIBED")
                                    )
                                ),
                            )
                        )
                    ]
                ),
            ),
        )
    )


class SmsConsentMixin:
    """``update_sms_consent`` of :class:`~providers.klaviyo.KlaviyoAdapter`,
    and the SMS opt-outs its consent poll reads (a STOP reply, an unsubscribe
    in Klaviyo): ``ConsentUpdate(channel="sms")``, apart from email ones."""

    _polling_sms = False

    def fetch_consent_updates(self, since):
        self._polling_sms = True
        try:
            return super().fetch_consent_updates(since)
        finally:
            self._polling_sms = False

    def _profile_consent_updates(self, profile, since):
        yield from super()._profile_consent_updates(profile, since)
        if self._polling_sms:
            # Only the poll: read_consent (before an email opt-in) is email's.
            yield from sms_opt_outs(profile, since)

    def read_sms_consent(self, email):
        """The profile's SMS unsubscribe, if any (read before an opt-in)."""
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        for profile in self._profile_with_subscriptions(email):
            for update in sms_opt_outs(profile, epoch):
                return update
        return None

    def update_sms_consent(self, consent):
        """Subscribe or unsubscribe the number; never for NEVER."""
        status = ConsentStatus(consent.status)
        if status == ConsentStatus.NEVER:
            return DeliveryResult(
                skipped_reason="No SMS opt-in recorded in Odoo: never subscribed.",
                requests=0,
            )
        self._start()
        self._require_email(consent.email)
        if status == ConsentStatus.SUBSCRIBED:
            consented_at = b.utc(consent.consented_at)
            now = datetime.datetime.now(datetime.timezone.utc)
            if consented_at and consented_at > now:
                consented_at = now  # Klaviyo wants consent in the past
            body = build_sms_subscribe_request(consent, consented_at)
            path, action = const.PATH_SUBSCRIBE_JOBS, "sms subscribed"
        else:
            body = build_sms_unsubscribe_request(consent.phone)
            path, action = const.PATH_UNSUBSCRIBE_JOBS, "sms unsubscribed"
        self._request("POST", path, json=body.dump())
        return self._result(detail={"action": action})


def sms_opt_outs(profile, since):
    """The profile's SMS marketing unsubscribe made after ``since``."""
    attributes = profile.get("attributes") or {}
    email = (attributes.get("email") or "").strip().lower()
    marketing = dig(attributes, "subscriptions", "sms", "marketing") or {}
    if not email or marketing.get("consent") != "UNSUBSCRIBED":
        return
    changed = parse_timestamp(
        marketing.get("last_updated") or marketing.get("consent_timestamp")
    )
    if changed and changed > since:
        yield ConsentUpdate(
            email=email,
            status="unsubscribed",
            occurred_at=changed,
            reason="SMS " + str(marketing.get("method") or "UNSUBSCRIBED"),
            provider_ref="sms",
            channel="sms",
            phone=attributes.get("phone_number") or "",
        )
