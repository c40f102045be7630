"""Dotdigital contact channels: the email channel's status rules
(resubscribe options, double opt-in) and the SMS channel with its mobile
number (a mixin of the contacts endpoints)."""

from .common import RESUBSCRIBE_FROM, ApiError


class ChannelsMixin:
    """Email and SMS channel rules of a contact (needs ``_lookup``,
    ``_set_status`` and ``_iso`` of the contacts mixin and the app)."""

    def _set_mobile(self, state, contact, number):
        """The contact's mobileNumber: unique in the account, digits only."""
        if not number.isdigit() or not 8 <= len(number) <= 15:
            raise ApiError(
                400,
                f"The id value '{number}' is invalid for the identifier "
                "'mobileNumber'",
                code="contacts:invalidId",
            )
        owner = self._lookup(state, "mobileNumber", number)
        if owner is not None and owner is not contact:
            raise ApiError(
                409,
                f"The id value '{number} for the identifier 'mobileNumber' "
                "already exists. All identifiers must be unique!",
                code="contacts:idAlreadyExists",
            )
        contact["identifiers"]["mobileNumber"] = number

    def _set_sms_status(self, contact, status):
        """The SMS channel status; it needs a mobile number to belong to."""
        if not contact["identifiers"].get("mobileNumber"):
            raise ApiError(
                400,
                "The SMS channel needs the contact's mobileNumber.",
                code="contacts:validationFailed",
                details=[
                    {
                        "item": "channelProperties.sms.status",
                        "description": "no mobileNumber for this contact",
                    }
                ],
            )
        contact["channelProperties"]["sms"] = {"status": status}
        contact["updated"] = self._iso()

    def _apply_channel(self, state, contact, email, creating):
        channel = contact["channelProperties"]["email"]
        for name in ("emailType", "optInType"):
            if email.get(name):
                channel[name] = email[name]
        status = email.get("status") or ("subscribed" if creating else None)
        if not status or status == channel["status"]:
            return
        if status == "subscribed" and channel["status"] in RESUBSCRIBE_FROM:
            options = email.get("resubscribeOptions")
            if options is None:
                raise ApiError(
                    400,
                    f"The contact's email channel is {channel['status']}; "
                    "resubscribing it needs channelProperties.email."
                    "resubscribeOptions.",
                    code="contacts:resubscribeOptionsRequired",
                    details=[
                        {
                            "item": "channelProperties.email.status",
                            "description": f"cannot change {channel['status']} to "
                            "subscribed without resubscribeOptions",
                        }
                    ],
                )
            if not options.get("resubscribeWithNoChallenge", True):
                status = "pendingOptIn"
        if status == "subscribed" and channel["optInType"] == "verifiedDouble":
            status = "pendingOptIn"  # the confirmation email goes out
        self._set_status(state, contact, status)
