"""Mailchimp -> Odoo: unsubscribes and cleans, by webhook or by polling."""

import urllib.parse

from ..base import ErrorCategory, EspError
from ..events import ConsentUpdate
from . import const, util


class InboundMixin:
    """Status changes Mailchimp (the master of opt-ins) tells Odoo."""

    def fetch_consent_updates(self, since):
        """Members unsubscribed or cleaned in Mailchimp since ``since``."""
        self._start()
        list_id = self._list_id()
        updates = []
        for status in const.CONSENT_STATUSES_POLLED:
            offset = 0
            while True:
                page = self._request(
                    "GET",
                    const.MEMBERS.format(list_id=list_id),
                    params={
                        "status": status,
                        "since_last_changed": util.iso(since),
                        "count": const.PAGE_SIZE,
                        "offset": offset,
                        "fields": "members.email_address,members.status,"
                        "members.last_changed,members.unsubscribe_reason,"
                        "total_items",
                    },
                )
                members = page.get("members") or []
                for member in members:
                    updates.append(
                        ConsentUpdate(
                            email=(member.get("email_address") or "").lower(),
                            status=member.get("status") or status,
                            occurred_at=util.parse_time(member.get("last_changed")),
                            reason=member.get("unsubscribe_reason") or "",
                            provider_ref=list_id,
                        )
                    )
                offset += len(members)
                if not members or offset >= int(page.get("total_items") or 0):
                    break
        return updates

    def parse_webhook(self, headers, body):
        """Parse a form-encoded list webhook into ConsentUpdate values.

        The controller has already checked the secret in the URL (Mailchimp's
        GET validation ping never gets here); profile/email changes and other
        audiences yield ``[]``; a body that is not a list webhook (no type, an
        unsubscribe without an address, undecodable) is a DATA error.
        """
        form = _form(body)
        kind = form.get("type", "")
        if not kind:
            raise _malformed("is not a Mailchimp list webhook")
        status = const.WEBHOOK_STATUS.get(kind)
        if not status:
            return []
        list_id = form.get("data[list_id]", "")
        expected = self.settings.mailchimp_list_id
        if expected and list_id and list_id != expected:
            return []
        email = (form.get("data[email]") or "").strip().lower()
        if "@" not in email:
            raise _malformed("names no email address")
        return [
            ConsentUpdate(
                email=email,
                status=status,
                occurred_at=util.parse_time(form.get("fired_at")),
                reason=form.get("data[reason]") or form.get("data[action]") or "",
                provider_ref=list_id,
            )
        ]


def _form(body):
    """The fields of a form-encoded body (or of the form Odoo parsed)."""
    if isinstance(body, dict):
        form = {str(k): (v[0] if isinstance(v, list) else v) for k, v in body.items()}
        return {k: v if isinstance(v, str) else "" for k, v in form.items()}
    try:
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        parsed = urllib.parse.parse_qs(
            body or "", keep_blank_values=True, max_num_fields=200
        )
    except ValueError as exc:
        raise _malformed("is not a form") from exc
    return {k: v[0] for k, v in parsed.items()}


def _malformed(what):
    return EspError(
        f"The Mailchimp webhook body {what}.",
        category=ErrorCategory.DATA,
        code="webhook_malformed",
    )
