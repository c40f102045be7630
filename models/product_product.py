# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from .. import const


class ProductProduct(models.Model):
    _name = "product.product"
    _inherit = ["product.product", "esp.sync.mixin"]

    def _esp_company(self):
        return self.company_id

    def _esp_group(self):
        # Inventory waits behind its template's catalogue item (which must exist).
        return self.product_tmpl_id

    def _esp_capture_inventory(self, company):
        """Record an inventory update of each variant for ``company``'s backends.

        Only the variants given (those whose stock moved) are recorded: the
        ESP gets deltas for them, never a full feed. Pending updates of one
        variant coalesce; the quantity is read at delivery time.
        """
        if not self or not self._esp_capturing():
            return
        backends = self.env["product.template"]._esp_catalog_backends(company)
        for backend in backends:
            templates = backend._esp_sync_products(self.product_tmpl_id)
            variants = self.filtered(lambda p, t=templates: p.product_tmpl_id in t)
            back = variants._esp_back_in_stock(backend, company)
            variants._esp_capture(
                "inventory",
                backend,
                extra={variant.id: {"urgent": True} for variant in back},
            )

    def _esp_back_in_stock(self, backend, company):
        """The variants of ``self`` the ESP last saw sold out that a customer
        can buy again: their update overtakes bulk work (back-in-stock
        flows must fire within seconds)."""
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "product.product"),
                    ("res_id", "in", self.ids),
                    ("stream", "=", "catalog"),
                    ("last_quantity_sent", "<=", 0),
                    ("last_sync_at", "!=", False),
                ]
            )
        )
        sold_out = self.browse(bindings.mapped("res_id")).with_company(company)
        return sold_out.filtered(lambda p: p.is_storable and p.free_qty > 0)

    # ------------------------------------------------------------------ capture
    @api.model_create_multi
    def create(self, vals_list):
        variants = super().create(vals_list)
        variants.product_tmpl_id._esp_capture_catalog()
        return variants

    def write(self, vals):
        result = super().write(vals)
        if const.CATALOG_VARIANT_FIELDS & set(vals):
            self.product_tmpl_id._esp_capture_catalog()
        return result

    def unlink(self):
        # A variant deleted from a template still sold: removed at the ESPs
        # (captured before it is gone), then the item is sent again without
        # it. The template's own deletion is captured by the template.
        templates = self.product_tmpl_id
        self._esp_capture_variant_removal()
        result = super().unlink()
        templates.exists()._esp_capture_catalog()
        return result

    def _esp_capture_variant_removal(self):
        """Record a catalogue removal of each variant of ``self`` whose
        template keeps other variants and is at some ESP."""
        if not self or not self._esp_capturing():
            return
        kept = self.filtered(
            lambda v: v.product_tmpl_id.with_context(
                active_test=False
            ).product_variant_ids
            - self
        )
        if not kept:
            return
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("res_model", "=", "product.template"),
                    ("res_id", "in", kept.product_tmpl_id.ids),
                    ("last_sync_at", "!=", False),
                    ("backend_id.sync_catalog", "=", True),
                ]
            )
        )
        for backend in bindings.backend_id:
            synced = set(
                bindings.filtered(lambda r, b=backend: r.backend_id == b).mapped(
                    "res_id"
                )
            )
            kept.filtered(lambda v, s=synced: v.product_tmpl_id.id in s)._esp_capture(
                "catalog", backend
            )

    def _esp_sync_now(self, backend=None):
        return self.product_tmpl_id._esp_sync_now(backend)
