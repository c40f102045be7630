"""Dotdigital read-back for reconciliation: one contact lookup per address."""

from ..base import EspError
from ..events import RemoteProfile
from ..wire import dig
from . import const

CONSENT = {
    const.EMAIL_SUBSCRIBED: "subscribed",
    const.EMAIL_UNSUBSCRIBED: "unsubscribed",
    const.EMAIL_SUPPRESSED: "suppressed",
}


class ReconcileMixin:
    """``GET /contacts/v3/email/{email}`` (needs ``_request``)."""

    def read_profiles(self, emails, property_names=()):
        from .adapter import data_field_name

        self._start()
        names = {name: data_field_name(name) for name in property_names}
        found = {}
        for email in sorted({self._email(e) for e in emails}):
            try:
                contact = self._request("GET", self._contact_path(email))
            except EspError as error:
                if error.status == 404:
                    continue
                raise
            status = str(dig(contact, "channelProperties", "email", "status") or "")
            fields = contact.get("dataFields") or {}
            found[email] = RemoteProfile(
                email=email,
                consent=self._marketing_consent(contact, status),
                first_name=fields.get("FIRSTNAME") or "",
                last_name=fields.get("LASTNAME") or "",
                properties={
                    name: fields[field]
                    for name, field in names.items()
                    if fields.get(field) is not None
                },
            )
        return found

    def _marketing_consent(self, contact, status):
        """The consent a contact shows: subscribed only inside the marketing
        address book when one is set (outside it is the neutral state of a
        customer who never opted in)."""
        consent = CONSENT.get(status, "never")
        books = self._lists()
        if consent == "subscribed" and books:
            member_of = {
                item.get("id") if isinstance(item, dict) else item
                for item in contact.get("lists") or []
            }
            if not member_of & set(books):
                return "never"
        return consent
