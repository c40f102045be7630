"""Dotdigital Insight data v3: collections, records and async imports."""

import base64

from ..core import Response, parse_iso
from .common import ApiError, page_link


class InsightMixin:
    """Insight data endpoints of :class:`~sandbox.dotdigital.DotdigitalApp`."""

    # -- collections ----------------------------------------------------------
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

    # -- records --------------------------------------------------------------
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

    def _list_records(self, request, state):
        """``GET /insightData/v3/contacts/{collectionName}``: the records of a
        contact-scoped collection, oldest change first, ``limit`` a page
        (at most 1,000 returned), ``marker`` paging, ``~modified=gte::``."""
        name = request.path_params["collectionName"]
        self._collection(state, name, "contact")
        records = [
            record
            for (collection, owner, _key), record in state["records"].items()
            if collection == name and owner
        ]
        modified = request.arg("~modified")
        if modified:
            if not modified.startswith("gte::"):
                raise ApiError(400, "Invalid filter", code="insightData:invalidFilter")
            since = parse_iso(modified[5:])
            records = [r for r in records if parse_iso(r["updated"]) >= since]
        records.sort(key=lambda r: (r["updated"], r["key"]))
        limit = min(int(request.arg("limit") or 1000), 1000)
        try:
            marker = request.arg("marker") or "MA=="
            offset = int(base64.urlsafe_b64decode(marker).decode())
        except ValueError as exc:
            raise ApiError(400, "Invalid marker", code="insightData:badMarker") from exc
        base = request.path
        links = {"self": page_link(base, offset), "first": page_link(base, 0)}
        if offset + limit < len(records):
            links["next"] = page_link(base, offset + limit)
        return {"_items": records[offset : offset + limit], "_links": links}

    def _delete_record(self, request, state):
        """Delete one record (204); an unknown one is a 404."""
        scope, owner = self._record_owner(request, state)
        name = request.path_params["collectionName"]
        self._get_record(request, state)
        del state["records"][(name, owner, request.path_params["recordId"])]
        return Response(204, None)

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

    def _delete_record(self, request, state):
        self._get_record(request, state)
        scope, owner = self._record_owner(request, state)
        name = request.path_params["collectionName"]
        del state["records"][(name, owner, request.path_params["recordId"])]
        return Response(204, None)

    def _store_record(self, state, name, owner, key, data):
        now = self._iso()
        old = state["records"].get((name, owner, key))
        record = {"key": key, "json": data, "created": (old or {}).get("created", now)}
        record["updated"] = now
        if owner:
            record["ownerContactId"] = owner
        state["records"][(name, owner, key)] = record
        return old is None

    # -- imports --------------------------------------------------------------
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


def _nested_array(value, depth=0):
    if isinstance(value, list):
        if depth and any(isinstance(item, list) for item in value):
            return True
        return any(_nested_array(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_nested_array(item, depth) for item in value.values())
    return False
