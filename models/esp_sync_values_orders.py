# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Plain values of orders and their lifecycle events (and of backfills)."""

from odoo import _, api, models

from .. import const
from ..providers import EspError
from ..providers import events as ev
from .esp_sync_values import EspSkip, utc


class EspSyncValuesOrders(models.AbstractModel):
    _inherit = "esp.sync.values"

    # ----------------------------------------------------------------- orders
    @api.model
    def _esp_order(self, backend, order, lookups=None):
        """Snapshot of ``order`` with its refunds and fulfilment status;
        ``lookups``: the chunk's :class:`OrderLookups` (backfill)."""
        partner = order.partner_id
        email = self._esp_email(partner)
        refunds = order.invoice_ids.filtered(
            lambda m: m.move_type == "out_refund" and m.state == "posted"
        )
        refunded = sum(refunds.mapped("amount_total"))
        if order.state == "cancel":
            financial = "cancelled"
        elif refunds and refunded >= order.amount_total - 0.005:
            financial = "refunded"
        elif refunds:
            financial = "partially_refunded"
        else:
            financial = "paid"
        released_at = None
        if backend.release_gate != "none":
            released_at = (
                utc(lookups.released.get(order.id))
                if lookups
                else self._esp_released_at(backend, order)
            )
            if financial == "paid" and not released_at:
                financial = "pending"  # held by the release gate
        outgoing = order.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state != "cancel"
        )
        done = outgoing.filtered(lambda p: p.state == "done")
        fulfilment = ""
        if done:
            fulfilment = "shipped" if done == outgoing else "partial"
        images = lookups.images if lookups else None
        lines = tuple(
            self._esp_line(line, line.product_uom_qty, line.price_total, images=images)
            for line in order.order_line
            if not line.display_type and line.product_id
        )
        return ev.Order(
            order_id=str(order.id),
            name=order.name,
            email=email,
            external_id=self._esp_external_id(
                backend, email, lookups.people if lookups else None
            ),
            placed_at=utc(order.date_order),
            currency=order.currency_id.name,
            total=order.amount_total,
            untaxed=order.amount_untaxed,
            tax=order.amount_tax,
            shipping=sum(order.order_line.filtered("is_delivery").mapped("price_total"))
            if "is_delivery" in order.order_line._fields
            else 0.0,
            lines=lines,
            refunded_total=refunded,
            financial_status=financial,
            fulfillment_status=fulfilment,
            billing_address=self._esp_address(order.partner_invoice_id),
            shipping_address=self._esp_address(order.partner_shipping_id),
            released_at=released_at,
        )

    @api.model
    def _esp_released_at(self, backend, order):
        """When the order passed ``backend``'s release gate (None: held)."""
        released = (
            self.env["esp.sync.event"]
            .sudo()
            .search(
                [
                    ("res_id", "=", order.id),
                    ("res_model", "=", "sale.order"),
                    ("backend_id", "=", backend.id),
                    ("event_type", "=", "order_released"),
                    ("state", "in", ("pending", "sent")),
                ],
                limit=1,
            )
        )
        return utc(released.occurred_at) if released else None

    @api.model
    def _esp_line(self, sale_line, quantity, total, line_id=None, images=None):
        product = sale_line.product_id
        unit = sale_line.price_unit
        base = product.get_base_url()
        return ev.OrderLine(
            line_id=str(line_id or sale_line.id),
            product_id=str(product.product_tmpl_id.id),
            variant_id=str(product.id),
            sku=product.default_code or str(product.id),
            name=product.display_name,
            quantity=float(quantity),
            unit_price=unit,
            total=float(total),
            # Flows show the product's picture and link (catalogue ids match).
            product_url=self._esp_product_url(base, product),
            image_url=self._esp_image_url(
                base, product, "image_variant_1920", "image_variant_1024", images
            )
            or self._esp_image_url(
                base, product.product_tmpl_id, "image_1920", "image_1024", images
            ),
            categories=tuple(product.categ_id.mapped("name")),
        )

    @api.model
    def _esp_order_event(self, event, record):
        """Build the OrderEvent of a sale order, picking or credit note."""
        backend = event.backend_id
        kind = ev.EventKind(const.ORDER_EVENT_KIND[event.event_type])
        order = record._esp_sale_order() if record._name != "sale.order" else record
        if not order:
            raise EspSkip(
                _("%(name)s is linked to no sale order.", name=record.display_name)
            )
        snapshot = self._esp_order(backend, order)
        lines, value, reference = snapshot.lines, snapshot.total, ""
        if record._name == "stock.picking":
            lines = tuple(
                self._esp_line(
                    move.sale_line_id,
                    move.quantity,
                    move.sale_line_id.price_reduce_taxinc * move.quantity,
                    line_id=move.id,
                )
                for move in record.move_ids
                if move.sale_line_id and move.quantity and move.state == "done"
            )
            value, reference = sum(line.total for line in lines), record.name
        elif record._name == "account.move":
            lines = tuple(
                self._esp_line(
                    aml.sale_line_ids[:1], aml.quantity, aml.price_total, line_id=aml.id
                )
                for aml in record.invoice_line_ids
                if aml.sale_line_ids
            )
            value, reference = record.amount_total, record.name
        return ev.OrderEvent(
            kind=kind,
            unique_id=self._esp_unique_id(event),
            order=snapshot,
            occurred_at=utc(event.occurred_at),
            value=value,
            lines=lines,
            reference=reference,
        )

    # --------------------------------------------------------------- backfill
    @api.model
    def _esp_backfill_profiles(self, backend, partners):
        """Profiles of a chunk of partners, one per email, with one SQL pass.

        Returns ``(profiles, errors)``; errors are ``(key, message)`` pairs for
        partners whose email cannot be used.
        """
        profiles, errors, seen = [], [], set()
        emails = [p.email_normalized for p in partners if p.email_normalized]
        commerce = self._esp_commerce_properties(backend, emails)
        lookups = self._esp_profile_lookups(backend, partners)
        for partner in partners:
            try:
                profile = self._esp_profile(
                    backend, partner, commerce=commerce, lookups=lookups
                )
            except EspError as err:
                errors.append((partner.email or partner.display_name, err.message))
                continue
            if profile.email not in seen:
                seen.add(profile.email)
                profiles.append(profile)
        return profiles, errors

    @api.model
    def _esp_backfill_orders(self, backend, orders):
        """Placed Order events of past orders, flagged so no flow fires."""
        events, errors = [], []
        partners = backend._esp_in_scope(orders.partner_id)
        orders = orders.filtered(lambda o: o.partner_id in partners)
        lookups = self._esp_order_lookups(backend, orders, partners)
        for order in orders:
            key = f"{order._name}:{order.id}:order_placed"
            try:
                snapshot = self._esp_order(backend, order, lookups)
            except EspError as err:
                errors.append((str(order.id), err.message))
                continue
            events.append(
                ev.OrderEvent(
                    kind=ev.EventKind.PLACED,
                    unique_id=self._esp_unique_id_for(key),
                    order=snapshot,
                    occurred_at=snapshot.placed_at,
                    value=snapshot.total,
                    lines=snapshot.lines,
                    backfill=True,
                )
            )
        return events, errors

    @api.model
    def _esp_unique_id_for(self, key):
        dbuuid = self.env["ir.config_parameter"].sudo().get_param("database.uuid", "")
        return f"odoo-{dbuuid[:8]}-{key}"

    @api.model
    def _esp_unique_id(self, event):
        """Deterministic event id: database, backend-independent record key."""
        return self._esp_unique_id_for(event.idempotency_key)
