"""Dotdigital email consent: the email channel Odoo writes, the marketing
address book only an opt-in joins, double opt-in, and reading a contact's
subscription back (a mixin of :class:`~.adapter.DotdigitalAdapter`)."""

from ..base import DeliveryResult, EspError
from ..events import ConsentStatus
from . import const, payloads
from .dates import iso


class ConsentMixin:
    """Consent of the email channel (needs the adapter's request path)."""

    def _channel(self, consent):
        """Email channel properties for an Odoo consent (None: leave alone).

        Subscribed carries ``resubscribeOptions``: only for new contacts and
        explicit consent events, never for a profile upsert of an existing one.
        """
        if consent is None:
            return None
        status = ConsentStatus(consent.status)
        if consent.suppressed:
            email = payloads.EmailChannel(status=const.EMAIL_SUPPRESSED)
        elif status == ConsentStatus.SUBSCRIBED:
            # Odoo holds the opt-in evidence: resubscribe without a challenge.
            # Double opt-in: "verifiedDouble" makes Dotdigital email the
            # confirmation link (the channel is pendingOptIn until clicked).
            extra = self.settings.extra
            double = bool(extra.get("double_opt_in"))
            email = payloads.EmailChannel(
                status=const.EMAIL_SUBSCRIBED,
                optInType=const.OPT_IN_TYPE_DOUBLE
                if double
                else extra.get("opt_in_type", const.OPT_IN_TYPE),
                resubscribeOptions=payloads.ResubscribeOptions(
                    resubscribeWithNoChallenge=not (
                        double or extra.get("resubscribe_with_challenge", False)
                    )
                ),
            )
        elif status == ConsentStatus.UNSUBSCRIBED:
            email = payloads.EmailChannel(status=const.EMAIL_UNSUBSCRIBED)
        else:
            return None
        return payloads.ChannelProperties(email=email)

    def _never_opted_in_channel(self):
        """The email channel of a new contact without an Odoo opt-in: none
        (the neutral state: Dotdigital's default, outside the marketing
        address book) or unsubscribed, as the backend says."""
        mode = self.settings.extra.get(const.EXTRA_NEVER_OPTED_IN, const.NEVER_NEUTRAL)
        if mode == const.NEVER_UNSUBSCRIBED:
            return payloads.ChannelProperties(
                email=payloads.EmailChannel(status=const.EMAIL_UNSUBSCRIBED)
            )
        return None

    def _marketing_lists(self, consent):
        """The marketing address book, for an Odoo opt-in only: nobody joins
        it without one, so campaigns to it reach opted-in people alone."""
        if consent is None or consent.suppressed:
            return None
        if ConsentStatus(consent.status) != ConsentStatus.SUBSCRIBED:
            return None
        return self._lists()

    def _consent_records(self, consent):
        """Consent evidence, when Odoo has all Dotdigital requires."""
        if consent is None or ConsentStatus(consent.status) != ConsentStatus.SUBSCRIBED:
            return None
        values = {
            "url": getattr(consent, "url", ""),
            "ipAddress": getattr(consent, "ip_address", ""),
            "userAgent": getattr(consent, "user_agent", ""),
        }
        if not (consent.consented_at and all(values.values())):
            return None
        text = getattr(consent, "text", "") or f"Opted in via {consent.source}"
        record = payloads.ConsentRecord(
            text=text, dateTimeConsented=iso(consent.consented_at), **values
        )
        return [record]

    def update_consent(self, consent):
        """Write Odoo's consent to the email channel (never for NEVER).

        The one call that may resubscribe an existing contact: the engine sends
        it only when the opt-in is (re)given in Odoo. The v3 contact carries no
        unsubscribe date to compare ``consented_at`` with (only ``created`` and
        ``updated``), so the explicit Odoo event is the evidence.
        """
        self._start()
        channel = self._channel(consent)
        if channel is None:
            return DeliveryResult(skipped_reason=const.SKIP_NEVER, requests=0)
        email = self._email(consent.email)
        if channel.email.opt_in_type == const.OPT_IN_TYPE_DOUBLE:
            # Pending or confirmed already: never a second confirmation email.
            known = self.read_subscription(email)
            if known in ("pending", "subscribed"):
                status = const.EMAIL_PENDING if known == "pending" else known
                detail = {"status": status}
                if known == "pending":
                    detail["awaiting_confirmation"] = True
                return self._result(detail=detail)
        body = payloads.ContactUpdate(
            identifiers=payloads.Identifiers(email=email),
            lists=self._marketing_lists(consent),
            channelProperties=channel,
            consentRecords=self._consent_records(consent),
        ).dump()
        contact = self._patch_contact(email, body)
        detail = {"status": channel.email.status}
        if self.settings.extra.get("double_opt_in"):
            detail["status"] = self._email_status(contact) or detail["status"]
            if detail["status"] == const.EMAIL_PENDING:
                detail["awaiting_confirmation"] = True
        return self._result(
            external_id=str(contact.get("contactId") or ""), detail=detail
        )

    @staticmethod
    def _email_status(contact):
        email = (contact.get("channelProperties") or {}).get("email") or {}
        return str(email.get("status") or "")

    def read_subscription(self, email):
        """The contact's email channel: subscribed (inside the marketing
        address book, when one is set) / pending (pendingOptIn) / unsubscribed
        (any opt-out or suppression) / never; ``None``: unknown."""
        self._start()
        try:
            contact = self._request("GET", self._contact_path(self._email(email)))
        except EspError as error:
            if error.status == 404:
                return None
            raise
        status = self._email_status(contact)
        if status == const.EMAIL_PENDING:
            return "pending"
        if status in ("", "noSubscription"):
            return "never"
        consent = self._marketing_consent(contact, status)
        return consent if consent in ("subscribed", "never") else "unsubscribed"
