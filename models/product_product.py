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
            for variant in self.filtered(lambda p, t=templates: p.product_tmpl_id in t):
                variant._esp_capture("inventory", backend)

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

    def _esp_sync_now(self, backend=None):
        return self.product_tmpl_id._esp_sync_now(backend)
