"""The Mailchimp app: routing, auth, problem+json errors, inspection."""

import base64
import json
import uuid
from datetime import datetime, timezone

from ..core import ProviderApp, Response
from .audience import AudienceMixin
from .batches import BatchesMixin
from .common import (
    DEFAULT_LIST_ID,
    DEFAULT_LIST_NAME,
    ERROR_TYPE,
    MAX_CONNECTIONS,
    TITLES,
    VALIDATION_DETAIL,
    ApiError,
    subscriber_hash,
)
from .ecommerce import EcommerceMixin
from .lists import ListsMixin
from .members import MembersMixin


class MailchimpApp(
    ListsMixin,
    MembersMixin,
    AudienceMixin,
    EcommerceMixin,
    BatchesMixin,
    ProviderApp,
):
    """The emulated Mailchimp Marketing API (see the package docstring)."""

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
            "confirm_opt_in": self.action_confirm_opt_in,
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

    def action_confirm_opt_in(self, email, list_id=DEFAULT_LIST_ID, account=None):
        """The contact clicks the double opt-in confirmation link: a pending
        member becomes subscribed (fires ``subscribe`` webhooks); any other
        status stays as it is."""
        return self._esp_status(
            account, list_id, email, "subscribed", "user", only_from="pending"
        )

    def _esp_status(self, account, list_id, email, status, source, only_from=None):
        with self.lock:
            state, member = self._action_member(account, list_id, email)
            if only_from is not None and member["status"] != only_from:
                return {"member": dict(member), "webhooks": 0}
            if status == "subscribed":
                member["timestamp_opt"] = self._iso()
            member["status"] = status
            if status == "unsubscribed":
                member["unsubscribe_reason"] = "N/A (Unsubscribed by the contact)"
            member["last_changed"] = self._iso()
            kind = {"unsubscribed": "unsubscribe", "subscribed": "subscribe"}.get(
                status, "cleaned"
            )
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
