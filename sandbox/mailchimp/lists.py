"""Mailchimp audiences (lists) and their webhooks, fired on member changes."""

import hashlib
import urllib.parse
import uuid
from datetime import datetime, timezone

from .common import (
    DEFAULT_MERGE_FIELDS,
    VALIDATION_DETAIL,
    WEBHOOK_EVENTS,
    ApiError,
    not_found,
    page,
    webhook_payload,
)


class ListsMixin:
    """List and webhook endpoints of :class:`~sandbox.mailchimp.MailchimpApp`."""

    def _root(self, request, state):
        total = sum(len(m) for m in state["members"].values())
        return {
            "account_id": hashlib.md5(request.account.encode()).hexdigest()[:25],
            "login_id": "1",
            "account_name": "Sandbox Account",
            "email": "owner@sandbox.invalid",
            "username": "sandbox",
            "role": "owner",
            "pricing_plan_type": "monthly",
            "account_timezone": "UTC",
            "total_subscribers": total,
            "contact": {"company": "Sandbox", "country": "US"},
        }

    def _ping(self, request, state):
        return {"health_status": "Everything's Chimpy!"}

    # -- lists ----------------------------------------------------------------
    def _create_list_state(self, state, list_id, body):
        now = self._iso()
        state["lists"][list_id] = {
            "id": list_id,
            "web_id": len(state["lists"]) + 1,
            "name": body.get("name", ""),
            "contact": body.get("contact", {}),
            "permission_reminder": body.get("permission_reminder", ""),
            "campaign_defaults": body.get("campaign_defaults", {}),
            "email_type_option": bool(body.get("email_type_option", False)),
            "double_optin": bool(body.get("double_optin", False)),
            "date_created": now,
        }
        state["members"][list_id] = {}
        state["events"][list_id] = {}
        state["webhooks"][list_id] = {}
        state["merge_fields"][list_id] = {
            tag: {
                "merge_id": index,
                "tag": tag,
                "name": name,
                "type": kind,
                "required": False,
                "default_value": "",
                "public": True,
                "display_order": index + 1,
                "options": {},
                "help_text": "",
                "list_id": list_id,
            }
            for index, (tag, name, kind) in enumerate(DEFAULT_MERGE_FIELDS, 1)
        }

    def _list_view(self, state, list_id):
        members = state["members"][list_id].values()
        stats = {
            "member_count": sum(m["status"] == "subscribed" for m in members),
            "unsubscribe_count": sum(m["status"] == "unsubscribed" for m in members),
            "cleaned_count": sum(m["status"] == "cleaned" for m in members),
            "total_contacts": len(members),
        }
        return {**state["lists"][list_id], "stats": stats}

    def _the_list(self, state, list_id):
        if list_id not in state["lists"]:
            raise not_found()
        return list_id

    def _lists(self, request, state):
        lists = [self._list_view(state, lid) for lid in state["lists"]]
        return {"lists": page(request, lists), "total_items": len(lists)}

    def _create_list(self, request, state):
        list_id = uuid.uuid4().hex[:10]
        self._create_list_state(state, list_id, request.json or {})
        return self._list_view(state, list_id)

    def _get_list(self, request, state):
        return self._list_view(
            state, self._the_list(state, request.path_params["list_id"])
        )

    # -- webhooks -------------------------------------------------------------
    def _webhooks(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        hooks = list(state["webhooks"][list_id].values())
        return {"webhooks": hooks, "list_id": list_id, "total_items": len(hooks)}

    def _add_webhook(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        body = request.json or {}
        url = body.get("url") or ""
        if not url.startswith(("http://", "https://")):
            raise ApiError(
                400,
                VALIDATION_DETAIL,
                errors=[{"field": "url", "message": "This value should be a URL."}],
            )
        hooks = state["webhooks"][list_id]
        if any(h["url"] == url for h in hooks.values()):
            raise ApiError(400, "The URL is already registered for this list.")
        events = dict.fromkeys(WEBHOOK_EVENTS, False)
        events.update(body.get("events") or {})
        sources = {"user": False, "admin": False, "api": False}
        sources.update(body.get("sources") or {})
        hook_id = uuid.uuid4().hex[:10]
        hooks[hook_id] = {
            "id": hook_id,
            "url": url,
            "events": events,
            "sources": sources,
            "list_id": list_id,
        }
        return hooks[hook_id]

    def _get_webhook(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        hook = state["webhooks"][list_id].get(request.path_params["webhook_id"])
        if hook is None:
            raise not_found()
        return hook

    def _delete_webhook(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        if state["webhooks"][list_id].pop(request.path_params["webhook_id"], None):
            return
        raise not_found()

    def _fire(self, state, list_id, kind, source, member, old_email=None):
        """Send ``kind`` to each list webhook subscribed to it and ``source``."""
        if kind not in WEBHOOK_EVENTS:
            return 0
        sent = 0
        for hook in state["webhooks"].get(list_id, {}).values():
            if not hook["events"].get(kind):
                continue
            if kind != "cleaned" and not hook["sources"].get(source):
                continue
            data = webhook_payload(kind, member, list_id, self._fired_at(), old_email)
            self.sandbox.send_webhook(
                hook["url"],
                urllib.parse.urlencode(data).encode(),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "User-Agent": "MailChimp",
                },
                provider=self.name,
            )
            sent += 1
        return sent

    def _fired_at(self):
        return datetime.fromtimestamp(self.now(), timezone.utc).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
