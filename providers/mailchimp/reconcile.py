"""Mailchimp read-back for reconciliation: one member lookup per address."""

from ..base import EspError
from ..events import RemoteProfile
from . import const, util

CONSENT = {
    "subscribed": "subscribed",
    "unsubscribed": "unsubscribed",
    "cleaned": "suppressed",
}


class ReconcileMixin:
    """``GET /lists/{list}/members/{hash}`` (needs ``_request``)."""

    def read_profiles(self, emails, property_names=()):
        from .adapter import merge_tag

        self._start()
        list_id = self._list_id()
        tags = {name: merge_tag(name) for name in property_names}
        found = {}
        for email in sorted({self._email(e) for e in emails}):
            path = const.MEMBER.format(
                list_id=list_id, subscriber_hash=util.subscriber_hash(email)
            )
            try:
                member = self._request(
                    "GET",
                    path,
                    params={"fields": "email_address,status,merge_fields"},
                )
            except EspError as error:
                if error.status == 404:
                    continue
                raise
            status = member.get("status") or ""
            if status == "archived":
                continue  # not in the audience any more
            merges = member.get("merge_fields") or {}
            found[email] = RemoteProfile(
                email=email,
                consent=CONSENT.get(status, "never"),
                first_name=merges.get(const.MERGE_FNAME) or "",
                last_name=merges.get(const.MERGE_LNAME) or "",
                properties={
                    name: merges[tag] for name, tag in tags.items() if tag in merges
                },
            )
        return found
