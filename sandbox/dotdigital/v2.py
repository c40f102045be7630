"""Dotdigital v2: account info, data fields, address books, contact queries.

``GET /v2/contacts/suppressed-since/{date}`` and ``unsubscribed-since`` list
the contacts whose email channel left "subscribed" at or after ``date``
(latest change per contact), which is how a client polls for opt-outs.
"""

import re

from ..core import Response
from .common import (
    EMAIL_RE,
    V2_STATUS,
    ApiError,
    by_email,
    parse_time,
    select,
    to_int,
)


class V2Mixin:
    """v2 endpoints of :class:`~sandbox.dotdigital.DotdigitalApp`."""

    # -- account and data fields ----------------------------------------------
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

    # -- address books --------------------------------------------------------
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
        return select(request, books)

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
        return select(request, members)

    def _add_book_contact(self, request, state):
        book = self._book(request, state)
        body = request.json or {}
        email = body.get("email", "")
        if not EMAIL_RE.match(email):
            raise ApiError(400, "Email is not valid.", code="ERROR_CONTACT_INVALID")
        contact = by_email(state, email)
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
        contact = state["contacts"].get(to_int(request.path_params["contactId"]))
        if contact is None or book["id"] not in contact["lists"]:
            raise ApiError(404, "Contact not found.", code="ERROR_CONTACT_NOT_FOUND")
        contact["lists"].discard(book["id"])
        return Response(204, None)

    # -- contacts and suppressions --------------------------------------------
    def _v2_contact(self, request, state):
        raw = request.path_params["id"]
        if raw.isdigit():
            contact = state["contacts"].get(int(raw))
        else:
            contact = by_email(state, raw)
        if contact is None:
            raise ApiError(404, "Contact not found.", code="ERROR_CONTACT_NOT_FOUND")
        return self._v2_view(state, contact)

    def _since(self, request, state, reasons):
        raw = request.path_params["date"]
        try:
            since = parse_time(raw)
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
        return select(request, rows)

    def _suppressed_since(self, request, state):
        return self._since(request, state, None)

    def _unsubscribed_since(self, request, state):
        return self._since(request, state, ("Unsubscribed",))

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
