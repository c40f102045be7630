"""Klaviyo consent: subscription and suppression jobs, lists."""

from ..core import Response
from . import filters
from .common import (
    LIFTED_BY_SUBSCRIBE,
    MAX_SUBSCRIBE,
    MAX_SUPPRESS,
    MAX_UNSUBSCRIBE,
    ApiError,
    identity_of,
    iso,
)


class ConsentMixin:
    """Klaviyo consent: subscription and suppression jobs, lists."""

    # == consent ================================================================
    def _list_from(self, state, relationships, pointer):
        list_id = (((relationships or {}).get("list") or {}).get("data") or {}).get(
            "id"
        )
        if list_id is None:
            return None
        if list_id not in state["lists"]:
            raise ApiError(404, f"List {list_id} not found.", pointer)
        return state["lists"][list_id]

    def subscribe(self, request):
        """``POST /api/profile-subscription-bulk-create-jobs``: subscribe profiles
        (202); lifts UNSUBSCRIBE/SPAM_REPORT/USER_SUPPRESSED.
        """
        data = request.json["data"]
        attributes = data["attributes"]
        profiles = attributes["profiles"]["data"]
        if len(profiles) > MAX_SUBSCRIBE:
            return self.error(
                400,
                f"At most {MAX_SUBSCRIBE} profiles per request; got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        historical = bool(attributes.get("historical_import"))
        with self.lock:
            state = self._state(request)
            try:
                target = self._list_from(
                    state, data.get("relationships"), "/data/relationships/list/data/id"
                )
                plans = []
                for index, item in enumerate(profiles):
                    pointer = f"/data/attributes/profiles/data/{index}"
                    channels = item["attributes"].get("subscriptions") or {}
                    consented = (
                        (channels.get("email") or {}).get("marketing") or {}
                    ).get("consented_at")
                    if historical and not consented:
                        raise ApiError(
                            400,
                            "consented_at is required when historical_import is true.",
                            f"{pointer}/attributes/subscriptions/email/marketing",
                        )
                    if consented and filters.to_epoch(consented) > self.now() + 60:
                        raise ApiError(
                            400,
                            "consented_at must be in the past.",
                            f"{pointer}/attributes/subscriptions/email/marketing/consented_at",
                        )
                    if channels.get("sms") and not item["attributes"].get(
                        "phone_number"
                    ):
                        raise ApiError(
                            400,
                            "phone_number is required to subscribe to SMS.",
                            f"{pointer}/attributes/phone_number",
                        )
                    profile, _created = self._upsert(state, identity_of(item), pointer)
                    plans.append((profile, channels))
            except (ApiError, filters.FilterError) as exc:
                return self._api_error(exc)
            double = target is not None and target["opt_in_process"] == "double_opt_in"
            for profile, channels in plans:
                if target is not None:
                    confirmed = (
                        profile["subscriptions"]["email"]["consent"] == "SUBSCRIBED"
                    )
                    if double and not historical and not confirmed:
                        profile["pending_lists"].add(target["id"])
                        continue
                    profile["lists"].add(target["id"])
                for channel, wanted in channels.items():
                    marketing = (wanted or {}).get("marketing")
                    if channel not in profile["subscriptions"] or not marketing:
                        continue
                    self._set_subscribed(
                        profile,
                        channel,
                        marketing.get("consented_at"),
                        attributes.get("custom_source"),
                        target,
                    )
        return Response(202, None)

    def _set_subscribed(self, profile, channel, consented_at, source, target=None):
        sub = profile["subscriptions"][channel]
        now = self.now()
        sub.update(
            consent="SUBSCRIBED",
            consent_timestamp=filters.to_epoch(consented_at) if consented_at else now,
            last_updated=now,
            method="API",
            custom_method_detail=source,
            double_optin=bool(target and target["opt_in_process"] == "double_opt_in"),
        )
        if channel == "email":
            sub["suppression"] = [
                s for s in sub["suppression"] if s["reason"] not in LIFTED_BY_SUBSCRIBE
            ]
            if target is not None:
                sub["list_suppressions"] = [
                    s for s in sub["list_suppressions"] if s["list_id"] != target["id"]
                ]
        profile["updated"] = now

    def _set_unsubscribed(self, profile, channel="email", method="API"):
        sub = profile["subscriptions"][channel]
        now = self.now()
        sub.update(
            consent="UNSUBSCRIBED",
            consent_timestamp=now,
            last_updated=now,
            method=method,
        )
        if channel == "email":
            profile["pending_lists"].clear()  # a pending confirmation is void
        if channel == "email" and not any(
            s["reason"] == "UNSUBSCRIBE" for s in sub["suppression"]
        ):
            sub["suppression"].append({"reason": "UNSUBSCRIBE", "timestamp": now})
        profile["updated"] = now

    def unsubscribe(self, request):
        """``POST /api/profile-subscription-bulk-delete-jobs``: unsubscribe profiles
        globally, or from the given list.
        """
        data = request.json["data"]
        profiles = data["attributes"]["profiles"]["data"]
        if len(profiles) > MAX_UNSUBSCRIBE:
            return self.error(
                400,
                f"At most {MAX_UNSUBSCRIBE} profiles per request; got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        with self.lock:
            state = self._state(request)
            try:
                target = self._list_from(
                    state, data.get("relationships"), "/data/relationships/list/data/id"
                )
                plans = [
                    self._upsert(
                        state, identity_of(item), f"/data/attributes/profiles/data/{i}"
                    )[0]
                    for i, item in enumerate(profiles)
                ]
            except ApiError as exc:
                return self._api_error(exc)
            for profile, item in zip(plans, profiles, strict=True):
                channels = item["attributes"].get("subscriptions") or {"email": {}}
                if target is not None and target["id"] in profile["lists"]:
                    # A list member leaves that list only (a list suppression);
                    # anyone else is unsubscribed globally, as Klaviyo warns.
                    self._unsubscribe_from_list(profile, target["id"])
                    continue
                for channel in channels:
                    if channel in profile["subscriptions"]:
                        self._set_unsubscribed(profile, channel)
        return Response(202, None)

    def _unsubscribe_from_list(self, profile, list_id):
        now = self.now()
        profile["lists"].discard(list_id)
        profile["pending_lists"].discard(list_id)
        sub = profile["subscriptions"]["email"]
        sub["list_suppressions"] = [
            s for s in sub["list_suppressions"] if s["list_id"] != list_id
        ]
        sub["list_suppressions"].append(
            {"list_id": list_id, "reason": "UNSUBSCRIBE", "timestamp": now}
        )
        sub["last_updated"] = profile["updated"] = now

    def _suppression_job(self, request, kind):
        data = request.json["data"]
        profiles = ((data["attributes"].get("profiles") or {}).get("data")) or []
        if len(profiles) > MAX_SUPPRESS:
            return None, self.error(
                400,
                f"At most {MAX_SUPPRESS} email addresses per request; "
                f"got {len(profiles)}.",
                "/data/attributes/profiles/data",
            )
        state = self._state(request)
        emails = [item["attributes"]["email"].lower() for item in profiles]
        relationships = data.get("relationships") or {}
        list_id = ((relationships.get("list") or {}).get("data") or {}).get("id")
        if list_id:
            if list_id not in state["lists"]:
                return None, self.error(
                    404,
                    f"List {list_id} not found.",
                    "/data/relationships/list/data/id",
                )
            emails += [
                p["email"]
                for p in state["profiles"].values()
                if list_id in p["lists"] and p["email"]
            ]
        job = self._new_job(state, kind, len(emails))
        job["emails"] = emails
        return job, None

    def suppress(self, request):
        """``POST /api/profile-suppression-bulk-create-jobs``: queue a job suppressing
        addresses (USER_SUPPRESSED).
        """
        with self.lock:
            job, problem = self._suppression_job(
                request, "profile-suppression-bulk-create-job"
            )
            if problem:
                return problem
            job["apply"] = "suppress"
            return Response(202, {"data": self._job_resource(request, job)})

    def unsuppress(self, request):
        """``POST /api/profile-suppression-bulk-delete-jobs``: queue a job lifting
        USER_SUPPRESSED suppressions only.
        """
        with self.lock:
            job, problem = self._suppression_job(
                request, "profile-suppression-bulk-delete-job"
            )
            if problem:
                return problem
            job["apply"] = "unsuppress"
            return Response(202, {"data": self._job_resource(request, job)})

    def _suppress_email(self, state, email, reason="USER_SUPPRESSED"):
        profile = self._profile_by_email(state, email, create=True)
        sub = profile["subscriptions"]["email"]
        if not any(s["reason"] == reason for s in sub["suppression"]):
            sub["suppression"].append({"reason": reason, "timestamp": self.now()})
        sub["last_updated"] = profile["updated"] = self.now()
        return profile

    def _profile_by_email(self, state, email, create=False):
        email = email.lower()
        profile_id = state["index"]["email"].get(email)
        if profile_id:
            return state["profiles"][profile_id]
        if not create:
            return None
        profile = self._blank_profile(state)
        profile["email"] = email
        state["profiles"][profile["id"]] = profile
        state["index"]["email"][email] = profile["id"]
        return profile

    # == lists ==================================================================
    def _list_resource(self, request, item):
        return {
            "type": "list",
            "id": item["id"],
            "attributes": {
                "name": item["name"],
                "created": iso(item["created"]),
                "updated": iso(item["updated"]),
                "opt_in_process": item["opt_in_process"],
            },
            "links": {"self": self._url(request, f"/api/lists/{item['id']}")},
        }

    def create_list(self, request):
        """``POST /api/lists``."""
        attributes = request.json["data"]["attributes"]
        with self.lock:
            state = self._state(request)
            list_id = self._new_id(6)[2:].upper()
            item = {
                "id": list_id,
                "name": attributes["name"],
                "opt_in_process": attributes.get("opt_in_process") or "single_opt_in",
                "created": self.now(),
                "updated": self.now(),
            }
            state["lists"][list_id] = item
            return Response(201, {"data": self._list_resource(request, item)})

    def get_lists(self, request):
        """``GET /api/lists``."""
        allowed = {
            "name": ("any", "equals"),
            "id": ("any", "equals"),
            "created": ("greater-than",),
            "updated": ("greater-than",),
        }
        conditions = filters.parse(request.arg("filter"), allowed)
        with self.lock:
            items = self._state(request)["lists"].values()
            found = self._matching(conditions, items, dict.get)
            return self._page(request, found, lambda i: self._list_resource(request, i))

    def get_list(self, request):
        """``GET /api/lists/{id}``."""
        with self.lock:
            item = self._state(request)["lists"].get(request.path_params["id"])
            if item is None:
                return self.error(404, f"List {request.path_params['id']} not found.")
            return {"data": self._list_resource(request, item)}

    def get_list_profiles(self, request):
        """``GET /api/lists/{id}/profiles``."""
        with self.lock:
            state = self._state(request)
            list_id = request.path_params["id"]
            if list_id not in state["lists"]:
                return self.error(404, f"List {list_id} not found.")
            found = [p for p in state["profiles"].values() if list_id in p["lists"]]
            return self._page(
                request, found, lambda p: self._profile_resource(request, p)
            )

    def add_to_list(self, request):
        """``POST /api/lists/{id}/relationships/profiles``."""
        return self._list_membership(request, add=True)

    def remove_from_list(self, request):
        """``DELETE /api/lists/{id}/relationships/profiles``."""
        return self._list_membership(request, add=False)

    def _list_membership(self, request, add):
        with self.lock:
            state = self._state(request)
            list_id = request.path_params["id"]
            if list_id not in state["lists"]:
                return self.error(404, f"List {list_id} not found.")
            for index, ref in enumerate(request.json["data"]):
                profile = state["profiles"].get(ref["id"])
                if profile is None:
                    return self.error(
                        404, f"Profile {ref['id']} not found.", f"/data/{index}/id"
                    )
                if add:
                    profile["lists"].add(list_id)
                else:
                    profile["lists"].discard(list_id)
        return Response(204, None)
