# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Whether a confirmed order passes a release gate (see esp_backend_release)."""

from odoo import fields, models


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def _esp_release_ready(self, gate):
        """The orders of ``self`` that pass ``gate``."""
        check = {
            "reserved": SaleOrder._esp_stock_reserved,
            "paid": SaleOrder._esp_paid,
            "credit": SaleOrder._esp_no_credit_hold,
        }[gate]
        return self.filtered(check)

    def _esp_stock_reserved(self):
        """Every delivery reserved or done (services only: nothing to wait for)."""
        outgoing = self.picking_ids.filtered(
            lambda p: p.picking_type_code == "outgoing" and p.state != "cancel"
        )
        return all(p.state in ("assigned", "done") for p in outgoing)

    def _esp_paid(self):
        """Fully invoiced, and every posted invoice paid."""
        invoices = self.invoice_ids.filtered(
            lambda m: m.move_type == "out_invoice" and m.state == "posted"
        )
        return (
            self.invoice_status == "invoiced"
            and bool(invoices)
            and all(m.payment_state in ("paid", "in_payment") for m in invoices)
        )

    def _esp_no_credit_hold(self):
        """No overdue invoice, and within the credit limit where the company
        uses one (Odoo's own rule: receivable plus what is still to invoice)."""
        customer = self.partner_id.commercial_partner_id.sudo().with_company(
            self.company_id
        )
        today = fields.Date.context_today(self)
        overdue = (
            self.env["account.move"]
            .sudo()
            .search_count(
                [
                    ("commercial_partner_id", "=", customer.id),
                    ("company_id", "=", self.company_id.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "=", "posted"),
                    ("payment_state", "in", ("not_paid", "partial")),
                    ("invoice_date_due", "<", today),
                ],
                limit=1,
            )
        )
        if overdue:
            return False
        limit = customer.credit_limit
        if not (self.company_id.account_use_credit_limit and limit > 0):
            return True
        return customer.credit + customer.credit_to_invoice <= limit
