"""Dotdigital orders: one record per order in the contact-scoped Orders
insight collection, upserted by order id on every lifecycle event."""

import urllib.parse

from ..base import ErrorCategory, EspError
from ..events import EventKind
from . import const, payloads
from .dates import iso


def _money(value):
    return round(float(value or 0.0), 2)


def order_status(kinds, order):
    """The record's status after the events ``kinds`` of ``order``."""
    refunded = order.refunded_total or 0.0
    if EventKind.CANCELLED in kinds or order.financial_status == "cancelled":
        return const.ORDER_CANCELLED
    if refunded > 0 and refunded >= order.total - 0.005:
        return const.ORDER_REFUNDED
    if refunded > 0:
        return const.ORDER_PARTIALLY_REFUNDED
    if EventKind.RETURNED in kinds:
        return const.ORDER_RETURNED
    if EventKind.FULFILLED in kinds or order.fulfillment_status:
        return const.ORDER_FULFILLED
    return const.ORDER_PLACED


class OrdersMixin:
    """Order insight records (needs ``_request``, ``_email``, ``_patch_contact``)."""

    def _orders_collection(self):
        name = self.settings.extra.get("orders_collection", const.ORDERS_COLLECTION)
        return check_collection_name(name)

    def _order_record(self, event, kinds=None):
        order = event.order
        kinds = kinds or {EventKind(event.kind)}
        products = [
            payloads.OrderProduct(
                id=str(line.product_id),
                variantId=str(line.variant_id) if line.variant_id else None,
                sku=line.sku or None,
                name=line.name or line.sku or str(line.product_id),
                qty=float(line.quantity or 0.0),
                price=_money(line.unit_price),
                total=_money(line.total),
                categories=", ".join(line.categories) or None,
                url=line.product_url or None,
                imageUrl=line.image_url or None,
            )
            for line in order.lines
        ]
        return payloads.OrderRecord(
            id=str(order.order_id),
            name=order.name,
            status=order_status(kinds, order),
            email=self._email(order.email),
            currency=order.currency,
            purchaseDate=iso(order.placed_at),
            updatedAt=iso(event.occurred_at),
            orderSubtotal=_money(order.untaxed),
            taxTotal=_money(order.tax),
            deliveryTotal=_money(order.shipping),
            orderTotal=max(0.0, _money(order.total - (order.refunded_total or 0.0))),
            grossTotal=_money(order.total),
            refundedTotal=_money(order.refunded_total),
            financialStatus=order.financial_status or None,
            fulfillmentStatus=order.fulfillment_status or None,
            releasedAt=iso(order.released_at),
            products=products,
        ).dump()

    def _create_orders_collection(self):
        self._request(
            "POST",
            const.INSIGHT_COLLECTION.format(collection=self._orders_collection()),
            params={
                "collectionScope": "contact",
                "collectionType": const.ORDERS_COLLECTION_TYPE,
            },
        )

    def _create_contact_without_consent(self, email):
        """A contact for an order's buyer: the never-opted-in state, outside
        the marketing address book."""
        body = payloads.ContactUpdate(
            identifiers=payloads.Identifiers(email=email),
            channelProperties=self._never_opted_in_channel(),
        ).dump()
        self._patch_contact(email, body)

    def send_order_event(self, event):
        """Upsert the order's record (keyed by order id) in its latest state."""
        self._start()
        record = self._order_record(event)
        email = record["email"]
        path = const.INSIGHT_CONTACT_RECORD.format(
            email=urllib.parse.quote(email, safe="@"),
            collection=self._orders_collection(),
            record_id=urllib.parse.quote(record["id"], safe=""),
        )
        fixed = set()
        while True:
            try:
                self._request("PUT", path, json=record)
                break
            except EspError as error:
                if error.code in fixed or error.code not in (
                    const.CODE_CONTACT_NOT_FOUND,
                    const.CODE_COLLECTION_NOT_FOUND,
                ):
                    raise
                fixed.add(error.code)
                if error.code == const.CODE_CONTACT_NOT_FOUND:
                    self._create_contact_without_consent(email)
                else:
                    self._create_orders_collection()
        return self._result(
            external_id=record["id"], detail={"status": record["status"]}
        )


def check_collection_name(name):
    """Dotdigital collection names: letters, digits, ``_`` and ``-``."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise EspError(
            f"{name!r} is not a valid Dotdigital insight collection name",
            category=ErrorCategory.CONFIGURATION,
        )
    return name
