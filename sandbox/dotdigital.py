"""Dotdigital API emulator (v2, Contacts v3, Insight data v3), at ``/dotdigital``.

Base URL for a client: ``http://127.0.0.1:<port>/dotdigital`` (real:
``https://r1-api.dotdigital.com``); ``GET /v2/account-info`` answers the
``ApiEndpoint`` a client should use from then on (this mount, built from the
request's ``Host``). Credentials: HTTP Basic with an API user starting with
``apiuser-sandbox`` and the password ``sandbox-password``; each user is its
own account. Errors: v2 answers ``{"message": "... ERROR_CODE"}``, v3
``{"errorCode": "contacts:...", "description", "details": [{item,
description}]}``.

Simplifications and spec quirks, documented here once:

- Rate limits are per-minute tiers (low: imports and bulk queries, medium:
  single-record writes, high: single-record reads), counted per endpoint;
  ``X-RateLimit-Reset`` is the Unix time the window resets, and a 429 adds
  ``Retry-After`` seconds.
- The published schemas of ``PATCH /contacts/v3/{identifier}/{value}`` and
  ``PUT /insightData/v3/import`` reject valid requests (an ``allOf`` whose
  branches each say ``additionalProperties: false``), and the single record
  ``PUT`` declares a string body; those operations are validated here with
  the spurious violations dropped.
- Imports (insight data) move NotStarted -> Processing -> Complete along the
  sandbox clock (``job_seconds``); records apply when the import completes.
"""

import base64
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime

from . import specs
from .core import ProviderApp, Response, Router

