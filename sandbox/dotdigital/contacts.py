"""Dotdigital Contacts API v3: single upserts, lookups and bulk imports.

A contact's email channel that is unsubscribed or suppressed is only
resubscribed when the request carries ``resubscribeOptions``; with
``resubscribeWithNoChallenge: false`` it goes to ``pendingOptIn``, as does
any subscribe with ``optInType: verifiedDouble`` (double opt-in) until the
``confirm_opt_in`` action clicks the confirmation link.
"""

import base64

from ..core import Response
from .channels import ChannelsMixin
from .common import (
    EMAIL_RE,
    V2_STATUS,
    ApiError,
    by_email,
    page_link,
    parse_time,
    to_int,
)


class ContactsMixin(ChannelsMixin):
    """Contacts v3 endpoints of :class:`~sandbox.dotdigital.DotdigitalApp`."""

    # -- contact records ------------------------------------------------------
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
                },
                **(
                    {"sms": dict(contact["channelProperties"]["sms"])}
                    if "sms" in contact["channelProperties"]
                    else {}
                ),
            },
            "lists": lists,
        }

    def _lookup(self, state, identifier, value, family="contacts"):
        """The contact ``identifier``/``value`` names, or ``None``."""
        if identifier == "email":
            if not EMAIL_RE.match(value):
                raise ApiError(
                    400,
                    f"The id value '{value}' is invalid for the identifier 'email'",
                    code=f"{family}:invalidId",
                )
            return by_email(state, value)
        if identifier == "contactId":
            return state["contacts"].get(to_int(value))
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

    # -- endpoints ------------------------------------------------------------
    def _get_contact(self, request, state):
        identifier = request.path_params["identifier"]
        value = request.path_params["value"]
        contact = self._lookup(state, identifier, value)
        if contact is None:
            raise self._not_found(identifier, value)
        return self._contact_view(state, contact)

    def _list_contacts(self, request, state):
        """``GET /contacts/v3``: every contact, by id, ``limit`` a page (at
        most 1,000 returned), ``marker`` paging."""
        contacts = [state["contacts"][cid] for cid in sorted(state["contacts"])]
        limit = min(int(request.arg("limit") or 1000), 1000)
        try:
            marker = request.arg("marker") or "MA=="
            offset = int(base64.urlsafe_b64decode(marker).decode())
        except ValueError as exc:
            raise ApiError(400, "Invalid marker", code="contacts:badMarker") from exc
        links = {"self": page_link(request.path, offset)}
        links["first"] = page_link(request.path, 0)
        if offset + limit < len(contacts):
            links["next"] = page_link(request.path, offset + limit)
        chunk = contacts[offset : offset + limit]
        items = [self._contact_view(state, contact) for contact in chunk]
        return {"_items": items, "_links": links}

    def _delete_contact(self, request, state):
        """``DELETE /contacts/v3/{identifier}/{value}``: the contact goes, and
        its insight records with it (erasure)."""
        identifier = request.path_params["identifier"]
        value = request.path_params["value"]
        contact = self._lookup(state, identifier, value)
        if contact is None:
            raise self._not_found(identifier, value)
        del state["contacts"][contact["contactId"]]
        state["emails"] = {
            email: cid
            for email, cid in state["emails"].items()
            if cid != contact["contactId"]
        }
        state["records"] = {
            key: record
            for key, record in state.get("records", {}).items()
            if record.get("ownerContactId") != contact["contactId"]
        }
        state.setdefault("erased", []).append(contact["contactId"])
        return Response(200, {"contactId": contact["contactId"]})

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

    def _contacts_import(self, request, state):
        body = request.json
        self._validate("dotdigital_contacts", request, "/contacts/v3/import", body)
        return Response(202, {"importId": self._start_job(state, "contacts", body)})

    def _contacts_import_status(self, request, state):
        return self._job_status(request, state, "contacts")

    # -- upsert rules ---------------------------------------------------------
    def _upsert_contact(self, state, identifier, value, body, merge):
        """Create or update one contact; return ``(contact, created)``."""
        contact = self._lookup(state, identifier, value)
        identifiers = body.get("identifiers") or {}
        new_email = identifiers.get("email")
        if new_email:
            if not EMAIL_RE.match(new_email):
                raise ApiError(
                    400,
                    f"The id value '{new_email}' is invalid for the identifier 'email'",
                    code="contacts:invalidId",
                )
            other = by_email(state, new_email)
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
            self._set_mobile(state, contact, identifiers["mobileNumber"])
        sms = (body.get("channelProperties") or {}).get("sms") or {}
        if sms.get("status"):
            self._set_sms_status(contact, sms["status"])
        self._apply_fields(state, contact, body.get("dataFields") or {}, merge)
        contact["lists"].update(body.get("lists") or [])
        contact["updated"] = self._iso()
        return contact, created

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
        parse_time(str(value))
    except ValueError:
        return False
    return True
