# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Plain values of catalogue items and inventory levels."""

from odoo import _, api, models

from .. import const
from ..providers import events as ev
from .esp_sync_values import EspSkip


class EspSyncValuesCatalog(models.AbstractModel):
    _inherit = "esp.sync.values"

    # -------------------------------------------------------------- catalogue
    @api.model
    def _esp_catalog_item(self, event, template):
        """The catalogue item of ``template`` with its variants, or its removal.

        A template no longer sold (archived, every variant archived, outside
        the backend's product domain) that reached the ESP before is removed
        from the ESP's catalogue; sold again, it is sent whole. An archived
        variant of a template still sold goes with no stock.
        """
        backend = event.backend_id
        sold = self._esp_catalog_sold(backend, template)
        if not sold:
            if not self._esp_catalog_synced(backend, template):
                raise EspSkip(
                    _("%(name)s is not sold online.", name=template.display_name)
                )
            return ev.CatalogRemoval(
                external_id=str(template.id), title=template.name or ""
            )
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
            raise EspSkip(
                _("The catalogue item is not at the ESP yet; it carries the stock."),
                capture=(template, "catalog"),
            )
        if synced_at > event.occurred_at:
            raise EspSkip(
                _("The catalogue item sent after this change carried the stock.")
            )
        sold = self._esp_catalog_sold(backend, template)
        variant = variant.with_context(allowed_company_ids=backend.company_id.ids)
        return [
            ev.InventoryLevel(
                variant_external_id=str(variant.id),
                product_external_id=str(template.id),
                sku=variant.default_code or "",
                quantity=self._esp_quantity(variant, sold),
            )
        ]

    @api.model
    def _esp_catalog_sold(self, backend, template):
        """Whether ``backend``'s catalogue offers ``template``: active, with
        an active variant, inside the backend's product domain."""
        return bool(
            template.active
            and template.product_variant_ids
            and backend._esp_sync_products(template)
        )

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
        """What a customer can buy now in the backend's company (available to
        promise: on hand minus what is reserved for other orders, over the
        company's warehouses); none when not sold."""
        if not sold or not variant.active:
            return 0.0
        if not variant.is_storable:
            # Stock is not tracked: always available, never hidden from feeds.
            return const.UNTRACKED_INVENTORY_QUANTITY
        return max(variant.free_qty, 0.0)

    @api.model
    def _esp_product_url(self, base, product):
        """The shop page of ``product`` when the website sells it, else ''."""
        path = product.website_url if "website_url" in product._fields else ""
        if not path:
            return ""
        return path if path.startswith("http") else f"{base}{path}"

    @api.model
    def _esp_image_url(self, base, record, field, size_field, images=None):
        """Public URL of ``record``'s image, versioned by its checksum, or '';
        ``images``: a chunk's checksums (``_esp_image_checksums``)."""
        if images is not None:
            checksum = images.get((record._name, record.id, field))
            if checksum is None:
                return ""
            unique = f"?unique={checksum[:8]}" if checksum else ""
            return f"{base}/web/image/{record._name}/{record.id}/{size_field}{unique}"
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
