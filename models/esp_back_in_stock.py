# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Back-in-stock requests registered at the ESP for a customer.

Sales staff (a button on the product) or a web shop (the RPC method
``product.product.esp_subscribe_back_in_stock``) ask for a customer to be
told when a variant is back; each request is a record delivered like any
change (a ledger row, a job, never HTTP in the user's transaction) to the
backends with the catalogue on whose ESP keeps such lists (Klaviyo).
"""

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

# Providers with a back-in-stock subscription API.
PROVIDERS = ("klaviyo",)


class EspBackInStock(models.Model):
    _name = "esp.back.in.stock"
    _description = "Back-in-stock request"
    _inherit = ["esp.sync.mixin"]
    _order = "id desc"

    partner_id = fields.Many2one(
        "res.partner", required=True, ondelete="cascade", index=True
    )
    product_id = fields.Many2one(
        "product.product", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one("res.company", required=True, index=True)

    def _esp_partner(self):
        return self.partner_id

    @api.depends("partner_id", "product_id")
    def _compute_display_name(self):
        for request in self:
            request.display_name = _(
                "%(partner)s waits for %(product)s",
                partner=request.partner_id.display_name,
                product=request.product_id.display_name,
            )

    @api.model
    def _esp_request(self, partner, products):
        """Record and queue one request per variant for the company's ESPs."""
        company = self.env.company
        backends = (
            self.env["esp.backend"]
            .sudo()
            ._esp_backends_for_company(company, "catalog")
            .filtered(lambda b: b.provider in PROVIDERS)
        )
        if not backends:
            raise UserError(
                _(
                    "No email platform of %(company)s with the catalogue switched "
                    "on keeps back-in-stock lists (Klaviyo does).",
                    company=company.name,
                )
            )
        if not partner.email:
            raise UserError(_("%s has no email address.", partner.display_name))
        requests = self.sudo().create(
            [
                {"partner_id": partner.id, "product_id": p.id, "company_id": company.id}
                for p in products
            ]
        )
        requests._esp_capture("back_in_stock", backends)
        return requests


class ProductProduct(models.Model):
    _inherit = "product.product"

    def esp_subscribe_back_in_stock(self, partner_id):
        """RPC for a web shop: tell ``partner_id`` when these variants are
        back in stock (through the company's ESP). Returns the request ids."""
        if not self.env.user.has_group("base.group_user"):
            raise AccessError(_("Only internal users may register requests."))
        partner = self.env["res.partner"].browse(partner_id).exists()
        partner.check_access("read")
        return self.env["esp.back.in.stock"]._esp_request(partner, self).ids


class EspBackInStockWizard(models.TransientModel):
    _name = "esp.back.in.stock.wizard"
    _description = "Tell a customer when a product is back"

    product_id = fields.Many2one("product.product", required=True)
    partner_id = fields.Many2one("res.partner", "Customer", required=True)

    def action_confirm(self):
        self.ensure_one()
        self.product_id.esp_subscribe_back_in_stock(self.partner_id.id)
        return {"type": "ir.actions.act_window_close"}
