# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Turn Odoo records into the plain values adapters understand."""

import datetime

from odoo import _, api, models
from odoo.tools import SQL, email_normalize

from .. import const
from ..providers import EspError
from ..providers import events as ev
from ..providers.base import is_usable_email

RECENT_RETURN_DAYS = 30


def _utc(value):
    if not value:
        return None
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        value = datetime.datetime.combine(value, datetime.time())
    return value.replace(tzinfo=datetime.timezone.utc)


class EspSyncValues(models.AbstractModel):
    """Builds ``providers.events`` values from records, at delivery time."""

    _name = "esp.sync.values"
    _description = "ESP Sync Values Builder"

    @api.model
    def _esp_build(self, event, record):
        """Return the plain values for ``event`` or None if it was skipped."""
        backend = event.backend_id
        if event.event_type == "profile":
            return self._esp_profile(backend, record)
        if event.event_type == "consent":
            if backend.consent_master != "odoo":
                event._esp_mark_skipped(
                    _(
                        "%(provider)s owns subscription status for this backend.",
                        provider=backend.provider.title(),
                    )
                )
                return None
            return self._esp_consent(backend, record)
        if event.event_type in const.ORDER_EVENT_KIND:
            return self._esp_order_event(event, record)
        if event.event_type == "catalog":
            return self._esp_catalog_item(event, record)
        if event.event_type == "inventory":
            return self._esp_inventory(event, record)
        raise EspError(
            _("Events of type %(type)s are not delivered yet.", type=event.event_type),
            category="configuration",
        )

    # ----------------------------------------------------------------- people
    @api.model
    def _esp_email(self, partner):
        """The normalised email of ``partner``; a data EspError when unusable."""
        if not partner.email:
            raise EspError(
                _(
                    "%(name)s has no email address, so no ESP can identify them.",
                    name=partner.display_name,
                ),
                category="data",
                code="email_missing",
                field="email",
            )
        normalized = email_normalize(partner.email, strict=True)
        if not is_usable_email(normalized):
            raise EspError(
                _(
                    "The email address '%(email)s' of %(name)s is not valid.",
                    email=partner.email,
                    name=partner.display_name,
                ),
                category="data",
                code="email_invalid",
                field="email",
            )
        return normalized

    @api.model
    def _esp_canonical_partner(self, backend, email):
        """The oldest partner with ``email``: all of them feed one profile."""
        return (
            self.env["res.partner"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("email_normalized", "=", email),
                    ("company_id", "in", (False, backend.company_id.id)),
                ],
                order="id",
                limit=1,
            )
        )

    @api.model
    def _esp_external_id(self, backend, email):
        """Per-company external id: never shared across companies."""
        canonical = self._esp_canonical_partner(backend, email)
        return f"odoo-{backend.company_id.id}-{canonical.id}"

    @api.model
    def _esp_profile(self, backend, partner, commerce=None):
        """Profile of ``partner``; ``commerce`` holds precomputed properties."""
        email = self._esp_email(partner)
        if commerce is None:
            commerce = self._esp_commerce_properties(backend, [email])
        properties = dict(commerce.get(email, {}))
        properties.update(backend.mapping_ids._esp_values(partner))
        first, _sep, last = (partner.name or "").partition(" ")
        return ev.Profile(
            email=email,
            external_id=self._esp_external_id(backend, email),
            first_name=first if not partner.is_company else "",
            last_name=last if not partner.is_company else "",
            phone=partner.phone or partner.mobile or "",
            organization=partner.commercial_company_name or "",
            address=self._esp_address(partner),
            properties=properties,
            tags=tuple(partner.category_id.mapped("name")),
            customer_type="b2b" if partner.commercial_partner_id.is_company else "b2c",
            consent=self._esp_consent(backend, partner),
        )

    @api.model
    def _esp_address(self, partner):
        return ev.Address(
            street=partner.street or "",
            street2=partner.street2 or "",
            city=partner.city or "",
            zip=partner.zip or "",
            region=partner.state_id.name or "",
            country=partner.country_id.name or "",
            country_code=partner.country_id.code or "",
        )

    @api.model
    def _esp_consent(self, backend, partner):
        email = self._esp_email(partner)
        status = partner._esp_consent_status()
        return ev.Consent(
            email=email,
            external_id=self._esp_external_id(backend, email),
            status=ev.ConsentStatus(status),
            consented_at=_utc(partner.esp_consent_date),
            source=partner.esp_consent_source or backend.consent_source or "Odoo",
            suppressed=partner._esp_is_blacklisted(),
        )

    @api.model
    def _esp_commerce_properties(self, backend, emails):
        """Order count, net spend, first/last order, last refund, returns.

        One SQL aggregate per figure over every partner sharing each email,
        limited to the backend's company: no per-record Python loops.
        """
        result = {email: {} for email in emails}
        if not emails:
            return result
        company_id = backend.company_id.id
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, count(so.id), sum(so.amount_total),
                       min(so.date_order), max(so.date_order)
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                 WHERE p.email_normalized = ANY(%s) AND so.company_id = %s
                   AND so.state = 'sale'
                 GROUP BY p.email_normalized
                """,
                list(emails),
                company_id,
            )
        )
        for email, count, total, first, last in self.env.cr.fetchall():
            result[email].update(
                {
                    "Order Count": count,
                    "Total Spend": float(total or 0.0),
                    "First Order Date": first.isoformat() if first else None,
                    "Last Order Date": last.isoformat() if last else None,
                }
            )
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, sum(m.amount_total), max(m.invoice_date)
                  FROM account_move m
                  JOIN res_partner p ON p.id = m.partner_id
                 WHERE p.email_normalized = ANY(%s) AND m.company_id = %s
                   AND m.move_type = 'out_refund' AND m.state = 'posted'
                 GROUP BY p.email_normalized
                """,
                list(emails),
                company_id,
            )
        )
        for email, refunded, last_refund in self.env.cr.fetchall():
            props = result[email]
            props["Total Refunded"] = float(refunded or 0.0)
            props["Total Spend"] = props.get("Total Spend", 0.0) - float(refunded or 0)
            props["Last Refund Date"] = last_refund.isoformat() if last_refund else None
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, max(sp.date_done)
                  FROM stock_picking sp
                  JOIN res_partner p ON p.id = sp.partner_id
                  JOIN stock_location src ON src.id = sp.location_id
                 WHERE p.email_normalized = ANY(%s) AND sp.company_id = %s
                   AND sp.state = 'done' AND src.usage = 'customer'
                 GROUP BY p.email_normalized
                """,
                list(emails),
                company_id,
            )
        )
        now = datetime.datetime.now()
        for email, returned_at in self.env.cr.fetchall():
            recent = bool(
                returned_at
                and now - returned_at < datetime.timedelta(days=RECENT_RETURN_DAYS)
            )
            result[email]["Recently Returned"] = recent
            result[email]["Last Return Date"] = returned_at.isoformat()
        for props in result.values():
            if props:
                props.setdefault("Recently Returned", False)
        return result

    # ----------------------------------------------------------------- orders
    @api.model
    def _esp_order(self, backend, order):
        """Snapshot of ``order`` with its refunds and fulfilment status."""
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
        outgoing = order.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state != "cancel"
        )
        done = outgoing.filtered(lambda p: p.state == "done")
        fulfilment = ""
        if done:
            fulfilment = "shipped" if done == outgoing else "partial"
        lines = tuple(
            self._esp_line(line, line.product_uom_qty, line.price_total)
            for line in order.order_line
            if not line.display_type and line.product_id
        )
        return ev.Order(
            order_id=str(order.id),
            name=order.name,
            email=email,
            external_id=self._esp_external_id(backend, email),
            placed_at=_utc(order.date_order),
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
        )

    @api.model
    def _esp_line(self, sale_line, quantity, total, line_id=None):
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
                base, product, "image_variant_1920", "image_variant_1024"
            )
            or self._esp_image_url(
                base, product.product_tmpl_id, "image_1920", "image_1024"
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
            event._esp_mark_skipped(
                _("%(name)s is linked to no sale order.", name=record.display_name)
            )
            return None
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
            occurred_at=_utc(event.occurred_at),
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
        for partner in partners:
            try:
                profile = self._esp_profile(backend, partner, commerce=commerce)
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
        partners = backend._esp_sync_partners(orders.partner_id)
        for order in orders.filtered(lambda o: o.partner_id in partners):
            key = f"{order._name}:{order.id}:order_placed"
            try:
                snapshot = self._esp_order(backend, order)
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

    # -------------------------------------------------------------- catalogue
    @api.model
    def _esp_catalog_item(self, event, template):
        """The catalogue item of ``template`` with its variants, or None.

        A template no longer sold (archived, outside the backend's product
        domain) that reached the ESP before is sent with no stock, so feeds
        and back-in-stock flows stop offering it.
        """
        backend = event.backend_id
        sold = template.active and bool(backend._esp_sync_products(template))
        if not sold and not self._esp_catalog_synced(backend, template):
            event._esp_mark_skipped(
                _("%(name)s is not sold online.", name=template.display_name)
            )
            return None
        template = template.with_context(
            allowed_company_ids=backend.company_id.ids, active_test=False
        )
        base = template.get_base_url()
        variants = template.product_variant_ids.with_context(display_default_code=False)
        return ev.CatalogItem(
            external_id=str(template.id),
            title=template.name,
            description=template.description_sale or "",
            url=self._esp_product_url(base, template)
            or f"{base}/odoo/product.template/{template.id}",
            image_url=self._esp_image_url(base, template, "image_1920", "image_1024"),
            price=template.list_price,
            currency=template.currency_id.name,
            sku=template.default_code or "",
            variants=tuple(
                ev.CatalogVariant(
                    external_id=str(variant.id),
                    sku=variant.default_code or "",
                    title=variant.display_name,
                    price=variant.lst_price,
                    inventory_quantity=self._esp_quantity(variant, sold),
                    url=self._esp_product_url(base, variant),
                    image_url=self._esp_image_url(
                        base, variant, "image_variant_1920", "image_variant_1024"
                    ),
                )
                for variant in variants
            ),
            categories=tuple(template.categ_id.mapped("name")),
        )

    @api.model
    def _esp_inventory(self, event, variant):
        """The quantity of one variant whose stock moved, as a one-item list."""
        backend = event.backend_id
        template = variant.product_tmpl_id
        synced_at = self._esp_catalog_synced(backend, template)
        if not synced_at:
            # The item is not at the ESP yet: send it whole, with its stock.
            template._esp_capture("catalog", backend)
            event._esp_mark_skipped(
                _("The catalogue item is not at the ESP yet; it carries the stock.")
            )
            return None
        if synced_at > event.occurred_at:
            event._esp_mark_skipped(
                _("The catalogue item sent after this change carried the stock.")
            )
            return None
        sold = template.active and bool(backend._esp_sync_products(template))
        variant = variant.with_context(allowed_company_ids=backend.company_id.ids)
        return [
            ev.InventoryLevel(
                variant_external_id=str(variant.id),
                sku=variant.default_code or "",
                quantity=self._esp_quantity(variant, sold),
            )
        ]

    @api.model
    def _esp_catalog_synced(self, backend, template):
        """When ``template`` last reached ``backend`` (None if it never did)."""
        binding = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", template._name),
                    ("res_id", "=", template.id),
                    ("last_sync_at", "!=", False),
                ],
                limit=1,
            )
        )
        return binding.last_sync_at or None

    @api.model
    def _esp_quantity(self, variant, sold=True):
        """Quantity on hand in the backend's company; none when not sold."""
        if not sold or not variant.active:
            return 0.0
        if not variant.is_storable:
            # Stock is not tracked: always available, never hidden from feeds.
            return const.UNTRACKED_INVENTORY_QUANTITY
        return max(variant.qty_available, 0.0)

    @api.model
    def _esp_product_url(self, base, product):
        """The shop page of ``product`` when the website sells it, else ''."""
        path = product.website_url if "website_url" in product._fields else ""
        if not path:
            return ""
        return path if path.startswith("http") else f"{base}{path}"

    @api.model
    def _esp_image_url(self, base, record, field, size_field):
        """Public URL of ``record``'s image, versioned by its checksum, or ''."""
        # The attachment says whether there is an image without reading it.
        attachment = (
            self.env["ir.attachment"]
            .sudo()
            .search(
                [
                    ("res_model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("res_field", "=", field),
                ],
                limit=1,
            )
        )
        if not attachment:
            return ""
        unique = f"?unique={attachment.checksum[:8]}" if attachment.checksum else ""
        return f"{base}/web/image/{record._name}/{record.id}/{size_field}{unique}"
