"""Dotdigital identity changes: give a contact a new email identifier.

The contact (by ``contactId`` when Odoo has it, else by its old email) is
PATCHed with ``identifiers.email`` set to the new address, so it keeps its id,
status, lists and history; no channel status is sent, so consent is never
changed. Dotdigital answers 409 when another contact holds the new address:
that stays a data error for someone to merge the two in Dotdigital.
"""

import urllib.parse

from ..base import EspError, is_usable_email
from . import const

CONTACT_BY_ID = "/contacts/v3/contactId/{contact_id}"


def _candidate_paths(adapter, change):
    """Where the contact may be: by its id first, then by its old email."""
    if change.esp_id:
        yield CONTACT_BY_ID.format(contact_id=urllib.parse.quote(change.esp_id))
    old = (change.old_email or "").strip().lower()
    if is_usable_email(old):
        yield adapter._contact_path(old)


def _exists(adapter, path):
    try:
        adapter._request("GET", path)
    except EspError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def change_email(adapter, change):
    """Move the contact of ``change.old_email`` to the profile's address.

    Returns a result whose ``external_id`` is the contact id; an unknown old
    contact is a plain upsert at the new address (``detail["moved"]`` False).
    """
    adapter._start()
    profile = change.profile
    email = adapter._email(profile.email)
    path = next(
        (p for p in _candidate_paths(adapter, change) if _exists(adapter, p)), ""
    )
    if not path:
        looked_up = adapter._count
        result = adapter.upsert_profile(profile)
        result.requests += looked_up
        result.detail["moved"] = False
        return result
    body = adapter._contact_body(profile, email, channel=None)
    adapter._ensure_data_fields(body.get("dataFields") or {})
    try:
        contact = adapter._request(
            "PATCH", path, json=body, params={"merge-option": const.MERGE_OPTION}
        )
    except EspError as exc:
        if exc.status == 409:
            exc.message = (
                f"Dotdigital already has a contact at {email}; merge it with the "
                f"contact of {change.old_email} in Dotdigital, then retry"
            )
            exc.args = (exc.message,)
            exc.field = "email"
        raise
    return adapter._result(
        external_id=str(contact.get("contactId") or change.esp_id or ""),
        detail={"moved": True, "status": contact.get("status", "")},
    )
