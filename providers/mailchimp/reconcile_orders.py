"""Mailchimp orders read back for reconciliation.

``GET /ecommerce/stores/{store}/orders`` has no date filter: the store's
orders are read with ``count``/``offset`` paging and kept when processed
in the period. Mailchimp keeps only the net total (``order_total`` less
refunds, as this addon sends it), so ``refunded`` is None.
"""

import datetime

from ..events import RemoteOrder
from ..wire import parse_timestamp
from . import const

PAGE = 500
FIELDS = (
    "orders.id,orders.financial_status,orders.order_total,"
    "orders.processed_at_foreign,orders.customer.email_address,total_items"
)


class ReconcileOrdersMixin:
    """``read_orders`` and ``read_contacts_page`` (needs ``_request``)."""

    def read_orders(self, since, until):
        self._start()
        path = const.ORDERS.format(store_id=self._store_id())
        found, offset = {}, 0
        while True:
            doc = self._request(
                "GET",
                path,
                params={"count": PAGE, "offset": offset, "fields": FIELDS},
            )
            orders = doc.get("orders") or []
            for order in orders:
                placed_at = _moment(order.get("processed_at_foreign"))
                if placed_at and not (_aware(since) <= placed_at < _aware(until)):
                    continue
                order_id = str(order.get("id"))
                found[order_id] = RemoteOrder(
                    order_id=order_id,
                    status=order.get("financial_status") or "placed",
                    total=float(order.get("order_total") or 0.0),
                    refunded=None,
                    placed_at=placed_at,
                    email=(order.get("customer") or {}).get("email_address") or "",
                    editable=True,
                )
            offset += len(orders)
            if not orders or offset >= int(doc.get("total_items") or 0):
                return found

    def read_contacts_page(self, cursor=None):
        self._start()
        offset = int(cursor or 0)
        doc = self._request(
            "GET",
            const.MEMBERS.format(list_id=self._list_id()),
            params={
                "count": PAGE,
                "offset": offset,
                "fields": "members.email_address,members.status,total_items",
            },
        )
        members = doc.get("members") or []
        emails = [
            (m.get("email_address") or "").strip().lower()
            for m in members
            if m.get("status") != "archived"
        ]
        offset += len(members)
        more = members and offset < int(doc.get("total_items") or 0)
        return [e for e in emails if e], (offset if more else None)


def _aware(moment):
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment


def _moment(text):
    return parse_timestamp(text)
