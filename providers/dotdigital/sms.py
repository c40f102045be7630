"""Dotdigital SMS marketing consent: the contact's SMS channel (contacts v3).

One PATCH of the contact found by email: ``identifiers.mobileNumber`` (the
E.164 digits, without ``+``, as Dotdigital's examples write them) and
``channelProperties.sms.status``. The email channel is not in the body, so
it stays as it is; a contact the PATCH creates gets the backend's
never-opted-in email state.
"""

from pydantic import BaseModel, ConfigDict, Field

from ..base import DeliveryResult
from ..events import ConsentStatus
from .payloads import EmailChannel

SMS_STATUS = {
    ConsentStatus.SUBSCRIBED: "subscribed",
    ConsentStatus.UNSUBSCRIBED: "unsubscribed",
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def dump(self):
        return self.model_dump(mode="json", exclude_none=True, by_alias=True)


class SmsIdentifiers(_Body):
    email: str
    mobile_number: str = Field(alias="mobileNumber")


class SmsChannel(_Body):
    status: str


class SmsChannelProperties(_Body):
    sms: SmsChannel
    email: EmailChannel | None = None  # only when the PATCH creates the contact


class SmsContactUpdate(_Body):
    """PATCH /contacts/v3/email/{email}: the number and its SMS status."""

    identifiers: SmsIdentifiers
    channel_properties: SmsChannelProperties = Field(alias="channelProperties")


class SmsConsentMixin:
    """``update_sms_consent`` of :class:`~providers.dotdigital.DotdigitalAdapter`."""

    def update_sms_consent(self, consent):
        """Write the SMS channel status; never for NEVER."""
        status = SMS_STATUS.get(ConsentStatus(consent.status))
        if status is None:
            return DeliveryResult(
                skipped_reason="No SMS opt-in recorded in Odoo: SMS left unchanged.",
                requests=0,
            )
        self._start()
        email = self._email(consent.email)
        email_channel = None
        if not self._contact_exists(email):
            if status == "unsubscribed":
                return self._result(
                    skipped_reason="No Dotdigital contact: no SMS to unsubscribe."
                )
            # A prospect known for their SMS opt-in alone: the PATCH creates
            # the contact, its email channel in the never-opted-in state (the
            # email consent, if any, follows as its own event).
            never = self._never_opted_in_channel()
            email_channel = never.email if never else None
        body = SmsContactUpdate(
            identifiers=SmsIdentifiers(
                email=email, mobileNumber=consent.phone.lstrip("+")
            ),
            channelProperties=SmsChannelProperties(
                sms=SmsChannel(status=status), email=email_channel
            ),
        ).dump()
        contact = self._patch_contact(email, body)
        return self._result(
            external_id=str(contact.get("contactId") or ""),
            detail={"sms_status": status},
        )
