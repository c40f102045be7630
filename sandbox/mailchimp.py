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
"""

import base64
import hashlib
import json
import re
import threading
import time
import urllib.parse
import uuid
from datetime import UTC, datetime

from . import specs
from .core import MethodNotAllowed, ProviderApp, Request, Response, RouteNotFound

ERROR_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
DEFAULT_LIST_ID = "aud00001"
DEFAULT_LIST_NAME = "Sandbox Audience"
MAX_CONNECTIONS = 10
MAX_PENDING_BATCHES = 500
MAX_BATCH_MEMBERS = 500
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
COMPLIANCE_DETAIL = (
    "{email} is in a compliance state due to unsubscribe, bounce, or "
    "compliance review and cannot be subscribed."
)
VALIDATION_DETAIL = (
    "The resource submitted could not be validated. For field-specific "
    "details, see the 'errors' array."
)
TITLES = {
    400: "Invalid Resource",
    401: "API Key Invalid",
    403: "Forbidden",
    404: "Resource Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_EVENT_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")
_DEFAULT_MERGE_FIELDS = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
)


def subscriber_hash(email):
    """Mailchimp's member id: md5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


class ApiError(Exception):
    """A Mailchimp problem response raised from inside a handler."""

    def __init__(self, status, detail, title=None, errors=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title
        self.errors = errors


def _not_found():
    return ApiError(404, "The requested resource could not be found.")


class MailchimpApp(ProviderApp):
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
        return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")

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
            for index, (tag, name, kind) in enumerate(_DEFAULT_MERGE_FIELDS, 1)
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
            raise _not_found()
        return list_id

    def _lists(self, request, state):
        lists = [self._list_view(state, lid) for lid in state["lists"]]
        return {"lists": _page(request, lists), "total_items": len(lists)}

    def _create_list(self, request, state):
        list_id = uuid.uuid4().hex[:10]
        self._create_list_state(state, list_id, request.json or {})
        return self._list_view(state, list_id)

    def _get_list(self, request, state):
        return self._list_view(
            state, self._the_list(state, request.path_params["list_id"])
        )

    # -- members --------------------------------------------------------------
    def _member_hash(self, raw):
        return subscriber_hash(raw) if "@" in raw else raw.lower()

    def _find_member(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        hash_ = self._member_hash(request.path_params["subscriber_hash"])
        return list_id, hash_, state["members"][list_id].get(hash_)

    def _existing_member(self, request, state):
        list_id, hash_, member = self._find_member(request, state)
        if member is None or member["status"] == "archived":
            raise _not_found()
        return list_id, hash_, member

    def _check_email(self, email):
        if not email or not _EMAIL_RE.match(email):
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

    def _list_members(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        members = list(state["members"][list_id].values())
        status = request.arg("status")
        if status:
            members = [m for m in members if m["status"] == status]
        since = request.arg("since_last_changed")
        if since:
            cutoff = _parse_time(since)
            members = [m for m in members if _parse_time(m["last_changed"]) > cutoff]
        return {
            "members": _page(request, members),
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
        self._fire(state, list_id, _kind(member["status"]), "api", member)
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
            status = body.get("status_if_new") or body.get("status")
            if status not in STATUSES:
                raise ApiError(
                    400,
                    VALIDATION_DETAIL,
                    errors=[
                        {
                            "field": "status_if_new",
                            "message": "A new member needs status_if_new or status.",
                        }
                    ],
                )
            member = self._new_member(state, list_id, body, status)
            self._fire(state, list_id, _kind(status), "api", member)
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
            if subscriber_hash(new_email) in state["members"][list_id]:
                raise ApiError(
                    400, f"{new_email} is already a list member.", title="Member Exists"
                )
            del state["members"][list_id][hash_]
            member["email_address"] = new_email
            member["id"] = subscriber_hash(new_email)
            state["members"][list_id][member["id"]] = member
            events = state["events"][list_id]
            events[member["id"]] = events.pop(hash_, [])
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
            raise _not_found()
        del state["members"][list_id][hash_]
        state["events"][list_id].pop(hash_, None)
        state.setdefault("forgotten", {}).setdefault(list_id, []).append(hash_)

    def _check_forgotten(self, state, list_id, email):
        if subscriber_hash(email) in state.get("forgotten", {}).get(list_id, []):
            raise ApiError(
                400,
                f"{email} was permanently deleted and cannot be re-imported. The "
                "contact must re-subscribe to get back on the list.",
                title="Forgotten Email Not Subscribed",
            )

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
        if not _EVENT_NAME_RE.match(body.get("name", "")):
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
    def _merge_fields(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        fields = list(state["merge_fields"][list_id].values())
        return {
            "merge_fields": _page(request, fields),
            "list_id": list_id,
            "total_items": len(fields),
        }

    def _add_merge_field(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        body = request.json or {}
        fields = state["merge_fields"][list_id]
        tag = body.get("tag") or re.sub(r"[^A-Z0-9]", "", body["name"].upper())[:10]
        tag = tag.upper()
        if tag in fields:
            raise ApiError(
                400,
                f'A Merge Field with the tag "{tag}" already exists for this list.',
                title="Invalid Resource",
                errors=[{"field": "tag", "message": "duplicate tag"}],
            )
        merge_id = max((f["merge_id"] for f in fields.values()), default=0) + 1
        fields[tag] = {
            "merge_id": merge_id,
            "tag": tag,
            "name": body["name"],
            "type": body["type"],
            "required": bool(body.get("required", False)),
            "default_value": body.get("default_value", ""),
            "public": bool(body.get("public", False)),
            "display_order": body.get("display_order", merge_id + 1),
            "options": body.get("options") or {},
            "help_text": body.get("help_text", ""),
            "list_id": list_id,
        }
        for member in state["members"][list_id].values():
            member["merge_fields"].setdefault(tag, "")
        return fields[tag]

    # -- batch subscribe ------------------------------------------------------
    def _batch_subscribe(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        body = request.json or {}
        items = body.get("members") or []
        if len(items) > MAX_BATCH_MEMBERS:
            raise ApiError(
                400,
                f"You may only add or update {MAX_BATCH_MEMBERS} members per call.",
                title="Invalid Resource",
                errors=[{"field": "members", "message": "too many members"}],
            )
        update = bool(body.get("update_existing", False))
        new, updated, errors = [], [], []
        for item in items:
            email = item.get("email_address") or ""
            try:
                self._check_email(email)
                member = state["members"][list_id].get(subscriber_hash(email))
                self._check_merge_fields(
                    state, list_id, item.get("merge_fields"), member is None, False
                )
                if member is None or member["status"] == "archived":
                    status = item.get("status") or item.get("status_if_new")
                    if status not in STATUSES:
                        raise ApiError(400, "Please provide a valid status.")
                    member = self._new_member(state, list_id, item, status)
                    new.append(member)
                    self._fire(state, list_id, _kind(status), "api", member)
                elif not update:
                    errors.append(
                        {
                            "email_address": email,
                            "error": f"{email} is already a list member, do you "
                            "want to update? please provide update_existing:true "
                            "in the request body",
                            "error_code": "ERROR_CONTACT_EXISTS",
                        }
                    )
                    continue
                else:
                    for kind in self._update_member(state, list_id, member, item):
                        self._fire(state, list_id, kind, "api", member)
                    updated.append(member)
            except ApiError as exc:
                errors.append(
                    {
                        "email_address": email,
                        "error": exc.detail,
                        "error_code": "ERROR_GENERIC",
                        "field": (exc.errors or [{}])[0].get("field", ""),
                        "field_message": (exc.errors or [{}])[0].get("message", ""),
                    }
                )
        return {
            "new_members": new,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(new),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

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
        events = dict.fromkeys(_WEBHOOK_EVENTS, False)
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
            raise _not_found()
        return hook

    def _delete_webhook(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        if state["webhooks"][list_id].pop(request.path_params["webhook_id"], None):
            return
        raise _not_found()

    def _fire(self, state, list_id, kind, source, member):
        """Send ``kind`` to each list webhook subscribed to it and ``source``."""
        if kind not in _WEBHOOK_EVENTS:
            return 0
        sent = 0
        for hook in state["webhooks"].get(list_id, {}).values():
            if not hook["events"].get(kind):
                continue
            if kind != "cleaned" and not hook["sources"].get(source):
                continue
            data = webhook_payload(kind, member, list_id, self._fired_at())
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
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%d %H:%M:%S")

    # -- e-commerce -----------------------------------------------------------
    def _store(self, request, state):
        store = state["stores"].get(request.path_params["store_id"])
        if store is None:
            raise _not_found()
        return store

    def _stores(self, request, state):
        stores = [s["store"] for s in state["stores"].values()]
        return {"stores": _page(request, stores), "total_items": len(stores)}

    def _add_store(self, request, state):
        body = request.json or {}
        if body["id"] in state["stores"]:
            raise ApiError(
                400,
                "A store with the provided ID already exists in this account.",
                title="Bad Request",
            )
        if body["list_id"] not in state["lists"]:
            raise ApiError(
                400,
                f"The list {body['list_id']} does not exist in this account.",
                title="Invalid Resource",
                errors=[{"field": "list_id", "message": "unknown list"}],
            )
        now = self._iso()
        store = {"is_syncing": False, **body, "created_at": now, "updated_at": now}
        state["stores"][body["id"]] = {
            "store": store,
            "customers": {},
            "products": {},
            "orders": {},
        }
        return store

    def _get_store(self, request, state):
        return self._store(request, state)["store"]

    def _patch_store(self, request, state):
        store = self._store(request, state)["store"]
        store.update(request.json or {})
        store["updated_at"] = self._iso()
        return store

    def _delete_store(self, request, state):
        self._store(request, state)
        del state["stores"][request.path_params["store_id"]]

    def _upsert_customer(self, state, store, body, customer_id):
        customers = store["customers"]
        customer = customers.get(customer_id)
        now = self._iso()
        if customer is None:
            email = body.get("email_address") or ""
            self._check_email(email)
            body = {"opt_in_status": False, **body}
            customer = {
                "id": customer_id,
                "orders_count": 0,
                "total_spent": 0,
                "created_at": now,
            }
            customers[customer_id] = customer
            self._customer_member(state, store["store"]["list_id"], body)
        customer.update({k: v for k, v in body.items() if k != "id"})
        customer["updated_at"] = now
        return customer

    def _customer_member(self, state, list_id, body):
        """Add the customer to the audience unless it is already a member."""
        hash_ = subscriber_hash(body["email_address"])
        forgotten = state.get("forgotten", {}).get(list_id, [])
        if hash_ in state["members"][list_id] or hash_ in forgotten:
            return
        status = "subscribed" if body.get("opt_in_status") else "transactional"
        member = self._new_member(
            state,
            list_id,
            {
                "email_address": body["email_address"],
                "merge_fields": {
                    "FNAME": body.get("first_name", ""),
                    "LNAME": body.get("last_name", ""),
                },
            },
            status,
        )
        self._fire(state, list_id, _kind(status), "api", member)

    def _customers(self, request, state):
        customers = list(self._store(request, state)["customers"].values())
        return {"customers": _page(request, customers), "total_items": len(customers)}

    def _add_customer(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body.get("id") in store["customers"]:
            raise ApiError(
                400,
                "A customer with the provided ID already exists.",
                title="Bad Request",
            )
        return self._upsert_customer(state, store, body, body.get("id", ""))

    def _get_customer(self, request, state):
        store = self._store(request, state)
        customer = store["customers"].get(request.path_params["customer_id"])
        if customer is None:
            raise _not_found()
        return customer

    def _put_customer(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        customer_id = request.path_params["customer_id"]
        if body.get("id") not in (None, customer_id):
            raise ApiError(
                400,
                "The customer id in the body does not match the URL.",
                title="Bad Request",
            )
        return self._upsert_customer(state, store, body, customer_id)

    def _patch_customer(self, request, state):
        customer = self._get_customer(request, state)
        customer.update({k: v for k, v in (request.json or {}).items() if k != "id"})
        customer["updated_at"] = self._iso()
        return customer

    def _save_product(self, store, body, product_id, replace):
        now = self._iso()
        old = store["products"].get(product_id)
        variants = body.get("variants")
        if not variants and old is None:
            variants = [{"id": product_id, "title": body.get("title", "")}]
        product = (
            dict(old or {"created_at": now})
            if not replace
            else {"created_at": (old or {}).get("created_at", now)}
        )
        product.update(body)
        product["id"] = product_id
        if variants is not None:
            product["variants"] = [dict(v) for v in variants]
        product["updated_at"] = now
        store["products"][product_id] = product
        return product

    def _products(self, request, state):
        products = list(self._store(request, state)["products"].values())
        return {"products": _page(request, products), "total_items": len(products)}

    def _add_product(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body["id"] in store["products"]:
            raise ApiError(
                400,
                "A product with the provided ID already exists.",
                title="Bad Request",
            )
        return self._save_product(store, body, body["id"], True)

    def _get_product(self, request, state):
        store = self._store(request, state)
        product = store["products"].get(request.path_params["product_id"])
        if product is None:
            raise _not_found()
        return product

    def _put_product(self, request, state):
        store = self._store(request, state)
        return self._save_product(
            store, request.json or {}, request.path_params["product_id"], True
        )

    def _patch_product(self, request, state):
        self._get_product(request, state)
        store = self._store(request, state)
        return self._save_product(
            store, request.json or {}, request.path_params["product_id"], False
        )

    def _delete_product(self, request, state):
        self._get_product(request, state)
        del self._store(request, state)["products"][request.path_params["product_id"]]

    def _variants(self, request, state):
        variants = self._get_product(request, state)["variants"]
        return {"variants": _page(request, variants), "total_items": len(variants)}

    def _find_variant(self, request, state):
        product = self._get_product(request, state)
        wanted = request.path_params["variant_id"]
        for index, variant in enumerate(product["variants"]):
            if variant.get("id") == wanted:
                return product, index
        return product, None

    def _add_variant(self, request, state):
        product = self._get_product(request, state)
        body = request.json or {}
        if any(v.get("id") == body.get("id") for v in product["variants"]):
            raise ApiError(
                400,
                "A variant with the provided ID already exists.",
                title="Bad Request",
            )
        product["variants"].append(dict(body))
        product["updated_at"] = self._iso()
        return body

    def _get_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise _not_found()
        return product["variants"][index]

    def _put_variant(self, request, state):
        product, index = self._find_variant(request, state)
        body = {**(request.json or {}), "id": request.path_params["variant_id"]}
        if index is None:
            product["variants"].append(body)
        else:
            product["variants"][index] = body
        product["updated_at"] = self._iso()
        return body

    def _patch_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise _not_found()
        product["variants"][index].update(request.json or {})
        product["variants"][index]["id"] = request.path_params["variant_id"]
        product["updated_at"] = self._iso()
        return product["variants"][index]

    def _delete_variant(self, request, state):
        product, index = self._find_variant(request, state)
        if index is None:
            raise _not_found()
        del product["variants"][index]

    def _check_lines(self, store, lines):
        for line in lines or []:
            product = store["products"].get(line.get("product_id"))
            if product is None:
                raise ApiError(
                    400,
                    "A product with the provided ID does not exist in the account "
                    "for this list.",
                    title="Bad Request",
                )
            variant_ids = {v.get("id") for v in product.get("variants", [])}
            if line.get("product_variant_id") not in variant_ids:
                raise ApiError(
                    400,
                    "A product with the provided variant ID does not exist in the "
                    "account for this list.",
                    title="Bad Request",
                )

    def _orders(self, request, state):
        orders = list(self._store(request, state)["orders"].values())
        customer_id = request.arg("customer_id")
        if customer_id:
            orders = [o for o in orders if o["customer"]["id"] == customer_id]
        return {"orders": _page(request, orders), "total_items": len(orders)}

    def _add_order(self, request, state):
        store = self._store(request, state)
        body = request.json or {}
        if body["id"] in store["orders"]:
            raise ApiError(
                400,
                "An order with the provided ID already exists.",
                title="Bad Request",
            )
        self._check_lines(store, body.get("lines"))
        customer_body = body.get("customer") or {}
        customer_id = customer_body.get("id", "")
        if customer_id not in store["customers"] and not customer_body.get(
            "email_address"
        ):
            raise ApiError(
                400,
                "A new customer needs an email_address.",
                title="Invalid Resource",
                errors=[{"field": "customer.email_address", "message": "required"}],
            )
        customer = self._upsert_customer(state, store, customer_body, customer_id)
        customer["orders_count"] = customer.get("orders_count", 0) + 1
        customer["total_spent"] = round(
            float(customer.get("total_spent") or 0) + float(body["order_total"]), 2
        )
        now = self._iso()
        order = {
            "financial_status": "",
            "fulfillment_status": "",
            **body,
            "customer": dict(customer),
            "store_id": store["store"]["id"],
            "created_at": now,
            "updated_at": now,
        }
        store["orders"][body["id"]] = order
        return order

    def _get_order(self, request, state):
        store = self._store(request, state)
        order = store["orders"].get(request.path_params["order_id"])
        if order is None:
            raise _not_found()
        return order

    def _patch_order(self, request, state):
        order = self._get_order(request, state)
        store = self._store(request, state)
        body = dict(request.json or {})
        if body.get("lines"):
            self._check_lines(store, body["lines"])
            by_id = {line["id"]: line for line in order.get("lines", [])}
            for line in body.pop("lines"):
                by_id[line["id"]] = {**by_id.get(line["id"], {}), **line}
            order["lines"] = list(by_id.values())
        body.pop("id", None)
        body.pop("customer", None)
        order.update(body)
        order["updated_at"] = self._iso()
        return order

    def _delete_order(self, request, state):
        self._get_order(request, state)
        del self._store(request, state)["orders"][request.path_params["order_id"]]

    # -- batch operations -----------------------------------------------------
    def _batches(self, request, state):
        for batch in state["batches"].values():
            self._progress(request.account, batch)
        batches = [self._batch_view(b) for b in state["batches"].values()]
        return {"batches": _page(request, batches), "total_items": len(batches)}

    def _batch_view(self, batch):
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _add_batch(self, request, state):
        pending = sum(
            b["status"] in ("pending", "started", "preprocessing")
            for b in state["batches"].values()
        )
        if pending >= MAX_PENDING_BATCHES:
            raise ApiError(
                429,
                f"You have more than {MAX_PENDING_BATCHES} pending batches. "
                "Please wait for some to finish.",
            )
        operations = (request.json or {}).get("operations") or []
        batch_id = uuid.uuid4().hex[:10]
        host = request.headers.get("Host") or "127.0.0.1"
        batch = {
            "id": batch_id,
            "status": "pending",
            "total_operations": len(operations),
            "finished_operations": 0,
            "errored_operations": 0,
            "submitted_at": self._iso(),
            "completed_at": "",
            "response_body_url": "",
            "_results": [],
            "_url": f"http://{host}/{self.name}/_results/{batch_id}",
        }
        batch["_ops"] = operations
        batch["_submitted"] = self.now()
        state["batches"][batch_id] = batch
        worker = threading.Thread(
            target=self._batch_worker,
            args=(request.account, batch),
            name=f"mailchimp-batch-{batch_id}",
            daemon=True,
        )
        worker.start()
        return self._batch_view(batch)

    def _batch_worker(self, key, batch):
        """Move ``batch`` along the sandbox clock until it is finished."""
        while True:
            with self.lock:
                current = self.accounts.get(key, {}).get("batches", {})
                if current.get(batch["id"]) is not batch:
                    return  # deleted, or the sandbox was reset
                self._progress(key, batch)
                if batch["status"] == "finished":
                    return
            time.sleep(0.02)

    def _progress(self, key, batch):
        """pending -> started (half of ``job_seconds``) -> finished (all of it).

        The operations run when the batch finishes, in order, through the
        router as separate requests would.
        """
        if batch["status"] == "finished":
            return
        elapsed = self.now() - batch["_submitted"]
        seconds = float(self._option("job_seconds", 0.5) or 0)
        if batch["status"] == "pending" and elapsed >= seconds / 2:
            batch["status"] = "started"
        if elapsed < seconds:
            return
        for op in batch.pop("_ops", []):
            status, body = self._run_operation(key, op)
            batch["_results"].append(
                {
                    "status_code": status,
                    "operation_id": op.get("operation_id"),
                    "response": json.dumps(body),
                }
            )
            batch["finished_operations"] += 1
            if status >= 400:
                batch["errored_operations"] += 1
        batch["status"] = "finished"
        batch["completed_at"] = self._iso()
        batch["response_body_url"] = batch["_url"]

    def _run_operation(self, key, op):
        """Run one batch operation through the router, as a request would."""
        method = str(op.get("method", "GET")).upper()
        path = op.get("path") or "/"
        if not path.startswith("/3.0"):
            path = "/3.0" + (path if path.startswith("/") else "/" + path)
        raw = op.get("body")
        try:
            body = json.loads(raw) if isinstance(raw, str) and raw else raw
        except ValueError:
            return 400, self.error(400, "The request body is not valid JSON.").body
        path, _, raw_query = path.partition("?")
        query = urllib.parse.parse_qs(raw_query)
        query.update({k: [str(v)] for k, v in (op.get("params") or {}).items()})
        try:
            template, handler, params = self.router.match(method, path)
        except RouteNotFound:
            return 404, self.error(
                404, "The requested resource could not be found."
            ).body
        except MethodNotAllowed:
            return 405, self.error(405, "The requested method is not allowed.").body
        request = Request(
            method=method,
            path=path,
            query=query,
            body=(raw or "").encode() if isinstance(raw, str) else b"",
            json=body,
            path_params=params,
            provider=self.name,
            template=template,
            account=key,
        )
        if self._option("validate", True):
            violations = specs.validate_request(
                self.spec, method, template, body=body, query=query
            )
            if violations:
                response = self.validation_error(violations)
                return response.status, response.body
        try:
            response = self._respond(
                self._unwrap(handler), request, self.account_state(key)
            )
        except Exception as exc:
            response = self.error(500, f"Internal error: {type(exc).__name__}")
        return response.status, response.body

    def _unwrap(self, handler):
        return getattr(self, handler.__name__)

    def _get_batch(self, request, state):
        batch = state["batches"].get(request.path_params["batch_id"])
        if batch is None:
            raise _not_found()
        self._progress(request.account, batch)
        return self._batch_view(batch)

    def _delete_batch(self, request, state):
        if state["batches"].pop(request.path_params["batch_id"], None) is None:
            raise _not_found()

    def _batch_results(self, request, state):
        batch_id = request.path_params["batch_id"]
        for account in self.accounts.values():
            batch = account["batches"].get(batch_id)
            if batch is not None and batch["status"] == "finished":
                return Response(200, list(batch["_results"]))
        raise _not_found()


def webhook_payload(kind, member, list_id, fired_at):
    """Form fields of a Mailchimp list webhook, as Mailchimp posts them."""
    data = {"type": kind, "fired_at": fired_at}
    if kind == "cleaned":
        data.update(
            {
                "data[list_id]": list_id,
                "data[campaign_id]": "",
                "data[reason]": "hard",
                "data[email]": member["email_address"],
            }
        )
        return data
    if kind == "unsubscribe":
        data.update({"data[action]": "unsub", "data[reason]": "manual"})
    data.update(
        {
            "data[id]": member["unique_email_id"],
            "data[list_id]": list_id,
            "data[email]": member["email_address"],
            "data[email_type]": member["email_type"],
            "data[ip_opt]": member["ip_opt"],
            "data[web_id]": str(member["web_id"]),
            "data[merges][EMAIL]": member["email_address"],
        }
    )
    for tag, value in member["merge_fields"].items():
        if isinstance(value, dict):
            for part, sub in value.items():
                data[f"data[merges][{tag}][{part}]"] = str(sub)
        else:
            data[f"data[merges][{tag}]"] = "" if value is None else str(value)
    return data


_WEBHOOK_EVENTS = (
    "subscribe",
    "unsubscribe",
    "profile",
    "cleaned",
    "upemail",
    "campaign",
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


def _kind(status):
    return {"subscribed": "subscribe", "unsubscribed": "unsubscribe"}.get(status, "")


def _tag_id(name):
    return int(hashlib.md5(name.encode()).hexdigest()[:6], 16)


def _page(request, items):
    try:
        count = min(int(request.arg("count", 10)), 1000)
        offset = int(request.arg("offset", 0))
    except ValueError:
        count, offset = 10, 0
    return items[offset : offset + count]


def _parse_time(value):
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _violation_errors(violations):
    errors = []
    for violation in violations:
        field = violation.field
        field = field.removeprefix("query.")
        errors.append(
            {"field": field.strip("/").replace("/", "."), "message": violation.message}
        )
    return errors
