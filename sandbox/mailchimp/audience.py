"""Mailchimp audience fields: merge fields and batch subscribe of many members."""

import re

from .common import (
    MAX_BATCH_MEMBERS,
    STATUSES,
    ApiError,
    page,
    subscriber_hash,
    webhook_kind,
)


class AudienceMixin:
    """Merge fields and batch subscribe of :class:`~sandbox.mailchimp.MailchimpApp`."""

    def _merge_fields(self, request, state):
        list_id = self._the_list(state, request.path_params["list_id"])
        fields = list(state["merge_fields"][list_id].values())
        return {
            "merge_fields": page(request, fields),
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
                    self._fire(state, list_id, webhook_kind(status), "api", member)
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
