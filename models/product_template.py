# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models

from .. import const


class ProductTemplate(models.Model):
    _name = "product.template"
    _inherit = ["product.template", "esp.sync.mixin"]

    def _esp_company(self):
        return self.company_id

    @api.model
    def _esp_catalog_backends(self, company=None):
        """Active backends syncing the catalogue, of ``company`` or of all."""
        domain = [("sync_catalog", "=", True)]
        if company:
            domain.append(("company_id", "=", company.id))
        return self.env["esp.backend"].sudo().search(domain)

    def _esp_capture_catalog(self):
        """Record a catalogue refresh of each template for the backends concerned.

        A shared product (no company) goes to every company's backends. A
        template leaving a backend's domain (archived, no longer sold) is
        still sent once if it was synced, so the ESP stops offering it.
        """
        if not self or not self._esp_capturing():
            return
        backends = self._esp_catalog_backends()
        if not backends:
            return
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("backend_id", "in", backends.ids),
                ]
            )
        )
        for backend in backends:
            templates = self.filtered(
                lambda t, b=backend: not t.company_id or t.company_id == b.company_id
            )
            synced = templates.browse(
                bindings.filtered(lambda r, b=backend: r.backend_id == b).mapped(
                    "res_id"
                )
            )
            for template in backend._esp_sync_products(templates) | (
                templates & synced
            ):
                template._esp_capture("catalog", backend)

    # ------------------------------------------------------------------ capture
    @api.model_create_multi
    def create(self, vals_list):
        templates = super().create(vals_list)
        templates._esp_capture_catalog()
        return templates

    def write(self, vals):
        result = super().write(vals)
        if const.CATALOG_TEMPLATE_FIELDS & set(vals):
            self._esp_capture_catalog()
        return result

    def unlink(self):
        # Captured before the record is gone: delivery removes the item from
        # the ESPs that have it, from the ledger row alone.
        self._esp_capture_removal()
        return super().unlink()

    def _esp_capture_removal(self):
        """Record a catalogue removal of each template an ESP has."""
        if not self or not self._esp_capturing():
            return
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("res_model", "=", self._name),
                    ("res_id", "in", self.ids),
                    ("last_sync_at", "!=", False),
                    ("backend_id.sync_catalog", "=", True),
                ]
            )
        )
        for backend in bindings.backend_id:
            synced = self.browse(
                bindings.filtered(lambda r, b=backend: r.backend_id == b).mapped(
                    "res_id"
                )
            )
            synced._esp_capture("catalog", backend)

    def _esp_sync_now(self, backend=None):
        """Send the catalogue item again, even if nothing changed."""
        self._esp_check_sync_rights()
        self._esp_forget_payloads(backend)
        if backend:
            for template in self:
                template._esp_capture("catalog", backend)
        else:
            self._esp_capture_catalog()
        return True
