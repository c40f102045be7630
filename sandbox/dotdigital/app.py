"""The Dotdigital app: routing per API family, auth, errors, rate-limit tiers."""

import base64
import json
import re
from datetime import datetime, timezone

from .. import specs
from ..core import ProviderApp, Response, Router, jsonable
from .common import (
    DEFAULT_FIELDS,
    DENIED,
    LOCAL,
    PASSWORD,
    TIER_LIMITS,
    USER_PREFIX,
    ApiError,
    api_family,
    by_email,
    field_name,
)
from .contacts import ContactsMixin
from .insight import InsightMixin
from .jobs import JobsMixin
from .v2 import V2Mixin

# Operations whose published schema rejects valid requests (see docstring).
_SELF_VALIDATED = {
    ("PATCH", "/contacts/v3/{identifier}/{value}"),
    ("PUT", "/insightData/v3/import"),
    ("PUT", "/contacts/v3/import"),
    ("PUT", "/insightData/v3/account/{collectionName}/{recordId}"),
    (
        "PUT",
        "/insightData/v3/contacts/{identifier}/{value}/{collectionName}/{recordId}",
    ),
}


class _FamilyRouter(Router):
    """Router remembering, per thread, whether the path is v2 or v3.

    The server asks the app for error bodies (404, 405, faults, 429) without
    the request; the error shape differs between the v2 and v3 APIs.
    """

    def match(self, method, path):
        LOCAL.family = api_family(path)
        return super().match(method, path)


