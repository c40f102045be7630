"""Dotdigital -> Odoo: opt-outs made at Dotdigital (v2 polls, a contact read)."""

from ..base import EspError
from ..events import ConsentUpdate
from ..wire import dig
from . import const
from .dates import iso, parse_time


class InboundMixin:
    """Consent changes made in Dotdigital, read back for Odoo."""

    def read_consent(self, email):
        """The contact's opt-out (email channel unsubscribed or suppressed)."""
        self._start()
        try:
            contact = self._request("GET", self._contact_path(self._email(email)))
        except EspError as error:
            if error.status == 404:
                return None
            raise
        status = str(dig(contact, "channelProperties", "email", "status") or "")
        if status not in (const.EMAIL_UNSUBSCRIBED, const.EMAIL_SUPPRESSED):
            return None
        return ConsentUpdate(
            email=email.lower(),
            status=status,
            occurred_at=parse_time(contact.get("updated")),
            reason=status,
            provider_ref=str(contact.get("contactId") or ""),
        )

    def fetch_consent_updates(self, since):
        """Contacts unsubscribed or suppressed in Dotdigital since ``since``."""
        self._start()
        date = iso(since)
        latest = {}
        for template, default in (
            (const.UNSUBSCRIBED_SINCE, "unsubscribed"),
            (const.SUPPRESSED_SINCE, None),
        ):
            skip = 0
            while True:
                page = self._request(
                    "GET",
                    template.format(date=date),
                    params={"select": const.PAGE_SIZE, "skip": skip},
                )
                rows = page if isinstance(page, list) else []
                for row in rows:
                    update = self._consent_update(row, default)
                    if update is None:
                        continue
                    known = latest.get(update.email)
                    if known is None or update.occurred_at >= known.occurred_at:
                        latest[update.email] = update
                skip += len(rows)
                if len(rows) < const.PAGE_SIZE:
                    break
        return sorted(latest.values(), key=lambda u: (u.occurred_at, u.email))

    @staticmethod
    def _consent_update(row, default):
        contact = row.get("suppressedContact") or {}
        email = (contact.get("email") or "").strip().lower()
        if not email or str(contact.get("status") or "").lower() == "subscribed":
            # Subscribed again since (by Odoo's newer opt-in): nothing to undo.
            return None
        reason = str(row.get("reason") or contact.get("status") or "")
        status = default or (
            "unsubscribed" if reason.lower() == "unsubscribed" else "suppressed"
        )
        return ConsentUpdate(
            email=email,
            status=status,
            occurred_at=parse_time(row.get("dateRemoved")),
            reason=reason,
            provider_ref=str(contact.get("id") or ""),
        )
