"""Klaviyo identity changes: move a profile to a new email, never copy it.

The old profile (found by id, old email or external id) is PATCHed to the
new address, so its id, history and subscriptions stay. When another profile
already holds the new address Klaviyo answers 409 ``duplicate_profile``: that
profile is merged into the old one (``POST /api/profile-merge``, the old
profile is the destination) and the PATCH is sent again.
"""

from typing import Literal
from urllib.parse import quote

from ..base import ErrorCategory, EspError
from . import builders as b
from . import const
from . import payloads as p

PATH_PROFILE = const.PATH_PROFILES + "/{id}"
PATH_PROFILE_MERGE = "/api/profile-merge"


class ProfilePatchRequest(p._Model):
    """PATCH /api/profiles/{id}: the resource carries its id."""

    data: p.ProfileResource


class _ProfileRef(p._Model):
    type: Literal["profile"] = "profile"
    id: str


class _ProfileRefs(p._Model):
    data: list[_ProfileRef]


class _MergeRelationships(p._Model):
    profiles: _ProfileRefs


class _MergeResource(p._Model):
    type: Literal["profile-merge"] = "profile-merge"
    id: str
    relationships: _MergeRelationships


class ProfileMergeRequest(p._Model):
    """POST /api/profile-merge: sources merged into the destination ``id``."""

    data: _MergeResource


def build_profile_merge(destination_id, source_ids):
    refs = _ProfileRefs(data=[_ProfileRef(id=i) for i in source_ids])
    return ProfileMergeRequest(
        data=_MergeResource(
            id=destination_id, relationships=_MergeRelationships(profiles=refs)
        )
    )


def _filter_value(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_profile_id(adapter, field, value):
    """The id of the profile whose ``field`` equals ``value``, or ""."""
    answer = adapter._request(
        "GET",
        const.PATH_PROFILES,
        params={
            "filter": f"equals({field},{_filter_value(value)})",
            "page[size]": 1,
        },
    )
    data = answer.get("data") or []
    return str(data[0].get("id") or "") if data else ""


def _patch(adapter, profile_id, profile):
    resource = b.build_profile_resource(profile).model_copy(update={"id": profile_id})
    body = ProfilePatchRequest(data=resource).dump()
    adapter._request(
        "PATCH", PATH_PROFILE.format(id=quote(profile_id, safe="")), json=body
    )


def _merge(adapter, destination_id, source_id):
    body = build_profile_merge(destination_id, [source_id]).dump()
    adapter._request("POST", PATH_PROFILE_MERGE, json=body)


def _move(adapter, profile_id, profile):
    """PATCH the profile; on 409, merge the holder of the new address into it.

    Returns ``(calls, merged id)``; raises EspError 404 when the id is gone.
    """
    try:
        _patch(adapter, profile_id, profile)
        return 1, ""
    except EspError as exc:
        if exc.status != 409:
            raise
        merged = find_profile_id(adapter, "email", profile.email.strip().lower())
        if not merged or merged == profile_id:
            raise EspError(
                f"Klaviyo refuses to move profile {profile_id} to "
                f"{profile.email}: {exc.message}",
                category=ErrorCategory.DATA,
                status=exc.status,
                field="email",
                code=exc.code or "duplicate_profile",
            ) from exc
    _merge(adapter, profile_id, merged)
    try:
        _patch(adapter, profile_id, profile)
    except EspError as again:
        if again.status == 409:
            # Klaviyo may still be applying the merge: try again later.
            again.category = ErrorCategory.TRANSIENT
        raise
    return 4, merged


def change_email(adapter, change):
    """Move the Klaviyo profile of ``change.old_email`` to the new address.

    The profile is the one of ``change.esp_id``, else the one found by old
    email, else by external id. Returns a result whose ``external_id`` is the
    kept profile id; an unknown old address is a plain upsert at the new one.
    """
    profile = change.profile
    adapter._start()
    adapter._require_email(profile.email)
    if change.esp_id:
        try:
            _moved, merged = _move(adapter, change.esp_id, profile)
            return adapter._result(
                external_id=change.esp_id, detail={"moved": True, "merged": merged}
            )
        except EspError as exc:
            if exc.status != 404:
                raise
    profile_id = ""
    for field, value in (
        ("email", (change.old_email or "").strip().lower()),
        ("external_id", profile.external_id),
    ):
        if value and not profile_id:
            profile_id = find_profile_id(adapter, field, value)
    if not profile_id:
        lookups = adapter._count
        result = adapter.upsert_profile(profile)
        result.requests += lookups
        result.detail["moved"] = False
        return result
    _moved, merged = _move(adapter, profile_id, profile)
    return adapter._result(
        external_id=profile_id, detail={"moved": True, "merged": merged}
    )
