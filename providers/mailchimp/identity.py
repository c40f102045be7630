"""Mailchimp identity changes: move a member to a new email, never copy it.

A subscribed, pending or transactional member gets its ``email_address``
PATCHed, keeping its id, status, activity and tags. Mailchimp refuses the
change for unsubscribed and cleaned members (compliance state), and when the
new address is already a member: then the old member is archived and the new
one is written with ``status_if_new`` set to the old status, never higher
(a cleaned address counts as transactional: it bounced, it did not opt out).

Audience routing moves a member the same way: written to the new audience
with the status held in the old one (never higher than Odoo's consent
allows; an opt-out carries even onto a subscribed member there), then
archived in the old one, so the person is never left in both.
"""

from ..base import EspError
from ..events import ConsentStatus
from . import const, util

# Status order for "never upgrade": lower is less permission to market.
_RANK = {"unsubscribed": 0, "transactional": 1, "pending": 2, "subscribed": 3}
_MOVABLE = ("subscribed", "pending", "transactional")


def consent_status(consent):
    """The member status Odoo's consent allows (None: no opinion)."""
    if consent is None:
        return None
    if (
        consent.suppressed
        or ConsentStatus(consent.status) == ConsentStatus.UNSUBSCRIBED
    ):
        return "unsubscribed"
    if ConsentStatus(consent.status) == ConsentStatus.SUBSCRIBED:
        return "subscribed"
    return "transactional"


def carried_status(old_status, consent):
    """``old_status`` carried to a new member, capped by Odoo's consent."""
    status = "transactional" if old_status == "cleaned" else old_status
    allowed = consent_status(consent)
    if allowed is not None and _RANK[allowed] < _RANK.get(status, 1):
        status = allowed
    return status if status in _RANK else "transactional"


def _get_member(adapter, list_id, member_hash):
    path = const.MEMBER.format(list_id=list_id, subscriber_hash=member_hash)
    try:
        return adapter._request(
            "GET", path, params={"fields": "id,email_address,status"}
        )
    except EspError as exc:
        if exc.status == 404:
            return None
        raise


def _write_member(adapter, list_id, profile, email, status_if_new):
    """PUT the member at ``email`` (created with ``status_if_new``), then tags."""
    member_hash = util.subscriber_hash(email)
    body = adapter._member_body(profile, email)
    body["status_if_new"] = status_if_new
    adapter._ensure_merge_fields(list_id, body["merge_fields"])
    member = adapter._put_member(list_id, member_hash, body)
    if adapter.settings.extra.get("sync_tags", True):
        wanted = list(dict.fromkeys(t for t in profile.tags if t))
        adapter._sync_tags(list_id, member_hash, wanted)
    return member_hash, member


def change_email(adapter, change):
    """Move the member of ``change.old_email`` to the profile's address.

    Returns a result whose ``external_id`` is the new subscriber hash, with
    ``detail`` ``moved`` (PATCHed), ``archived`` (old member archived and the
    new one written) or neither (old address unknown: a plain upsert).
    """
    adapter._start()
    profile = change.profile
    email = adapter._email(profile.email)
    list_id = adapter._list_id()
    old = (change.old_email or "").strip().lower()
    old_hash = change.esp_id or (util.subscriber_hash(old) if old else "")
    member = None
    if old_hash and old_hash != util.subscriber_hash(email):
        member = _get_member(adapter, list_id, old_hash)
    if member is None or member.get("status") == "archived":
        looked_up = adapter._count
        result = adapter.upsert_profile(profile)
        result.requests += looked_up
        result.detail["moved"] = False
        return result
    old_status = member.get("status") or ""
    path = const.MEMBER.format(list_id=list_id, subscriber_hash=old_hash)
    if old_status in _MOVABLE:
        try:
            adapter._request("PATCH", path, json={"email_address": email})
        except EspError as exc:
            if exc.status != 400:
                raise
        else:
            status = old_status
            new_hash, member = _write_member(adapter, list_id, profile, email, status)
            return adapter._result(
                external_id=new_hash,
                detail={"moved": True, "status": member.get("status", status)},
            )
    # Mailchimp forbids the move: archive the old member, carry its status.
    adapter._request("DELETE", path)
    status = carried_status(old_status, profile.consent)
    new_hash, member = _write_member(adapter, list_id, profile, email, status)
    return adapter._result(
        external_id=new_hash,
        detail={
            "moved": False,
            "archived": old_hash,
            "status": member.get("status", status),
        },
    )


def move_audience(adapter, profile):
    """Move the member from ``profile.moved_from`` to the adapter's audience.

    Written first, archived after: a retry after a failure in between finds
    the old member still there and its status still readable.
    """
    email = adapter._email(profile.email)
    member_hash = util.subscriber_hash(email)
    old_list, list_id = profile.moved_from, adapter._list_id()
    old = _get_member(adapter, old_list, member_hash)
    old_status = (old or {}).get("status")
    if old_status in (None, "archived"):
        # Nothing held there (a retry after the archive): a plain write.
        status = _consent_or_new(profile)
    else:
        status = carried_status(old_status, profile.consent)
    _hash, member = _write_member(adapter, list_id, profile, email, status)
    if status == "unsubscribed" and member.get("status") == "subscribed":
        # Already in the new audience and subscribed: the opt-out carries.
        path = const.MEMBER.format(list_id=list_id, subscriber_hash=member_hash)
        member = adapter._request("PATCH", path, json={"status": "unsubscribed"})
    if old_status not in (None, "archived"):
        path = const.MEMBER.format(list_id=old_list, subscriber_hash=member_hash)
        adapter._request("DELETE", path)
    return adapter._result(
        external_id=member_hash,
        detail={
            "moved_from": old_list,
            "status": member.get("status", status),
        },
    )


def _consent_or_new(profile):
    return consent_status(profile.consent) or const.STATUS_NEW_TRANSACTIONAL


def leave_audience(adapter, member_hash):
    """Archive the member ``member_hash`` of the adapter's audience (a person
    who no longer matches any audience rule). Returns the status it held, so
    an opt-out made there is not lost; nothing to archive is no error."""
    list_id = adapter._list_id()
    member = _get_member(adapter, list_id, member_hash)
    old_status = (member or {}).get("status")
    if old_status not in (None, "archived"):
        path = const.MEMBER.format(list_id=list_id, subscriber_hash=member_hash)
        try:
            adapter._request("DELETE", path)
        except EspError as exc:
            if exc.status != 404:
                raise
    return adapter._result(
        external_id=member_hash,
        detail={
            "archived": old_status not in (None, "archived"),
            "status": old_status or "",
            "email": (member or {}).get("email_address") or "",
        },
    )
