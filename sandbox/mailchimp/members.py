"""Mailchimp audience members: upserts, consent rules, merge fields, tags,
member events and batch subscribe (``POST /3.0/lists/{list_id}``)."""

import hashlib
import uuid

from ..core import parse_iso
from .common import (
    COMPLIANCE_DETAIL,
    EMAIL_RE,
    EVENT_NAME_RE,
    STATUSES,
    VALIDATION_DETAIL,
    ApiError,
    not_found,
    page,
    subscriber_hash,
    webhook_kind,
)
from .identity import check_email_change


class MembersMixin:
    """Member endpoints of :class:`~sandbox.mailchimp.MailchimpApp`."""

    # -- lookups and rules ----------------------------------------------------
    def _member_hash(self, raw):
        return subscriber_hash(raw) if "@" in raw else raw.lower()

    def _find_member(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        hash_ = self._member_hash(request.path_params["subscriber_hash"])
        return list_id, hash_, state["members"][list_id].get(hash_)

    def _existing_member(self, request, state):
        list_id, hash_, member = self._find_member(request, state)
        if member is None or member["status"] == "archived":
            raise not_found()
        return list_id, hash_, member

    def _check_email(self, email):
        if not email or not EMAIL_RE.match(email):
            raise ApiError(
                400,
                f"{email or 'An empty address'} looks fake or invalid, please "
                "enter a real email address.",
                title="Invalid Resource",
                errors=[{"field": "email_address", "message": "Invalid email"}],
            )

    def _check_merge_fields(self, state, list_id, values, creating, skip):
        fields = state["merge_fields"][list_id]
        errors = []
        for tag, value in (values or {}).items():
            field = fields.get(tag)
            if field is None:
                errors.append(
                    {
                        "field": tag,
                        "message": f"Merge field {tag} does not exist on this list.",
                    }
                )
            elif field["type"] == "number" and value not in ("", None):
                try:
                    float(value)
                except (TypeError, ValueError):
                    errors.append({"field": tag, "message": "Please enter a number"})
            elif field["type"] == "address" and value not in ("", None):
                ok = isinstance(value, dict) and all(
                    value.get(k) for k in ("addr1", "city", "state", "zip")
                )
                if not ok:
                    errors.append(
                        {"field": tag, "message": "Please enter a complete address"}
                    )
        if creating and not skip:
            for tag, field in fields.items():
                if field["required"] and not (values or {}).get(tag):
                    errors.append({"field": tag, "message": "Please enter a value"})
        if errors:
            names = ", ".join(e["field"] for e in errors)
            raise ApiError(
                400,
                f"Your merge fields were invalid: {names}.",
                title="Invalid Resource",
                errors=errors,
            )

    def _check_status_change(self, member, new_status):
        old = member["status"]
        refused = (
            new_status == "subscribed" and old in ("unsubscribed", "cleaned")
        ) or (new_status == "pending" and old == "cleaned")
        if refused:
            raise ApiError(
                400,
                COMPLIANCE_DETAIL.format(email=member["email_address"]),
                title="Member In Compliance State",
            )

    def _check_forgotten(self, state, list_id, email):
        if subscriber_hash(email) in state.get("forgotten", {}).get(list_id, []):
            raise ApiError(
                400,
                f"{email} was permanently deleted and cannot be re-imported. The "
                "contact must re-subscribe to get back on the list.",
                title="Forgotten Email Not Subscribed",
            )

    def _new_member(self, state, list_id, body, status):
        email = body["email_address"].strip()
        self._check_forgotten(state, list_id, email)
        now = self._iso()
        merge = dict.fromkeys(state["merge_fields"][list_id], "")
        merge.update(body.get("merge_fields") or {})
        member = {
            "id": subscriber_hash(email),
            "email_address": email,
            "unique_email_id": uuid.uuid4().hex[:10],
            "contact_id": uuid.uuid4().hex,
            "web_id": sum(len(m) for m in state["members"].values()) + 1,
            "email_type": body.get("email_type") or "html",
            "status": status,
            "unsubscribe_reason": "",
            "merge_fields": merge,
            "interests": dict(body.get("interests") or {}),
            "ip_signup": body.get("ip_signup", ""),
            "timestamp_signup": body.get("timestamp_signup", ""),
            "ip_opt": body.get("ip_opt", ""),
            "timestamp_opt": body.get("timestamp_opt")
            or (now if status == "subscribed" else ""),
            "member_rating": 2,
            "last_changed": now,
            "language": body.get("language", ""),
            "vip": bool(body.get("vip", False)),
            "location": body.get("location") or {},
            "marketing_permissions": body.get("marketing_permissions") or [],
            "source": "API - Generic",
            "tags_count": 0,
            "tags": [],
            "list_id": list_id,
        }
        for name in body.get("tags") or []:
            self._set_tag(member, name, True)
        state["members"][list_id][member["id"]] = member
        state["events"][list_id].setdefault(member["id"], [])
        return member

    def _update_member(self, state, list_id, member, body):
        """Apply ``body`` to ``member``; return the webhook kinds it causes."""
        kinds = []
        status = body.get("status")
        if status and status != member["status"]:
            self._check_status_change(member, status)
            member["status"] = status
            if status == "subscribed":
                member["timestamp_opt"] = body.get("timestamp_opt") or self._iso()
            kinds.append(
                {"subscribed": "subscribe", "unsubscribed": "unsubscribe"}.get(
                    status, status
                )
            )
        if body.get("merge_fields"):
            member["merge_fields"].update(body["merge_fields"])
            kinds.append("profile")
        for name in ("email_type", "language", "vip", "ip_signup", "ip_opt"):
            if name in body:
                member[name] = body[name]
        if body.get("interests"):
            member["interests"].update(body["interests"])
        if kinds or body:
            member["last_changed"] = self._iso()
        return kinds

    # -- members --------------------------------------------------------------
    def _list_members(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        members = list(state["members"][list_id].values())
        status = request.arg("status")
        if status:
            members = [m for m in members if m["status"] == status]
        since = request.arg("since_last_changed")
        if since:
            cutoff = parse_iso(since)
            members = [m for m in members if parse_iso(m["last_changed"]) > cutoff]
        return {
            "members": page(request, members),
            "list_id": list_id,
            "total_items": len(members),
        }

    def _add_member(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        body = request.json or {}
        email = body.get("email_address", "")
        self._check_email(email)
        existing = state["members"][list_id].get(subscriber_hash(email))
        if existing is not None and existing["status"] != "archived":
            raise ApiError(
                400,
                f"{email} is already a list member. Use PUT to insert or update "
                "list members.",
                title="Member Exists",
            )
        skip = request.arg("skip_merge_validation") == "true"
        self._check_merge_fields(state, list_id, body.get("merge_fields"), True, skip)
        member = self._new_member(state, list_id, body, body["status"])
        self._fire(state, list_id, webhook_kind(member["status"]), "api", member)
        return member

    def _get_member(self, request, state):
        return self._existing_member(request, state)[2]

    def _put_member(self, request, state):
        list_id, hash_, member = self._find_member(request, state)
        body = request.json or {}
        email = body.get("email_address") or (member or {}).get("email_address", "")
        self._check_email(email)
        if subscriber_hash(email) != hash_:
            raise ApiError(
                400,
                "The subscriber hash in the URL does not match the email address "
                f"{email} (md5 of its lower-case form).",
                title="Invalid Resource",
                errors=[{"field": "email_address", "message": "hash mismatch"}],
            )
        skip = request.arg("skip_merge_validation") == "true"
        creating = member is None or member["status"] == "archived"
        self._check_merge_fields(
            state, list_id, body.get("merge_fields"), creating, skip
        )
        if creating:
            # Strict on purpose: a new member takes status_if_new, and the real
            # API's behaviour without it is erratic (see the package docstring).
            status = body.get("status_if_new")
            if status not in STATUSES:
                raise ApiError(
                    400,
                    VALIDATION_DETAIL,
                    errors=[
                        {
                            "field": "status_if_new",
                            "message": "This value should not be blank: the address "
                            "is not on the list yet.",
                        }
                    ],
                )
            member = self._new_member(state, list_id, body, status)
            self._fire(state, list_id, webhook_kind(status), "api", member)
            return member
        for kind in self._update_member(state, list_id, member, body):
            self._fire(state, list_id, kind, "api", member)
        return member

    def _patch_member(self, request, state):
        list_id, hash_, member = self._existing_member(request, state)
        body = request.json or {}
        self._check_merge_fields(state, list_id, body.get("merge_fields"), False, True)
        new_email = body.get("email_address")
        if new_email and subscriber_hash(new_email) != hash_:
            self._check_email(new_email)
            check_email_change(
                state["members"][list_id], member, new_email, subscriber_hash(new_email)
            )
            del state["members"][list_id][hash_]
            old_email = member["email_address"]
            member["email_address"] = new_email
            member["id"] = subscriber_hash(new_email)
            state["members"][list_id][member["id"]] = member
            events = state["events"][list_id]
            events[member["id"]] = events.pop(hash_, [])
            self._fire(state, list_id, "upemail", "api", member, old_email=old_email)
        for kind in self._update_member(state, list_id, member, body):
            self._fire(state, list_id, kind, "api", member)
        return member

    def _archive_member(self, request, state):
        member = self._existing_member(request, state)[2]
        member["status"] = "archived"
        member["last_changed"] = self._iso()

    def _delete_permanent(self, request, state):
        """GDPR erase: the member goes, and the address can never be re-added
        through the API (only by the person signing up again)."""
        list_id, hash_, member = self._find_member(request, state)
        if member is None:
            raise not_found()
        del state["members"][list_id][hash_]
        state["events"][list_id].pop(hash_, None)
        state.setdefault("forgotten", {}).setdefault(list_id, []).append(hash_)

    # -- tags and events ------------------------------------------------------
    def _set_tag(self, member, name, active):
        tags = [t for t in member["tags"] if t["name"] != name]
        if active:
            tags.append({"id": _tag_id(name), "name": name, "date_added": self._iso()})
        member["tags"] = tags
        member["tags_count"] = len(tags)

    def _get_tags(self, request, state):
        member = self._existing_member(request, state)[2]
        return {"tags": member["tags"], "total_items": len(member["tags"])}

    def _post_tags(self, request, state):
        member = self._existing_member(request, state)[2]
        for tag in (request.json or {}).get("tags", []):
            self._set_tag(member, tag["name"], tag["status"] == "active")

    def _get_events(self, request, state):
        list_id, hash_, _member = self._existing_member(request, state)
        events = state["events"][list_id].get(hash_, [])
        return {"events": events, "total_items": len(events)}

    def _post_event(self, request, state):
        list_id, hash_, _member = self._existing_member(request, state)
        body = request.json or {}
        if not EVENT_NAME_RE.match(body.get("name", "")):
            raise ApiError(
                400,
                VALIDATION_DETAIL,
                errors=[
                    {
                        "field": "name",
                        "message": "Event name must be 2-30 letters, digits, "
                        "underscores or dashes.",
                    }
                ],
            )
        event = {
            "name": body["name"],
            "properties": body.get("properties") or {},
            "occurred_at": body.get("occurred_at") or self._iso(),
            "is_syncing": bool(body.get("is_syncing", False)),
        }
        state["events"][list_id].setdefault(hash_, []).append(event)

    # -- merge fields ---------------------------------------------------------


def _tag_id(name):
    return int(hashlib.md5(name.encode()).hexdigest()[:6], 16)
