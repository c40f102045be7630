"""Klaviyo identity rules: one profile per identifier, profile merges.

``PATCH /api/profiles/{id}`` giving an email (or external id, phone) that
another profile holds answers 409 ``duplicate_profile`` with that profile's
id in ``meta``; ``POST /api/profile-merge`` folds source profiles into the
destination (its data wins, gaps are filled, events, lists and suppressions
move over) and deletes the sources.
"""

from ..core import Response
from .common import IDENTIFIERS, ApiError


class IdentityMixin:
    """Klaviyo's identifier uniqueness and profile merges."""

    def _identity_conflict(self, state, profile, attributes, pointer):
        """Raise 409 when ``attributes`` name an identifier of another profile."""
        for other in self._find(state, attributes):
            if other["id"] != profile["id"]:
                raise ApiError(
                    409,
                    "A profile already exists with one of these identifiers.",
                    f"{pointer}/attributes",
                    code="duplicate_profile",
                    meta={"duplicate_profile_id": other["id"]},
                )

    def merge_profiles(self, request):
        """``POST /api/profile-merge``: merge the related profiles into ``id``."""
        data = request.json["data"]
        sources = data["relationships"]["profiles"]["data"]
        with self.lock:
            state = self._state(request)
            target = state["profiles"].get(data["id"])
            if target is None:
                return self.error(404, f"Profile {data['id']} not found", "/data/id")
            for ref in sources:
                source = state["profiles"].get(ref["id"])
                if source is None:
                    return self.error(
                        404,
                        f"Profile {ref['id']} not found",
                        "/data/relationships/profiles/data",
                    )
                if source is target:
                    return self.error(
                        400,
                        "A profile cannot be merged into itself.",
                        "/data/relationships/profiles/data",
                    )
            for ref in sources:
                self._merge_into(state, target, state["profiles"].pop(ref["id"]))
            body = {
                "data": {
                    "type": "profile",
                    "id": target["id"],
                    "links": {
                        "self": self._url(request, f"/api/profiles/{target['id']}")
                    },
                },
                "links": {"self": self._url(request, "/api/profile-merge")},
            }
        return Response(200, body)

    def _merge_into(self, state, target, source):
        """Fold ``source`` into ``target`` (target wins) and forget ``source``."""
        for name in IDENTIFIERS:
            index = state["index"][name]
            value = source.get(name)
            if value and index.get(value) == source["id"]:
                del index[value]
        for key, value in (source.get("properties") or {}).items():
            target["properties"].setdefault(key, value)
        for key, value in (source.get("location") or {}).items():
            target["location"].setdefault(key, value)
        target["lists"] |= source["lists"]
        for channel, values in source["subscriptions"].items():
            # A suppression is a "no" the person gave: it survives the merge.
            kept = target["subscriptions"][channel]
            for entry in values.get("suppression") or []:
                if entry not in kept.setdefault("suppression", []):
                    kept["suppression"].append(entry)
        for event in state["events"]:
            if event["profile_id"] == source["id"]:
                event["profile_id"] = target["id"]
        # Event de-duplication follows the events to their new profile.
        state["event_keys"] = {
            (target["id"] if key[0] == source["id"] else key[0], *key[1:])
            for key in state["event_keys"]
        }
        target["last_event_date"] = (
            max(target["last_event_date"] or 0, source["last_event_date"] or 0) or None
        )
        target["updated"] = self.now()


class ErasureMixin:
    """``POST /api/data-privacy-deletion-jobs``: the profile and its events go."""

    def deletion_job(self, request):
        """Delete the profile named by email (or phone), its events and list
        memberships; 202 whether or not it existed, as Klaviyo answers."""
        attributes = request.json["data"]["attributes"]["profile"]["data"]
        attributes = attributes.get("attributes") or {}
        with self.lock:
            state = self._state(request)
            for name in ("email", "phone_number"):
                value = attributes.get(name)
                if name == "email" and value:
                    value = value.lower()
                profile_id = value and state["index"][name].get(value)
                if profile_id:
                    self._erase(state, state["profiles"][profile_id])
                    break
        return Response(202, None)

    @staticmethod
    def _erase(state, profile):
        for name in IDENTIFIERS:
            index = state["index"][name]
            value = profile.get(name)
            if value and index.get(value) == profile["id"]:
                del index[value]
        state["events"] = [
            e for e in state["events"] if e.get("profile_id") != profile["id"]
        ]
        del state["profiles"][profile["id"]]
        state.setdefault("erased", []).append(profile["id"])
