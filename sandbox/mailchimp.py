"""Mailchimp Marketing API v3 emulator, mounted at ``/mailchimp``.

Base URL for a client: ``http://127.0.0.1:<port>/mailchimp`` (real:
``https://us1.api.mailchimp.com``); every path starts with ``/3.0``.
Credentials: an API key ``sandbox<anything>-us1`` as the Basic password (any
user) or as a Bearer token; each distinct key is its own account, which
starts with one audience ``aud00001`` ("Sandbox Audience"). Errors are
``application/problem+json`` like the real API's.

Simplifications, documented here once:

- Batch results: ``response_body_url`` points at ``/mailchimp/_results/{id}``,
  which serves a JSON list of ``{status_code, operation_id, response}``; the
  real one is a presigned URL to a tar.gz of JSON files with the same items.
- Webhook URLs are not verified with a GET when registered.
- Only the endpoints esp_sync uses exist (lists, members, merge fields, tags,
  member events, batch subscribe, e-commerce stores/customers/products/
  orders, batches, list webhooks); others answer 404.
- "10 concurrent connections per key" is counted per in-flight request.
- ``PUT .../members/{hash}`` creating a member requires ``status_if_new``
  (``status`` alone is refused); the live API then behaves erratically
  (members created "pending"), so the sandbox makes the mistake visible.
"""

import base64
import hashlib
import json
import urllib.parse
import uuid
from datetime import datetime, timezone

from .core import ProviderApp, Response
from .mailchimp_batches import BatchesMixin
from .mailchimp_common import (
    DEFAULT_LIST_ID,
    DEFAULT_LIST_NAME,
    DEFAULT_MERGE_FIELDS,
    ERROR_TYPE,
    MAX_CONNECTIONS,
    TITLES,
    VALIDATION_DETAIL,
    WEBHOOK_EVENTS,
    ApiError,
    not_found,
    page,
    subscriber_hash,
    webhook_payload,
)
from .mailchimp_ecommerce import EcommerceMixin
from .mailchimp_members import MembersMixin

__all__ = ["DEFAULT_LIST_ID", "MailchimpApp", "subscriber_hash"]


