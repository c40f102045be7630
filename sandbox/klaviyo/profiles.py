"""Klaviyo profiles: upsert by any identifier, import, get and filter."""

from ..core import Response
from . import filters
from .common import (
    E164_PATTERN,
    EMAIL_PATTERN,
    IDENTIFIERS,
    MAX_PROFILE_BYTES,
    PROFILE_FIELDS,
    PROFILE_FILTERS,
    ApiError,
    blank_channel,
    iso,
    lowercase_values,
    profile_value,
    sort_items,
    subscriptions_out,
)


class ProfilesMixin:
    """Profile endpoints of :class:`~sandbox.klaviyo.KlaviyoApp`."""

    def _blank_profile(self, state):
        now = self.now()
        return {
            "id": self._new_id(),
            **dict.fromkeys(PROFILE_FIELDS),
            "location": {},
            "properties": {},
            "created": now,
            "updated": now,
            "last_event_date": None,
            "subscriptions": {
                "email": blank_channel(),
                "sms": blank_channel(),
            },
            "lists": set(),
            "pending_lists": set(),
        }

    def _find(self, state, attributes, profile_id=None):
        """Profiles matching the identifiers given (id first)."""
        if profile_id:
            found = state["profiles"].get(profile_id)
            return [found] if found else []
        matches = []
        for name in IDENTIFIERS:
            value = attributes.get(name)
            if not value:
                continue
            if name == "email":
                value = value.lower()
            profile_id = state["index"][name].get(value)
            if profile_id and all(p["id"] != profile_id for p in matches):
                matches.append(state["profiles"][profile_id])
        return matches

    def _reindex(self, state, profile, before):
        """Point the identifier indexes at ``profile`` after a change."""
        for name in IDENTIFIERS:
            index = state["index"][name]
            old, new = before.get(name), profile[name]
            if old and old != new and index.get(old) == profile["id"]:
                del index[old]
            if new:
                index[new] = profile["id"]

    def _check_identity(self, attributes, pointer):
        email = attributes.get("email")
        if email is not None and not EMAIL_PATTERN.match(str(email)):
            return f"{pointer}/email", f"Invalid email address: {email!r}"
        phone = attributes.get("phone_number")
        if phone is not None and not E164_PATTERN.match(str(phone)):
            return f"{pointer}/phone_number", f"Invalid phone number: {phone!r}"
        return None

    def _apply(self, profile, attributes, meta=None):
        """Write attributes onto a profile: null clears, properties merge."""
        for name in PROFILE_FIELDS:
            if name in attributes:
                value = attributes[name]
                profile[name] = value.lower() if name == "email" and value else value
        if "location" in attributes:
            location = attributes["location"]
            if location is None:
                profile["location"] = {}
            else:
                for key, value in location.items():
                    if value is None:
                        profile["location"].pop(key, None)
                    else:
                        profile["location"][key] = value
        if "properties" in attributes:
            props = attributes["properties"]
            if props is None:
                profile["properties"] = {}
            else:
                for key, value in props.items():
                    if value is None:
                        profile["properties"].pop(key, None)
                    else:
                        profile["properties"][key] = value
        patch = (meta or {}).get("patch_properties") or {}
        for key in patch.get("unset") or []:
            profile["properties"].pop(key, None)
        for key, value in (patch.get("append") or {}).items():
            current = profile["properties"].get(key)
            current = (
                current
                if isinstance(current, list)
                else []
                if current is None
                else [current]
            )
            profile["properties"][key] = current + (
                value if isinstance(value, list) else [value]
            )
        for key, value in (patch.get("unappend") or {}).items():
            current = profile["properties"].get(key)
            if isinstance(current, list):
                drop = value if isinstance(value, list) else [value]
                profile["properties"][key] = [v for v in current if v not in drop]
        profile["updated"] = self.now()

    def _upsert(self, state, resource, pointer="/data"):
        """Create or update from a profile resource; ``(profile, created)``.

        Raises :class:`ApiError` on conflicts and bad identifiers.
        """
        attributes = resource.get("attributes") or {}
        problem = self._check_identity(attributes, f"{pointer}/attributes")
        if problem:
            raise ApiError(400, problem[1], problem[0])
        matches = self._find(state, attributes, resource.get("id"))
        if resource.get("id") and not matches:
            raise ApiError(404, f"Profile {resource['id']} not found", f"{pointer}/id")
        if len(matches) > 1:
            raise ApiError(
                409,
                "A profile already exists with one of these identifiers.",
                f"{pointer}/attributes",
                code="duplicate_profile",
                meta={"duplicate_profile_id": matches[1]["id"]},
            )
        if not matches and not any(
            attributes.get(name) for name in ("email", "external_id", "phone_number")
        ):
            raise ApiError(
                400,
                "A profile requires one of email, phone_number or external_id.",
                f"{pointer}/attributes",
            )
        if resource.get("id"):
            self._identity_conflict(state, matches[0], attributes, pointer)
        created = not matches
        profile = matches[0] if matches else self._blank_profile(state)
        if created:
            state["profiles"][profile["id"]] = profile
        before = {name: profile[name] for name in IDENTIFIERS}
        self._apply(profile, attributes, resource.get("meta"))
        self._reindex(state, profile, before)
        return profile, created

    def _profile_resource(self, request, profile, subscriptions=False):
        attributes = {name: profile[name] for name in PROFILE_FIELDS}
        attributes.update(
            location=dict(profile["location"]) or None,
            properties=dict(profile["properties"]),
            created=iso(profile["created"]),
            updated=iso(profile["updated"]),
            last_event_date=iso(profile["last_event_date"]),
        )
        if subscriptions:
            attributes["subscriptions"] = subscriptions_out(profile)
        return {
            "type": "profile",
            "id": profile["id"],
            "attributes": attributes,
            "relationships": {
                "lists": {
                    "data": [
                        {"type": "list", "id": i} for i in sorted(profile["lists"])
                    ]
                }
            },
            "links": {"self": self._url(request, f"/api/profiles/{profile['id']}")},
        }

    def _wants_subscriptions(self, request):
        values = request.query.get("additional-fields[profile]") or []
        return any("subscriptions" in value.split(",") for value in values)

    def profile_import(self, request):
        """``POST /api/profile-import``: upsert one profile by
        id/email/external_id/phone; 201 new, 200 existing.
        """
        if len(request.body) > MAX_PROFILE_BYTES:
            return self.error(
                413,
                "The maximum allowed payload size is 100KB; "
                f"got {len(request.body)} bytes.",
            )
        data = request.json["data"]
        with self.lock:
            state = self._state(request)
            try:
                profile, created = self._upsert(state, data)
            except ApiError as exc:
                return self._api_error(exc)
            body = {
                "data": self._profile_resource(
                    request, profile, self._wants_subscriptions(request)
                ),
                "links": {"self": self._url(request, "/api/profile-import")},
            }
        return Response(201 if created else 200, body)

    def create_profile(self, request):
        """``POST /api/profiles``."""
        data = request.json["data"]
        with self.lock:
            state = self._state(request)
            attributes = data.get("attributes") or {}
            existing = self._find(state, attributes)
            if existing:
                return self._api_error(
                    ApiError(
                        409,
                        "A profile already exists with one of these identifiers.",
                        "/data/attributes",
                        code="duplicate_profile",
                        meta={"duplicate_profile_id": existing[0]["id"]},
                    )
                )
            try:
                profile, _created = self._upsert(state, data)
            except ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(201, body)

    def update_profile(self, request):
        """``PATCH /api/profiles/{id}``."""
        data = request.json["data"]
        if data.get("id") != request.path_params["id"]:
            return self.error(
                409, "The id in the body does not match the URL.", "/data/id"
            )
        with self.lock:
            state = self._state(request)
            try:
                profile, _created = self._upsert(state, data)
            except ApiError as exc:
                return self._api_error(exc)
            body = {"data": self._profile_resource(request, profile)}
        return Response(200, body)

    def get_profile(self, request):
        """``GET /api/profiles/{id}``."""
        with self.lock:
            state = self._state(request)
            profile = state["profiles"].get(request.path_params["id"])
            if profile is None:
                return self.error(
                    404, f"Profile {request.path_params['id']} not found."
                )
            return {
                "data": self._profile_resource(
                    request, profile, self._wants_subscriptions(request)
                )
            }

    def get_profiles(self, request):
        """``GET /api/profiles``: filter, sort and page profiles (``additional-fields``
        for consent).
        """
        parsed = filters.parse(request.arg("filter"), PROFILE_FILTERS)
        conditions = [
            (op, field, lowercase_values(value) if field == "email" else value)
            for op, field, value in parsed
        ]
        with self.lock:
            profiles = self._state(request)["profiles"].values()
            found = self._matching(conditions, profiles, profile_value)
            found = sort_items(found, request.arg("sort"), profile_value)
            wants = self._wants_subscriptions(request)
            return self._page(
                request, found, lambda p: self._profile_resource(request, p, wants)
            )