class DotdigitalApp(V2Mixin, ContactsMixin, InsightMixin, JobsMixin, ProviderApp):
    """The emulated Dotdigital APIs (see the package docstring)."""

    name = "dotdigital"
    spec = ("dotdigital_contacts", "dotdigital_insight", "dotdigital_v2")

    # -- framework hooks ------------------------------------------------------
    def __init__(self, sandbox):
        """Build the app with a router that tracks the API family."""
        super().__init__(sandbox)
        self.router = _FamilyRouter(self.routes())

    def reset(self):
        """Forget every account."""
        with self.lock:
            self.accounts = {}

    def routes(self):
        """Every Dotdigital path the sandbox serves."""
        contact = "/contacts/v3/{identifier}/{value}"
        book = "/v2/address-books/{addressBookId}"
        insight = "/insightData/v3"
        table = [
            ("GET", "/v2/account-info", self._account_info),
            ("GET", "/v2/data-fields", self._data_fields),
            ("POST", "/v2/data-fields", self._add_data_field),
            ("DELETE", "/v2/data-fields/{name}", self._delete_data_field),
            ("GET", "/v2/address-books", self._books),
            ("POST", "/v2/address-books", self._add_book),
            ("GET", book, self._get_book),
            ("GET", book + "/contacts", self._book_contacts),
            ("POST", book + "/contacts", self._add_book_contact),
            ("DELETE", book + "/contacts/{contactId}", self._remove_book_contact),
            ("GET", "/v2/contacts/{id}", self._v2_contact),
            ("GET", "/v2/contacts/suppressed-since/{date}", self._suppressed_since),
            ("GET", "/v2/contacts/unsubscribed-since/{date}", self._unsubscribed_since),
            ("PUT", "/contacts/v3/import", self._contacts_import),
            (
                "GET",
                "/contacts/v3/import/{importId}",
                self._contacts_import_status,
            ),
            ("GET", contact, self._get_contact),
            ("GET", "/contacts/v3", self._list_contacts),
            ("PATCH", contact, self._patch_contact),
            ("DELETE", contact, self._delete_contact),
            ("GET", insight + "/collections", self._collections),
            ("GET", insight + "/contacts/{collectionName}", self._list_records),
            ("POST", insight + "/collections/{collectionName}", self._add_collection),
            ("GET", insight + "/account/{collectionName}/{recordId}", self._get_record),
            ("PUT", insight + "/account/{collectionName}/{recordId}", self._put_record),
            (
                "DELETE",
                insight + "/account/{collectionName}/{recordId}",
                self._delete_record,
            ),
            (
                "GET",
                insight + "/contacts/{identifier}/{value}/{collectionName}/{recordId}",
                self._get_record,
            ),
            (
                "PUT",
                insight + "/contacts/{identifier}/{value}/{collectionName}/{recordId}",
                self._put_record,
            ),
            (
                "DELETE",
                insight + "/contacts/{identifier}/{value}/{collectionName}/{recordId}",
                self._delete_record,
            ),
            ("PUT", insight + "/import", self._import),
            ("GET", insight + "/import/{importId}", self._import_status),
        ]
        return [(m, t, self._endpoint(fn)) for m, t, fn in table]

    def new_account(self, key):
        """An account with the default data fields and the "Test" list."""
        fields = {
            name: {
                "name": name,
                "type": kind,
                "visibility": "Private",
                "defaultValue": None,
            }
            for name, kind in DEFAULT_FIELDS
        }
        return {
            "contacts": {},
            "emails": {},
            "data_fields": fields,
            "books": {1: {"id": 1, "name": "Test", "visibility": "Private"}},
            "collections": {},
            "records": {},
            "imports": {},
            "suppressions": [],
            "next_id": 1000,
        }

    def authenticate(self, request):
        """HTTP Basic: ``apiuser-sandbox*`` / ``sandbox-password``."""
        header = request.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        user = password = ""
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                user = ""
        if not user.startswith(USER_PREFIX) or password != PASSWORD:
            return Response(401, {"message": DENIED})
        return user

    def error(self, status, detail, field=None, code=None, title=None, details=None):
        """v2: ``{"message"}``; v3: ``{"errorCode", "description", "details"}``."""
        family = getattr(LOCAL, "family", "v2")
        if family == "v2":
            message = detail
            if code and code.startswith("ERROR_"):
                message = f"{detail} {code}"
            return Response(status, {"message": message})
        if not code or ":" not in code:
            code = f"{family}:{_V3_CODES.get(status, code or 'error')}"
        body = {"errorCode": code, "description": detail}
        if details is None and field:
            details = [{"item": field, "description": detail}]
        if details:
            body["details"] = details
        return Response(status, body)

    def validation_error(self, violations):
        """400 naming each offending field."""
        if getattr(LOCAL, "family", "v2") == "v2":
            first = violations[0]
            return self.error(
                400,
                f"{field_name(first.field)}: {first.message}",
                code="ERROR_PARAMETER_INVALID",
            )
        details = [
            {"item": field_name(v.field), "description": v.message} for v in violations
        ]
        return self.error(
            400, "The request is invalid", code="invalidRequest", details=details
        )

    def spec_key(self, request):
        """Skip the server's validation where the handler validates itself."""
        if (request.method, request.template) in _SELF_VALIDATED:
            return None
        return super().spec_key(request)

    def rate_limits(self, request):
        """One per-minute window, by tier."""
        return [(TIER_LIMITS[_tier(request)], 60)]

    def rate_limit_headers(self, limit, remaining, reset):
        """``X-RateLimit-*``; ``Reset`` as the Unix time the window ends."""
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(self.now() + reset)),
        }

    def ui_rows(self, account=None):
        """One row per contact: email, email channel status, lists."""
        rows = []
        with self.lock:
            for key, state in self.accounts.items():
                if account is not None and key != account:
                    continue
                for contact in state["contacts"].values():
                    rows.append(
                        {
                            "account": key,
                            "email": contact["identifiers"].get("email"),
                            "consent": contact["channelProperties"]["email"]["status"],
                            "lists": sorted(contact["lists"]),
                            "events": [
                                {
                                    "time": record["updated"],
                                    "name": f"{name} {record_key}",
                                    "detail": json.dumps(record["json"])[:160],
                                }
                                for (name, owner, record_key), record in state[
                                    "records"
                                ].items()
                                if owner == contact["contactId"]
                            ],
                        }
                    )
        return rows

    def dump(self, account=None):
        """State per account (insight records keyed ``collection/owner/key``)."""
        with self.lock:
            out = {}
            for key, state in self.accounts.items():
                if account is not None and key != account:
                    continue
                out[key] = {
                    **{
                        k: v for k, v in state.items() if k not in ("records", "emails")
                    },
                    "contacts": {
                        str(cid): self._contact_view(state, c)
                        for cid, c in state["contacts"].items()
                    },
                    "records": {
                        "/".join(str(p) for p in k): v
                        for k, v in state["records"].items()
                    },
                }
            if account is not None:
                return jsonable(out.get(account, {}))
            return jsonable(out)

    def actions(self):
        """What a Dotdigital contact (or Dotdigital) can do."""
        return {
            "suppress": self.action_suppress,
            "unsubscribe": self.action_unsubscribe,
            "confirm_opt_in": self.action_confirm_opt_in,
        }

    # -- ESP-side actions -----------------------------------------------------
    def action_unsubscribe(self, email, account=None):
        """The contact clicks "unsubscribe"."""
        return self._esp_status(account, email, "unsubscribed")

    def action_suppress(self, email, account=None):
        """The address is suppressed (e.g. a hard bounce or a complaint)."""
        return self._esp_status(account, email, "suppressed")

    def action_confirm_opt_in(self, email, account=None):
        """The contact clicks the double opt-in confirmation link: a channel
        pendingOptIn becomes subscribed (any other status stays)."""
        return self._esp_status(account, email, "subscribed", only_from="pendingOptIn")

    def _esp_status(self, account, email, status, only_from=None):
        with self.lock:
            if account is None:
                if len(self.accounts) != 1:
                    raise ValueError("pass account=<api user>: several accounts exist")
                account = next(iter(self.accounts))
            state = self.accounts.get(account)
            contact = state and by_email(state, email)
            if contact is None:
                raise KeyError(f"no contact {email} in account {account}")
            current = contact["channelProperties"]["email"]["status"]
            if only_from is None or current == only_from:
                self._set_status(state, contact, status)
            return {"contact": self._contact_view(state, contact)}

    # -- dispatch -------------------------------------------------------------
    def _endpoint(self, fn):
        name = fn.__name__

        def handler(request):
            state = self.account_state(request.account)
            try:
                with self.lock:
                    result = getattr(self, name)(request, state)
            except ApiError as exc:
                return self.error(
                    exc.status, exc.detail, code=exc.code, details=exc.details
                )
            if isinstance(result, Response):
                return result
            return Response(200, result)

        handler.__name__ = name
        return handler

    def _option(self, name, default=None):
        config = getattr(self.sandbox, "config", None) or {}
        return config.get(name, default)

    def _iso(self, ts=None):
        ts = self.now() if ts is None else ts
        return (
            datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[
                :-3
            ]
            + "Z"
        )

    def _validate(self, spec, request, template, body):
        """Spec-validate, dropping the published schema's spurious violations."""
        if not self._option("validate", True):
            return
        violations = [
            v
            for v in specs.validate_request(
                spec, request.method, template, body=body, query=request.query
            )
            if not _spurious(v)
        ]
        if violations:
            raise ApiError(
                400,
                "The request is invalid",
                code=f"{api_family(request.path)}:invalidRequest",
                details=[
                    {"item": field_name(v.field), "description": v.message}
                    for v in violations
                ],
            )

    # -- asynchronous imports -------------------------------------------------


_V3_CODES = {
    400: "badRequest",
    401: "unauthorized",
    404: "notFound",
    405: "methodNotAllowed",
    413: "payloadTooLarge",
    429: "tooManyRequests",
    500: "internalError",
}


def _tier(request):
    path = request.path
    if path.endswith("/import") or "-since/" in path or request.method == "DELETE":
        return "low"
    if request.method == "GET" and not path.endswith("/contacts"):
        return "high"
    return "medium"


def _spurious(violation):
    """The published schemas' ``allOf`` + ``additionalProperties`` conflicts."""
    message = violation.message
    if "Additional properties are not allowed" not in message:
        return False
    if violation.field.endswith("/channelProperties/email"):
        return "'resubscribeOptions' was unexpected" in message
    if re.fullmatch(r"/records/\d+", violation.field):
        names = set(re.findall(r"'([^']+)'", message))
        return names <= {"json", "key", "contactIdentity"}
    return False
