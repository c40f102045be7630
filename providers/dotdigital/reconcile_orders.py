"""Dotdigital orders read back for reconciliation.

``GET /insightData/v3/contacts/{collection}`` lists the contact-scoped
Orders collection's records, oldest change first, paged by ``marker``; a
``~modified=gte::`` filter skips the records untouched since the period's
start (an order placed in it cannot be older). Each record carries the
order's status, gross and refunded totals, as this addon writes them.
``GET /contacts/v3`` lists every contact the same way (extra contacts).
"""

import datetime

from ..base import EspError
from ..events import RemoteOrder
from ..wire import dig, parse_timestamp
from . import const

PAGE = 1000
PATH = "/insightData/v3/contacts/{collection}"
CONTACTS = "/contacts/v3"


class ReconcileOrdersMixin:
    """``read_orders`` and ``read_contacts_page`` (needs ``_request`` and
    ``_orders_collection``)."""

    def read_contacts_page(self, cursor=None):
        """``GET /contacts/v3``, 1,000 contacts a page, paged by ``marker``."""
        self._start()
        params = {"limit": PAGE}
        if cursor:
            params["marker"] = cursor
        doc = self._request("GET", CONTACTS, params=params)
        emails = [
            (dig(item, "identifiers", "email") or "").strip().lower()
            for item in doc.get("_items") or []
        ]
        marker = dig(doc, "_links", "next", "marker")
        return [e for e in emails if e], (marker if doc.get("_items") else None)

    def read_orders(self, since, until):
        self._start()
        since, until = _utc(since), _utc(until)
        path = PATH.format(collection=self._orders_collection())
        params = {
            "~modified": "gte::" + since.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "limit": PAGE,
        }
        found = {}
        while True:
            try:
                doc = self._request("GET", path, params=params)
            except EspError as error:
                if error.status == 404:
                    return found  # no Orders collection yet: no order
                raise
            for item in doc.get("_items") or []:
                record = item.get("json") or {}
                placed_at = parse_timestamp(record.get("purchaseDate"))
                if not placed_at or not since <= placed_at < until:
                    continue
                order_id = str(record.get("id") or item.get("key"))
                cancelled = record.get("status") == const.ORDER_CANCELLED
                found[order_id] = RemoteOrder(
                    order_id=order_id,
                    status="cancelled"
                    if cancelled
                    else record.get("financialStatus") or "placed",
                    total=float(record.get("grossTotal") or 0.0),
                    refunded=float(record.get("refundedTotal") or 0.0),
                    placed_at=placed_at,
                    email=record.get("email") or "",
                    editable=True,
                )
            marker = dig(doc, "_links", "next", "marker")
            if not marker or not doc.get("_items"):
                return found
            params = dict(params, marker=marker)


def _utc(moment):
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)
