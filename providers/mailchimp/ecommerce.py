"""Mailchimp e-commerce: customers, products, orders and the store."""

from urllib.parse import quote

from ..base import DeliveryResult, EspError
from ..events import EventKind
from . import const, payloads, util


class EcommerceMixin:
    """Order lifecycle on ``settings.mailchimp_store_id`` (needs ``_request``)."""

    def _customer_id(self, order):
        ident = order.external_id or util.subscriber_hash(order.email)
        return str(ident)[: const.CUSTOMER_ID_MAX_LENGTH]

    def _customer(self, order, event=None):
        props = event.properties if event else {}
        return payloads.Customer(
            id=self._customer_id(order),
            email_address=self._email(order.email),
            opt_in_status=False,  # never overwrites an existing member's status
            first_name=props.get("first_name") or None,
            last_name=props.get("last_name") or None,
        )

    def _put_customer(self, store, order, event):
        body = self._customer(order, event).dump()
        path = const.CUSTOMER.format(
            store_id=store, customer_id=quote(body["id"], safe="")
        )
        self._request("PUT", path, json=body)

    @staticmethod
    def _variant_id(line):
        return str(line.variant_id or line.product_id)

    def _ensure_products(self, store, lines):
        """Create products/variants the store lacks, so orders of products
        deleted in Odoo still sync."""
        by_product = {}
        for line in lines:
            by_product.setdefault(str(line.product_id), {})[self._variant_id(line)] = (
                line
            )
        for product_id, variants in by_product.items():
            path = const.PRODUCT.format(
                store_id=store, product_id=quote(product_id, safe="")
            )
            try:
                found = self._request("GET", path, params={"fields": "id,variants.id"})
            except EspError as error:
                if error.status != 404:
                    raise
                found = None
            known = {str(v.get("id")) for v in (found or {}).get("variants") or []}
            missing = [vid for vid in variants if vid not in known]
            if found is not None and not missing:
                continue
            if found is None:
                first = next(iter(variants.values()))
                body = payloads.Product(
                    id=product_id,
                    title=first.name or first.sku or product_id,
                    url=first.product_url or None,
                    image_url=first.image_url or None,
                    variants=[self._variant(v, line) for v, line in variants.items()],
                ).dump()
                self._request("PUT", path, json=body)
                continue
            for vid in missing:
                body = self._variant(vid, variants[vid]).dump()
                self._request(
                    "PUT", f"{path}/variants/{quote(vid, safe='')}", json=body
                )

    @staticmethod
    def _variant(variant_id, line):
        return payloads.ProductVariant(
            id=variant_id,
            title=line.name or line.sku or variant_id,
            sku=line.sku or None,
            price=util.money(line.unit_price),
            url=line.product_url or None,
            image_url=line.image_url or None,
        )

    @staticmethod
    def _quantity(value):
        quantity = round(value or 0)
        return 1 if quantity < 1 and (value or 0) > 0 else quantity

    def _lines(self, lines):
        return [
            payloads.OrderLine(
                id=str(line.line_id),
                product_id=str(line.product_id),
                product_variant_id=self._variant_id(line),
                quantity=self._quantity(line.quantity),
                price=util.money(line.total),
            )
            for line in lines
        ]

    @staticmethod
    def _net_total(order):
        return max(0.0, util.money(order.total - (order.refunded_total or 0.0)))

    @staticmethod
    def _refund_status(order):
        fully = (order.refunded_total or 0.0) >= order.total - 0.005
        return "refunded" if fully else "partially_refunded"

    def _state(self, order, kinds, occurred_at):
        """Status fields for an order that went through ``kinds``."""
        state = {
            "financial_status": order.financial_status or None,
            "fulfillment_status": order.fulfillment_status or None,
        }
        if EventKind.FULFILLED in kinds:
            state["fulfillment_status"] = order.fulfillment_status or "shipped"
        if EventKind.REFUNDED in kinds:
            state["financial_status"] = self._refund_status(order)
        if EventKind.CANCELLED in kinds:
            state["financial_status"] = "cancelled"
            state["cancelled_at_foreign"] = util.iso(occurred_at)
        return state

    def _order_create(self, event, kinds):
        order = event.order
        return payloads.Order(
            id=str(order.order_id),
            customer=self._customer(order, event),
            currency_code=order.currency,
            order_total=self._net_total(order),
            tax_total=util.money(order.tax),
            shipping_total=util.money(order.shipping),
            processed_at_foreign=util.iso(order.placed_at),
            updated_at_foreign=util.iso(event.occurred_at),
            lines=self._lines(order.lines),
            **self._state(order, kinds, event.occurred_at),
        ).dump()

    def _order_patch(self, event):
        order = event.order
        kind = EventKind(event.kind)
        values = {"updated_at_foreign": util.iso(event.occurred_at)}
        state = self._state(order, {kind}, event.occurred_at)
        if kind == EventKind.FULFILLED:
            values["fulfillment_status"] = state["fulfillment_status"]
        elif kind == EventKind.CANCELLED:
            values["financial_status"] = "cancelled"
            values["cancelled_at_foreign"] = state["cancelled_at_foreign"]
            values["order_total"] = self._net_total(order)
        elif kind == EventKind.REFUNDED:
            values["financial_status"] = state["financial_status"]
            values["order_total"] = self._net_total(order)
        elif kind == EventKind.RELEASED:
            # Held as "pending" by the release gate; Mailchimp's order
            # confirmation notification follows the move to "paid".
            values["financial_status"] = state["financial_status"]
        return payloads.Order(**values).dump()

    def _create_order(self, store, event, kinds):
        """POST the order; when it already exists, PATCH it to the snapshot."""
        self._put_customer(store, event.order, event)
        self._ensure_products(store, event.order.lines)
        body = self._order_create(event, kinds)
        try:
            self._request("POST", const.ORDERS.format(store_id=store), json=body)
        except EspError as error:
            if error.code != const.CODE_ALREADY_EXISTS:
                raise
            patch = dict(body, customer={"id": body["customer"]["id"]})
            patch.pop("id")
            path = const.ORDER.format(
                store_id=store, order_id=quote(body["id"], safe="")
            )
            self._request("PATCH", path, json=patch)

    def send_order_event(self, event):
        """Create the order when placed; PATCH its status afterwards."""
        self._start()
        kind = EventKind(event.kind)
        if kind == EventKind.RETURNED:
            return DeliveryResult(skipped_reason=const.SKIP_RETURNED, requests=0)
        store = self._store_id()
        order_id = str(event.order.order_id)
        if kind == EventKind.PLACED:
            self._with_store(event, lambda: self._create_order(store, event, {kind}))
        else:
            path = const.ORDER.format(store_id=store, order_id=quote(order_id, safe=""))
            try:
                self._request("PATCH", path, json=self._order_patch(event))
            except EspError as error:
                if error.status != 404:
                    raise
                # Never reached Mailchimp (placed before the sync): create it
                # whole, already in this event's state.
                self._with_store(
                    event, lambda: self._create_order(store, event, {kind})
                )
        return self._result(external_id=order_id)

    def update_inventory(self, levels):
        """PATCH the stock of the variants that moved (a variant the store
        does not have yet is left to the next catalogue upsert)."""
        self._start()
        store = self._store_id()
        missing = []
        for level in levels:
            path = (
                const.PRODUCT.format(
                    store_id=store,
                    product_id=quote(level.product_external_id, safe=""),
                )
                + f"/variants/{quote(level.variant_external_id, safe='')}"
            )
            body = {"inventory_quantity": max(0, int(level.quantity or 0))}
            try:
                self._request("PATCH", path, json=body)
            except EspError as error:
                if error.status != 404:
                    raise
                missing.append(level.variant_external_id)
        return self._result(detail={"missing": missing})

    def upsert_catalog_item(self, item):
        """PUT the product with all its variants (the catalogue owns them)."""
        self._start()
        store = self._store_id()
        variants = item.variants or ()
        body = payloads.Product(
            id=str(item.external_id),
            title=item.title,
            description=item.description or None,
            url=item.url or None,
            image_url=item.image_url or None,
            variants=[
                payloads.ProductVariant(
                    id=str(v.external_id),
                    title=v.title or item.title,
                    sku=v.sku or None,
                    price=util.money(v.price),
                    inventory_quantity=max(0, int(v.inventory_quantity or 0)),
                    url=v.url or item.url or None,
                    image_url=v.image_url or item.image_url or None,
                )
                for v in variants
            ]
            or [
                payloads.ProductVariant(
                    id=str(item.external_id),
                    title=item.title,
                    sku=item.sku or None,
                    price=util.money(item.price),
                    url=item.url or None,
                    image_url=item.image_url or None,
                )
            ],
        ).dump()
        path = const.PRODUCT.format(
            store_id=store, product_id=quote(body["id"], safe="")
        )
        self._request("PUT", path, json=body)
        return self._result(external_id=body["id"])

    def remove_catalog_item(self, removal):
        """DELETE the product (its variants go with it); a store or product
        Mailchimp does not have is already gone. Orders keep their lines."""
        self._start()
        path = const.PRODUCT.format(
            store_id=self._store_id(),
            product_id=quote(str(removal.external_id), safe=""),
        )
        deleted = self._delete_if_present(path)
        return self._result(
            external_id=str(removal.external_id), detail={"deleted": deleted}
        )

    def remove_catalog_variant(self, removal):
        """DELETE the variant of its product (the product and its other
        variants stay); one Mailchimp does not have is already gone."""
        self._start()
        path = (
            const.PRODUCT.format(
                store_id=self._store_id(),
                product_id=quote(str(removal.product_external_id), safe=""),
            )
            + f"/variants/{quote(str(removal.external_id), safe='')}"
        )
        deleted = self._delete_if_present(path)
        return self._result(
            external_id=str(removal.external_id), detail={"deleted": deleted}
        )

    # --- store setup --------------------------------------------------------
    def _with_store(self, event, send):
        """Run ``send``; if the store does not exist yet, create it and retry."""
        try:
            return send()
        except EspError as error:
            if error.status != 404:
                raise
        # Missing: create it. Present now: a concurrent job created it
        # between our send and this look-up (first orders after set-up), so
        # the send is tried once more; a second 404 is a real one.
        if self._store_missing():
            self.ensure_store(self._store_id(), event.order.currency)
        return send()

    def _store_missing(self):
        try:
            self._request("GET", const.STORE.format(store_id=self._store_id()))
        except EspError as error:
            if error.status == 404:
                return True
            raise
        return False

    def ensure_store(self, name, currency, list_id=None):
        """Create the e-commerce store when it does not exist yet."""
        self._start()
        store = self._store_id()
        try:
            self._request("GET", const.STORE.format(store_id=store))
        except EspError as error:
            if error.status != 404:
                raise
            body = payloads.Store(
                id=store,
                list_id=list_id or self._list_id(),
                name=name,
                currency_code=currency,
            ).dump()
            try:
                self._request("POST", const.STORES, json=body)
            except EspError as error:
                # Two jobs creating it at once: the other one won.
                if error.status != 400 or self._store_missing():
                    raise
                return self._result(external_id=store, detail={"created": False})
            return self._result(external_id=store, detail={"created": True})
        return self._result(external_id=store, detail={"created": False})

    def begin_backfill(self):
        """A backfill runs with ``is_syncing`` on, so automations hold off.

        The store is created first when no live order has created it yet
        (a backfill right after set-up), named and priced as the company.
        """
        if self.settings.mailchimp_store_id:
            extra = self.settings.extra
            self.ensure_store(
                extra.get("store_name") or self._store_id(),
                extra.get("currency") or "EUR",
            )
            self.set_store_syncing(True)

    def end_backfill(self):
        if self.settings.mailchimp_store_id:
            self.set_store_syncing(False)

    def set_store_syncing(self, syncing):
        """Turn the store's ``is_syncing`` on (backfill: no automations) or off."""
        self._start()
        store = self._store_id()
        body = payloads.StorePatch(is_syncing=bool(syncing)).dump()
        self._request("PATCH", const.STORE.format(store_id=store), json=body)
        return self._result(external_id=store)