class MailchimpApp(MembersMixin, EcommerceMixin, BatchesMixin, ProviderApp):
    """The emulated Mailchimp Marketing API (see module docstring)."""

    name = "mailchimp"
    spec = "mailchimp"
    content_type = "application/json"
    concurrency_limit = MAX_CONNECTIONS

    # -- framework hooks ------------------------------------------------------
    def reset(self):
        """Forget every account and batch."""
        with self.lock:
            self.accounts = {}

    def routes(self):
        """Every Mailchimp path the sandbox serves (spec templates)."""
        lst = "/3.0/lists/{list_id}"
        mem = lst + "/members/{subscriber_hash}"
        store = "/3.0/ecommerce/stores/{store_id}"
        variants = store + "/products/{product_id}/variants"
        variant = variants + "/{variant_id}"
        table = [
            ("GET", "/3.0/", self._root),
            ("GET", "/3.0/ping", self._ping),
            ("GET", "/3.0/lists", self._lists),
            ("POST", "/3.0/lists", self._create_list),
            ("GET", lst, self._get_list),
            ("POST", lst, self._batch_subscribe),
            ("GET", lst + "/members", self._list_members),
            ("POST", lst + "/members", self._add_member),
            ("GET", mem, self._get_member),
            ("PUT", mem, self._put_member),
            ("PATCH", mem, self._patch_member),
            ("DELETE", mem, self._archive_member),
            ("POST", mem + "/actions/delete-permanent", self._delete_permanent),
            ("GET", mem + "/tags", self._get_tags),
            ("POST", mem + "/tags", self._post_tags),
            ("GET", mem + "/events", self._get_events),
            ("POST", mem + "/events", self._post_event),
            ("GET", lst + "/merge-fields", self._merge_fields),
            ("POST", lst + "/merge-fields", self._add_merge_field),
            ("GET", lst + "/webhooks", self._webhooks),
            ("POST", lst + "/webhooks", self._add_webhook),
            ("GET", lst + "/webhooks/{webhook_id}", self._get_webhook),
            ("DELETE", lst + "/webhooks/{webhook_id}", self._delete_webhook),
            ("GET", "/3.0/ecommerce/stores", self._stores),
            ("POST", "/3.0/ecommerce/stores", self._add_store),
            ("GET", store, self._get_store),
            ("PATCH", store, self._patch_store),
            ("DELETE", store, self._delete_store),
            ("GET", store + "/customers", self._customers),
            ("POST", store + "/customers", self._add_customer),
            ("GET", store + "/customers/{customer_id}", self._get_customer),
            ("PUT", store + "/customers/{customer_id}", self._put_customer),
            ("PATCH", store + "/customers/{customer_id}", self._patch_customer),
            ("GET", store + "/products", self._products),
            ("POST", store + "/products", self._add_product),
            ("GET", store + "/products/{product_id}", self._get_product),
            ("PUT", store + "/products/{product_id}", self._put_product),
            ("PATCH", store + "/products/{product_id}", self._patch_product),
            ("DELETE", store + "/products/{product_id}", self._delete_product),
            ("GET", variants, self._variants),
            ("POST", variants, self._add_variant),
            ("GET", variant, self._get_variant),
            ("PUT", variant, self._put_variant),
            ("PATCH", variant, self._patch_variant),
            ("DELETE", variant, self._delete_variant),
            ("GET", store + "/orders", self._orders),
            ("POST", store + "/orders", self._add_order),
            ("GET", store + "/orders/{order_id}", self._get_order),
            ("PATCH", store + "/orders/{order_id}", self._patch_order),
            ("DELETE", store + "/orders/{order_id}", self._delete_order),
            ("GET", "/3.0/batches", self._batches),
            ("POST", "/3.0/batches", self._add_batch),
            ("GET", "/3.0/batches/{batch_id}", self._get_batch),
            ("DELETE", "/3.0/batches/{batch_id}", self._delete_batch),
            ("GET", "/_results/{batch_id}", self._batch_results),
        ]
        return [(m, t, self._endpoint(fn)) for m, t, fn in table]

    def new_account(self, key):
        """An account with the default audience and its merge fields."""
        state = {
            "lists": {},
            "members": {},
            "merge_fields": {},
            "webhooks": {},
            "events": {},
            "stores": {},
            "batches": {},
        }
        self._create_list_state(state, DEFAULT_LIST_ID, {"name": DEFAULT_LIST_NAME})
        return state

    def authenticate(self, request):
        """Basic (any user, key as password) or Bearer; ``sandbox*-us1`` only."""
        if request.path.startswith("/_results/"):
            return ""
        header = request.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(value).decode().partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                key = ""
        elif scheme.lower() in ("bearer", "apikey", "oauth"):
            key = value.strip()
        if not header:
            return self.error(
                401,
                "Your request did not include an API key.",
                title="API Key Missing",
            )
        if not (key.startswith("sandbox") and key.endswith("-us1")):
            return self.error(
                401,
                "Your API key may be invalid, or you've attempted to access "
                "the wrong datacenter.",
                title="API Key Invalid",
            )
        return key

    def error(self, status, detail, field=None, code=None, title=None, errors=None):
        """A problem+json response in Mailchimp's shape."""
        body = {
            "type": ERROR_TYPE,
            "title": title or TITLES.get(status, "Bad Request"),
            "status": status,
            "detail": detail,
            "instance": str(uuid.uuid4()),
        }
        if errors is None and field:
            errors = [{"field": field, "message": detail}]
        if errors:
            body["errors"] = errors
        return Response(status, body, content_type="application/problem+json")

    def validation_error(self, violations):
        """400 "Invalid Resource" with one ``errors`` item per violation."""
        return self.error(400, VALIDATION_DETAIL, errors=_violation_errors(violations))

    def ui_rows(self, account=None):
        """One row per member: status (and tags); member events and orders."""
        rows = []
        with self.lock:
            for key, state in self.accounts.items():
                if account is not None and key != account:
                    continue
                orders = _orders_by_email(state)
                for list_id, members in state["members"].items():
                    for hash_, member in members.items():
                        events = [
                            {
                                "time": e["occurred_at"],
                                "name": e["name"],
                                "detail": json.dumps(e["properties"]),
                            }
                            for e in state["events"].get(list_id, {}).get(hash_, [])
                        ]
                        email = member["email_address"].lower()
                        events += (
                            orders.get(email, []) if list_id == DEFAULT_LIST_ID else []
                        )
                        tags = ", ".join(t["name"] for t in member["tags"])
                        rows.append(
                            {
                                "account": key,
                                "list_id": list_id,
                                "email": member["email_address"],
                                "consent": member["status"]
                                + (f" (tags: {tags})" if tags else ""),
                                "events": events,
                            }
                        )
        return rows

    def actions(self):
        """What a Mailchimp contact (or Mailchimp itself) can do."""
        return {
            "unsubscribe": self.action_unsubscribe,
            "clean": self.action_clean,
            "profile": self.action_profile,
        }

    # -- ESP-side actions -----------------------------------------------------
    def action_unsubscribe(self, email, list_id=DEFAULT_LIST_ID, account=None):
        """The contact clicks "unsubscribe" (fires ``unsubscribe`` webhooks)."""
        return self._esp_status(account, list_id, email, "unsubscribed", "user")

    def action_clean(self, email, list_id=DEFAULT_LIST_ID, account=None):
        """The address hard-bounces (fires ``cleaned`` webhooks)."""
        return self._esp_status(account, list_id, email, "cleaned", "admin")

    def action_profile(self, email, merges=None, list_id=DEFAULT_LIST_ID, account=None):
        """The contact edits their profile (fires ``profile`` webhooks)."""
        with self.lock:
            state, member = self._action_member(account, list_id, email)
            member["merge_fields"].update(merges or {})
            member["last_changed"] = self._iso()
            sent = self._fire(state, list_id, "profile", "user", member)
            return {"member": dict(member), "webhooks": sent}

    def _esp_status(self, account, list_id, email, status, source):
        with self.lock:
            state, member = self._action_member(account, list_id, email)
            member["status"] = status
            if status == "unsubscribed":
                member["unsubscribe_reason"] = "N/A (Unsubscribed by the contact)"
            member["last_changed"] = self._iso()
            kind = "unsubscribe" if status == "unsubscribed" else "cleaned"
            sent = self._fire(state, list_id, kind, source, member)
            return {"member": dict(member), "webhooks": sent}

    def _action_member(self, account, list_id, email):
        if account is None:
            if len(self.accounts) != 1:
                raise ValueError("pass account=<api key>: several accounts exist")
            account = next(iter(self.accounts))
        state = self.accounts.get(account)
        if state is None or list_id not in state["lists"]:
            raise KeyError(f"no list {list_id} in account {account}")
        member = state["members"][list_id].get(subscriber_hash(email))
        if member is None:
            raise KeyError(f"{email} is not a member of {list_id}")
        return state, member

    # -- dispatch -------------------------------------------------------------
    def _endpoint(self, fn):
        """Wrap ``fn(request, state)`` into a ``handler(request) -> Response``.

        The method is looked up by name on each call, so a test can replace
        it on the instance (e.g. to make a handler slow).
        """
        name = fn.__name__

        def handler(request):
            state = None
            if not request.path.startswith("/_results/"):
                state = self.account_state(request.account)
            return self._respond(getattr(self, name), request, state)

        handler.__name__ = name
        return handler

    def _respond(self, fn, request, state):
        try:
            with self.lock:
                result = fn(request, state)
        except ApiError as exc:
            return self.error(
                exc.status, exc.detail, title=exc.title, errors=exc.errors
            )
        if isinstance(result, Response):
            return result
        if result is None:
            return Response(204, None)
        return Response(200, result)

    def _option(self, name, default=None):
        config = getattr(self.sandbox, "config", None) or {}
        if isinstance(config, dict):
            return config.get(name, default)
        return getattr(config, name, default)

    def _iso(self, ts=None):
        ts = self.now() if ts is None else ts
        return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")

    # -- root -----------------------------------------------------------------
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


def _orders_by_email(state):
    """``{email: [timeline entries]}`` for every order in every store."""
    out = {}
    for store in state["stores"].values():
        for order in store["orders"].values():
            email = (order["customer"].get("email_address") or "").lower()
            out.setdefault(email, []).append(
                {
                    "time": order["created_at"],
                    "name": f"order {order['id']}",
                    "detail": " ".join(
                        str(order.get(name) or "")
                        for name in (
                            "order_total",
                            "currency_code",
                            "financial_status",
                            "fulfillment_status",
                        )
                    ).strip(),
                }
            )
    return out


def _violation_errors(violations):
    errors = []
    for violation in violations:
        field = violation.field
        field = field.removeprefix("query.")
        errors.append(
            {"field": field.strip("/").replace("/", "."), "message": violation.message}
        )
    return errors