PASSWORD = "sandbox-password"
USER_PREFIX = "apiuser-sandbox"
DENIED = "Authorization has been denied for this request."
TIER_LIMITS = {"low": 100, "medium": 500, "high": 1000}
DEFAULT_FIELDS = (
    ("FIRSTNAME", "String"),
    ("LASTNAME", "String"),
    ("FULLNAME", "String"),
    ("GENDER", "String"),
    ("POSTCODE", "String"),
)
RESUBSCRIBE_FROM = ("unsubscribed", "suppressed")
V2_STATUS = {
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "suppressed": "Suppressed",
    "pendingOptIn": "PendingOptIn",
    "softBounced": "SoftBounced",
    "hardBounced": "HardBounced",
    "ispComplained": "IspComplained",
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_V3 = ("/contacts/v3", "/insightData/v3")
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
_local = threading.local()


class ApiError(Exception):
    """A Dotdigital error raised from inside a handler."""

    def __init__(self, status, detail, code=None, details=None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.details = details


class _FamilyRouter(Router):
    """Router remembering, per thread, whether the path is v2 or v3.

    The server asks the app for error bodies (404, 405, faults, 429) without
    the request; the error shape differs between the v2 and v3 APIs.
    """

    def match(self, method, path):
        _local.family = _family(path)
        return super().match(method, path)


def _family(path):
    if path.startswith("/contacts/v3"):
        return "contacts"
    if path.startswith("/insightData/v3"):
        return "insightData"
    return "v2"


class DotdigitalApp(ProviderApp):
    """The emulated Dotdigital APIs (see module docstring)."""

    name = "dotdigital"
    spec = ("dotdigital_contacts", "dotdigital_insight", "dotdigital_v2")

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self.router = _FamilyRouter(self.routes())

    # -- framework hooks ------------------------------------------------------
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
            ("PATCH", contact, self._patch_contact),
            ("GET", insight + "/collections", self._collections),
            ("POST", insight + "/collections/{collectionName}", self._add_collection),
            ("GET", insight + "/account/{collectionName}/{recordId}", self._get_record),
            ("PUT", insight + "/account/{collectionName}/{recordId}", self._put_record),
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
        family = getattr(_local, "family", "v2")
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
        if getattr(_local, "family", "v2") == "v2":
            first = violations[0]
            return self.error(
                400,
                f"{_field(first.field)}: {first.message}",
                code="ERROR_PARAMETER_INVALID",
            )
        details = [
            {"item": _field(v.field), "description": v.message} for v in violations
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
                return _jsonable(out.get(account, {}))
            return _jsonable(out)

    def actions(self):
        """What a Dotdigital contact (or Dotdigital) can do."""
        return {
            "suppress": self.action_suppress,
            "unsubscribe": self.action_unsubscribe,
        }

    # -- ESP-side actions -----------------------------------------------------
    def action_unsubscribe(self, email, account=None):
        """The contact clicks "unsubscribe"."""
        return self._esp_status(account, email, "unsubscribed")

    def action_suppress(self, email, account=None):
        """The address is suppressed (e.g. a hard bounce or a complaint)."""
        return self._esp_status(account, email, "suppressed")

    def _esp_status(self, account, email, status):
        with self.lock:
            if account is None:
                if len(self.accounts) != 1:
                    raise ValueError("pass account=<api user>: several accounts exist")
                account = next(iter(self.accounts))
            state = self.accounts.get(account)
            contact = state and _by_email(state, email)
            if contact is None:
                raise KeyError(f"no contact {email} in account {account}")
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
            datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
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
                code=f"{_family(request.path)}:invalidRequest",
                details=[
                    {"item": _field(v.field), "description": v.message}
                    for v in violations
                ],
            )

    # -- v2: account, data fields, address books ------------------------------
    def _account_info(self, request, state):
        host = request.headers.get("Host") or "127.0.0.1"
        endpoint = f"http://{host}/{self.name}"
        props = [
            ("Name", "String", request.account),
            ("MainEmail", "String", f"{request.account}@sandbox.invalid"),
            ("ApiEndpoint", "String", endpoint),
            ("ApiLocale", "String", "en-GB"),
            ("AvailableEmailSendsCredits", "Int32", "100000"),
        ]
        return {
            "id": abs(hash(request.account)) % 10**6,
            "properties": [{"name": n, "type": t, "value": v} for n, t, v in props],
        }

    def _data_fields(self, request, state):
        return list(state["data_fields"].values())

    def _add_data_field(self, request, state):
        body = request.json or {}
        name = str(body.get("name", "")).upper()
        if not re.match(r"^[A-Z][A-Z0-9_]{0,19}$", name):
            raise ApiError(
                400, "Data field name is invalid.", code="ERROR_INVALID_DATAFIELD_NAME"
            )
        if name in state["data_fields"]:
            raise ApiError(
                400, "Data field already exists.", code="ERROR_NON_UNIQUE_DATAFIELD"
            )
        field = {
            "name": name,
            "type": body.get("type", "String"),
            "visibility": body.get("visibility", "Private"),
            "defaultValue": body.get("defaultValue"),
        }
        state["data_fields"][name] = field
        return field

    def _delete_data_field(self, request, state):
        name = request.path_params["name"].upper()
        if state["data_fields"].pop(name, None) is None:
            raise ApiError(
                404, "Data field not found.", code="ERROR_DATAFIELD_NOT_FOUND"
            )
        for contact in state["contacts"].values():
            contact["dataFields"].pop(name, None)
        return {"result": True}

    def _book(self, request, state):
        try:
            book_id = int(request.path_params["addressBookId"])
        except ValueError:
            book_id = None
        book = state["books"].get(book_id)
        if book is None:
            raise ApiError(
                404, "Address book not found.", code="ERROR_ADDRESSBOOK_NOT_FOUND"
            )
        return book

    def _book_view(self, state, book):
        members = sum(book["id"] in c["lists"] for c in state["contacts"].values())
        return {**book, "contacts": members}

    def _books(self, request, state):
        books = [self._book_view(state, b) for b in state["books"].values()]
        return _select(request, books)

    def _add_book(self, request, state):
        body = request.json or {}
        if any(b["name"] == body.get("name") for b in state["books"].values()):
            raise ApiError(
                400,
                "An address book with this name already exists.",
                code="ERROR_ADDRESSBOOK_DUPLICATE",
            )
        book_id = max(state["books"], default=0) + 1
        state["books"][book_id] = {
            "id": book_id,
            "name": body["name"],
            "visibility": body.get("visibility", "Private"),
        }
        return Response(201, self._book_view(state, state["books"][book_id]))

    def _get_book(self, request, state):
        return self._book_view(state, self._book(request, state))

    def _book_contacts(self, request, state):
        book = self._book(request, state)
        members = [
            self._v2_view(state, c)
            for c in state["contacts"].values()
            if book["id"] in c["lists"]
        ]
        return _select(request, members)

    def _add_book_contact(self, request, state):
        book = self._book(request, state)
        body = request.json or {}
        email = body.get("email", "")
        if not _EMAIL_RE.match(email):
            raise ApiError(400, "Email is not valid.", code="ERROR_CONTACT_INVALID")
        contact = _by_email(state, email)
        if contact is None:
            contact = self._new_contact(state, email)
            self._set_status(state, contact, "subscribed", record=False)
        elif contact["channelProperties"]["email"]["status"] != "subscribed":
            raise ApiError(
                400,
                "Contact is suppressed. Resubscribe it first.",
                code="ERROR_CONTACT_SUPPRESSED",
            )
        fields = {
            d["key"]: d.get("value")
            for d in body.get("dataFields") or []
            if d.get("key")
        }
        self._apply_fields(state, contact, fields, "overwrite")
        contact["lists"].add(book["id"])
        contact["updated"] = self._iso()
        return self._v2_view(state, contact)

    def _remove_book_contact(self, request, state):
        book = self._book(request, state)
        contact = state["contacts"].get(_int(request.path_params["contactId"]))
        if contact is None or book["id"] not in contact["lists"]:
            raise ApiError(404, "Contact not found.", code="ERROR_CONTACT_NOT_FOUND")
        contact["lists"].discard(book["id"])
        return Response(204, None)

    # -- v2: contacts and suppressions ----------------------------------------
    def _v2_contact(self, request, state):
        raw = request.path_params["id"]
        if raw.isdigit():
            contact = state["contacts"].get(int(raw))
        else:
            contact = _by_email(state, raw)
        if contact is None:
            raise ApiError(404, "Contact not found.", code="ERROR_CONTACT_NOT_FOUND")
        return self._v2_view(state, contact)

    def _since(self, request, state, reasons):
        raw = request.path_params["date"]
        try:
            since = _parse_time(raw)
        except ValueError:
            raise ApiError(
                400, f"Date {raw!r} is not valid.", code="ERROR_PARAMETER_INVALID"
            ) from None
        latest = {}
        for entry in state["suppressions"]:
            if entry["time"] >= since.timestamp() and (
                reasons is None or entry["reason"] in reasons
            ):
                latest[entry["contactId"]] = entry
        rows = []
        for entry in sorted(latest.values(), key=lambda e: e["time"]):
            contact = state["contacts"][entry["contactId"]]
            rows.append(
                {
                    "suppressedContact": self._v2_view(state, contact),
                    "dateRemoved": self._iso(entry["time"]),
                    "reason": entry["reason"],
                }
            )
        return _select(request, rows)

    def _suppressed_since(self, request, state):
        return self._since(request, state, None)

    def _unsubscribed_since(self, request, state):
        return self._since(request, state, ("Unsubscribed",))

    # -- contacts v3 ----------------------------------------------------------
    def _new_contact(self, state, email):
        state["next_id"] += 1
        now = self._iso()
        contact = {
            "contactId": state["next_id"],
            "identifiers": {"email": email},
            "channelProperties": {
                "email": {
                    "status": "noSubscription",
                    "emailType": "html",
                    "optInType": "single",
                }
            },
            "dataFields": {},
            "lists": set(),
            "created": now,
            "updated": now,
        }
        state["contacts"][contact["contactId"]] = contact
        state["emails"][email.lower()] = contact["contactId"]
        return contact

    def _set_email(self, state, contact, email):
        old = contact["identifiers"].get("email")
        if old:
            state["emails"].pop(old.lower(), None)
        contact["identifiers"]["email"] = email
        state["emails"][email.lower()] = contact["contactId"]

    def _set_status(self, state, contact, status, record=True):
        """Change the email channel status; log suppressions for the v2 queries."""
        channel = contact["channelProperties"]["email"]
        if channel["status"] == status:
            return
        channel["status"] = status
        contact["updated"] = self._iso()
        reason = V2_STATUS.get(status)
        if record and status not in ("subscribed", "pendingOptIn", "noSubscription"):
            state["suppressions"].append(
                {
                    "contactId": contact["contactId"],
                    "time": self.now(),
                    "reason": reason,
                }
            )

    def _contact_view(self, state, contact):
        status = contact["channelProperties"]["email"]["status"]
        overall = status if status in _OVERALL else "suppressed"
        lists = [
            {"id": lid, "name": state["books"][lid]["name"], "status": "subscribed"}
            for lid in sorted(contact["lists"])
            if lid in state["books"]
        ]
        return {
            "contactId": contact["contactId"],
            "status": overall,
            "created": contact["created"],
            "updated": contact["updated"],
            "identifiers": dict(contact["identifiers"]),
            "dataFields": {
                name: contact["dataFields"].get(name) for name in state["data_fields"]
            },
            "channelProperties": {
                "email": {
                    "status": status,
                    "emailType": contact["channelProperties"]["email"]["emailType"],
                    "optInType": contact["channelProperties"]["email"]["optInType"],
                }
            },
            "lists": lists,
        }

    def _v2_view(self, state, contact):
        email = contact["channelProperties"]["email"]
        return {
            "id": contact["contactId"],
            "email": contact["identifiers"].get("email"),
            "optInType": email["optInType"][:1].upper() + email["optInType"][1:],
            "emailType": "Html"
            if email["emailType"].lower() == "html"
            else "PlainText",
            "dataFields": [
                {"key": name, "value": contact["dataFields"].get(name)}
                for name in state["data_fields"]
            ],
            "status": V2_STATUS.get(email["status"], "Subscribed"),
        }

    def _lookup(self, state, identifier, value, family="contacts"):
        """The contact ``identifier``/``value`` names, or ``None``."""
        if identifier == "email":
            if not _EMAIL_RE.match(value):
                raise ApiError(
                    400,
                    f"The id value '{value}' is invalid for the identifier 'email'",
                    code=f"{family}:invalidId",
                )
            return _by_email(state, value)
        if identifier == "contactId":
            return state["contacts"].get(_int(value))
        if identifier == "mobileNumber":
            return next(
                (
                    c
                    for c in state["contacts"].values()
                    if c["identifiers"].get("mobileNumber") == value
                ),
                None,
            )
        raise ApiError(
            400,
            f"The identifier '{identifier}' is not valid",
            code=f"{family}:invalidId",
        )

    def _not_found(self, identifier, value, family="contacts"):
        return ApiError(
            404,
            "The following contacts could not be found",
            code=f"{family}:contactNotFound",
            details=[
                {
                    "item": value,
                    "description": f"Not found using the identifier '{identifier}'",
                }
            ],
        )

    def _get_contact(self, request, state):
        identifier = request.path_params["identifier"]
        value = request.path_params["value"]
        contact = self._lookup(state, identifier, value)
        if contact is None:
            raise self._not_found(identifier, value)
        return self._contact_view(state, contact)

    def _patch_contact(self, request, state):
        body = request.json
        self._validate(
            "dotdigital_contacts", request, "/contacts/v3/{identifier}/{value}", body
        )
        contact, created = self._upsert_contact(
            state,
            request.path_params["identifier"],
            request.path_params["value"],
            body or {},
            request.arg("merge-option", "overwrite"),
        )
        return Response(201 if created else 200, self._contact_view(state, contact))

    def _upsert_contact(self, state, identifier, value, body, merge):
        """Create or update one contact; return ``(contact, created)``."""
        contact = self._lookup(state, identifier, value)
        identifiers = body.get("identifiers") or {}
        new_email = identifiers.get("email")
        if new_email:
            if not _EMAIL_RE.match(new_email):
                raise ApiError(
                    400,
                    f"The id value '{new_email}' is invalid for the identifier 'email'",
                    code="contacts:invalidId",
                )
            other = _by_email(state, new_email)
            if other is not None and other is not contact:
                raise ApiError(
                    409,
                    f"The id value '{new_email} for the identifier 'email' already "
                    "exists. All identifiers must be unique!",
                    code="contacts:idAlreadyExists",
                )
        created = contact is None
        if created and identifier != "email" and not new_email:
            raise self._not_found(identifier, value)
        self._check_fields(state, body.get("dataFields") or {})
        self._check_lists(state, body.get("lists") or [])
        email = (body.get("channelProperties") or {}).get("email") or {}
        if created:
            contact = self._new_contact(state, new_email or value)
        self._apply_channel(state, contact, email, created)
        if new_email:
            self._set_email(state, contact, new_email)
        if identifiers.get("mobileNumber"):
            contact["identifiers"]["mobileNumber"] = identifiers["mobileNumber"]
        self._apply_fields(state, contact, body.get("dataFields") or {}, merge)
        contact["lists"].update(body.get("lists") or [])
        contact["updated"] = self._iso()
        return contact, created

    def _contacts_import(self, request, state):
        body = request.json
        self._validate("dotdigital_contacts", request, "/contacts/v3/import", body)
        return Response(202, {"importId": self._start_job(state, "contacts", body)})

    def _contacts_import_status(self, request, state):
        return self._job_status(request, state, "contacts")

    def _run_contacts_import(self, state, job, body):
        merge = _MERGE_OPTIONS.get(body.get("mergeOption"), "overwrite")
        seen = set()
        created, updated, failures = [], [], []
        summary = dict.fromkeys(_IMPORT_COUNTS, 0)
        for item in body["contacts"]:
            match = item.get("matchIdentifier", "email")
            value = str((item.get("identifiers") or {}).get(match) or "")
            failure = None
            if (match, value.lower()) in seen:
                failure = ("duplicateIdentifier", "duplicateIdentifiers")
                description = f"Duplicate identifier detected for {match} '{value}'"
            else:
                seen.add((match, value.lower()))
                try:
                    contact, is_new = self._upsert_contact(
                        state, match, value, item, merge
                    )
                except ApiError as exc:
                    failure = (exc.code.split(":")[-1], "invalidEntries")
                    description = exc.detail
            if failure:
                summary[failure[1]] += 1
                failures.append(
                    {
                        "matchIdentifier": match,
                        "identifiers": item.get("identifiers") or {},
                        "failures": [
                            {"failureCode": failure[0], "description": description}
                        ],
                    }
                )
                continue
            reference = {
                "contactId": contact["contactId"],
                "identifiers": dict(contact["identifiers"]),
            }
            (created if is_new else updated).append(reference)
            summary["newContacts" if is_new else "updatedContacts"] += 1
        job.update(summary=summary, created=created, updated=updated)
        if failures:
            job["failures"] = failures

    def _apply_channel(self, state, contact, email, creating):
        channel = contact["channelProperties"]["email"]
        for name in ("emailType", "optInType"):
            if email.get(name):
                channel[name] = email[name]
        status = email.get("status") or ("subscribed" if creating else None)
        if not status or status == channel["status"]:
            return
        if status == "subscribed" and channel["status"] in RESUBSCRIBE_FROM:
            options = email.get("resubscribeOptions")
            if options is None:
                raise ApiError(
                    400,
                    f"The contact's email channel is {channel['status']}; "
                    "resubscribing it needs channelProperties.email."
                    "resubscribeOptions.",
                    code="contacts:resubscribeOptionsRequired",
                    details=[
                        {
                            "item": "channelProperties.email.status",
                            "description": f"cannot change {channel['status']} to "
                            "subscribed without resubscribeOptions",
                        }
                    ],
                )
            if not options.get("resubscribeWithNoChallenge", True):
                status = "pendingOptIn"
        self._set_status(state, contact, status)

    def _check_fields(self, state, values):
        unknown = [k for k in values if k.upper() not in state["data_fields"]]
        bad = []
        for key, value in values.items():
            field = state["data_fields"].get(key.upper())
            if field is None or value in (None, ""):
                continue
            if field["type"] == "Numeric" and not _is_number(value):
                bad.append((key, "must be a number"))
            elif field["type"] == "Boolean" and not isinstance(value, bool):
                bad.append((key, "must be true or false"))
            elif field["type"] == "Date" and not _is_date(value):
                bad.append((key, "must be an ISO 8601 date"))
        if unknown or bad:
            details = [
                {"item": k, "description": "Data field does not exist"} for k in unknown
            ]
            details += [{"item": k, "description": msg} for k, msg in bad]
            raise ApiError(
                400,
                "Invalid data fields: " + ", ".join(d["item"] for d in details),
                code="contacts:invalidDataFields",
                details=details,
            )

    def _check_lists(self, state, lists):
        missing = [lid for lid in lists if lid not in state["books"]]
        if missing:
            raise ApiError(
                400,
                "The following lists could not be found",
                code="contacts:listNotFound",
                details=[
                    {"item": str(lid), "description": "Not found"} for lid in missing
                ],
            )

    def _apply_fields(self, state, contact, values, merge):
        for key, value in values.items():
            name = key.upper()
            current = contact["dataFields"].get(name)
            if merge == "overwrite-if-not-empty" and value in (None, ""):
                continue
            if merge == "overwrite-if-empty" and current not in (None, ""):
                continue
            contact["dataFields"][name] = value

    # -- insight data v3 ------------------------------------------------------
    def _collections(self, request, state):
        return [
            {
                **c,
                "recordCount": sum(
                    k[0] == c["collectionName"] for k in state["records"]
                ),
            }
            for c in state["collections"].values()
        ]

    def _collection(self, state, name, scope, create_type=None):
        collection = state["collections"].get(name)
        if collection is None and create_type:
            collection = {
                "collectionName": name,
                "collectionScope": scope,
                "collectionType": create_type,
            }
            state["collections"][name] = collection
        if collection is None:
            raise ApiError(
                404,
                "The collection could not be found",
                code="insightData:collectionNotFound",
                details=[{"item": name, "description": "Not found"}],
            )
        if collection["collectionScope"] != scope:
            raise ApiError(
                400,
                f"The collection '{name}' is {collection['collectionScope']} scoped",
                code="insightData:invalidCollectionScope",
            )
        return collection

    def _add_collection(self, request, state):
        name = request.path_params["collectionName"]
        scope = request.arg("collectionScope")
        kind = request.arg("collectionType")
        if name in state["collections"]:
            self._collection(state, name, scope)
            return Response(200, state["collections"][name])
        return Response(201, self._collection(state, name, scope, kind))

    def _record_owner(self, request, state):
        params = request.path_params
        if "identifier" not in params:
            return "account", 0
        contact = self._lookup(
            state, params["identifier"], params["value"], "insightData"
        )
        if contact is None:
            raise self._not_found(params["identifier"], params["value"], "insightData")
        return "contact", contact["contactId"]

    def _get_record(self, request, state):
        scope, owner = self._record_owner(request, state)
        name = request.path_params["collectionName"]
        self._collection(state, name, scope)
        record = state["records"].get((name, owner, request.path_params["recordId"]))
        if record is None:
            raise ApiError(
                404,
                "The record could not be found",
                code="insightData:recordNotFound",
                details=[
                    {
                        "item": request.path_params["recordId"],
                        "description": "Not found",
                    }
                ],
            )
        return record

    def _put_record(self, request, state):
        body = request.json
        if not isinstance(body, dict):
            raise ApiError(
                400, "The request JSON is badly formed", code="insightData:badJson"
            )
        scope, owner = self._record_owner(request, state)
        name = request.path_params["collectionName"]
        self._collection(state, name, scope)
        created = self._store_record(
            state, name, owner, request.path_params["recordId"], body
        )
        return Response(201 if created else 204, None)

    def _store_record(self, state, name, owner, key, data):
        now = self._iso()
        old = state["records"].get((name, owner, key))
        record = {"key": key, "json": data, "created": (old or {}).get("created", now)}
        record["updated"] = now
        if owner:
            record["ownerContactId"] = owner
        state["records"][(name, owner, key)] = record
        return old is None

    def _import(self, request, state):
        body = request.json
        self._validate("dotdigital_insight", request, "/insightData/v3/import", body)
        self._collection(
            state,
            body["collectionName"],
            body["collectionScope"],
            body["collectionType"],
        )
        import_id = self._start_job(
            state, "insightData", body, collectionName=body["collectionName"]
        )
        return Response(202, {"importId": import_id})

    def _import_status(self, request, state):
        return self._job_status(request, state, "insightData")

    def _run_insight_import(self, state, job, body):
        scope = body["collectionScope"]
        seen, failures, imported = set(), [], 0
        for record in body["records"]:
            owner_info = {"ownerType": scope}
            reason, owner = None, 0
            if scope == "contact":
                identity = record.get("contactIdentity") or {}
                owner_info["contactIdentity"] = identity
                try:
                    contact = self._lookup(
                        state, identity.get("identifier"), identity.get("value") or ""
                    )
                except ApiError:
                    contact, reason = None, "InvalidContactIdentifier"
                if contact is None and reason is None:
                    reason = (
                        "ContactEmailDoesNotExist"
                        if identity.get("identifier") == "email"
                        else "ContactIdDoesNotExist"
                    )
                owner = contact["contactId"] if contact else 0
            if reason is None and (record["key"], owner) in seen:
                reason = "DuplicateKey"
            if reason is None and _nested_array(record["json"]):
                reason = "JsonContainsNestedArray"
            if reason:
                failures.append(
                    {
                        "key": record["key"],
                        "collectionOwner": owner_info,
                        "failureReason": reason,
                    }
                )
                continue
            seen.add((record["key"], owner))
            self._store_record(
                state, body["collectionName"], owner, record["key"], record["json"]
            )
            imported += 1
        job["summary"] = {
            "totalRecords": len(body["records"]),
            "totalImported": imported,
            "totalRejected": len(failures),
        }
        if failures:
            job["failures"] = failures

    # -- asynchronous imports ----------------------------------------------------
    def _start_job(self, state, kind, body, **fields):
        """Queue an import of ``kind`` (``contacts``/``insightData``)."""
        import_id = str(uuid.uuid4())
        job = {
            "importId": import_id,
            "status": _JOB_STATES[kind][0],
            **fields,
            "_kind": kind,
            "_body": body,
            "_submitted": self.now(),
        }
        state["imports"][import_id] = job
        threading.Thread(
            target=self._job_worker,
            args=(state, job),
            name=f"dotdigital-import-{import_id[:8]}",
            daemon=True,
        ).start()
        return import_id

    def _job_worker(self, state, job):
        """Complete ``job`` when the sandbox clock says so, polled or not."""
        while True:
            with self.lock:
                self._progress(state, job)
                if "_body" not in job:
                    return
            time.sleep(0.02)

    def _progress(self, state, job):
        """First state, then the middle one at half of ``job_seconds``, then done.

        The import applies when it completes.
        """
        if "_body" not in job:
            return
        waiting, running, done = _JOB_STATES[job["_kind"]]
        elapsed = self.now() - job["_submitted"]
        seconds = float(self._option("job_seconds", 0.5) or 0)
        if job["status"] == waiting and elapsed >= seconds / 2:
            job["status"] = running
        if elapsed < seconds:
            return
        body = job.pop("_body")
        if job["_kind"] == "contacts":
            self._run_contacts_import(state, job, body)
        else:
            self._run_insight_import(state, job, body)
        job["status"] = done

    def _job_status(self, request, state, kind):
        import_id = request.path_params["importId"]
        job = state["imports"].get(import_id)
        if job is None or job["_kind"] != kind:
            raise ApiError(
                404,
                f"The import request '{import_id}' could not be found!",
                code=f"{kind}:importNotFound",
            )
        self._progress(state, job)
        return {k: v for k, v in job.items() if not k.startswith("_")}


_JOB_STATES = {
    "insightData": ("NotStarted", "Processing", "Complete"),
    "contacts": ("NotFinished", "NotFinished", "Finished"),
}
_MERGE_OPTIONS = {
    "overwrite": "overwrite",
    "overwriteIfNotEmpty": "overwrite-if-not-empty",
    "overwriteIfEmpty": "overwrite-if-empty",
}
_IMPORT_COUNTS = (
    "newContacts",
    "updatedContacts",
    "globallySuppressed",
    "invalidEntries",
    "duplicateIdentifiers",
)
_OVERALL = (
    "subscribed",
    "unsubscribed",
    "pendingOptIn",
    "suppressed",
    "noSubscription",
)
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


def _field(pointer):
    if pointer.startswith("query."):
        return pointer[len("query.") :]
    return pointer.strip("/").replace("/", ".") or "(body)"


def _by_email(state, email):
    contact_id = state["emails"].get(email.strip().lower())
    return state["contacts"].get(contact_id)


def _select(request, rows):
    try:
        select = min(int(request.arg("select", 1000)), 1000)
        skip = int(request.arg("skip", 0))
    except ValueError:
        select, skip = 1000, 0
    return rows[skip : skip + select]


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _is_number(value):
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_date(value):
    try:
        _parse_time(str(value))
    except ValueError:
        return False
    return True


def _parse_time(value):
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _nested_array(value, depth=0):
    if isinstance(value, list):
        if depth and any(isinstance(item, list) for item in value):
            return True
        return any(_nested_array(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_nested_array(item, depth) for item in value.values())
    return False


def _jsonable(value):
    return json.loads(json.dumps(value, default=_default))


def _default(value):
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return str(value)
