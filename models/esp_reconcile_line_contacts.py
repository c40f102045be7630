# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Contacts only the ESP knows: one page of its list against Odoo's scope."""

from odoo import _, api, models
from odoo.tools.safe_eval import safe_eval


class EspReconcileLine(models.Model):
    _inherit = "esp.reconcile.line"

    @api.model
    def _esp_compare_extra_contacts(self, run, emails):
        """Lines for the ``emails`` (one page of the ESP's list) that are
        no in-scope partner of the backend."""
        backend = run.backend_id.sudo()
        emails = set(emails) - self._esp_ignored(backend, "contact_extra", "email")
        if not emails:
            return self
        people = self.env["res.partner"].sudo().with_context(active_test=False)
        own = self.env["res.company"].sudo().search([]).partner_id.ids
        domain = safe_eval(backend.partner_domain or "[]") + [
            ("company_id", "in", (False, backend.company_id.id)),
            ("id", "not in", own),
            ("email_normalized", "in", sorted(emails)),
            ("esp_erased_at", "=", False),
        ]
        known = backend._esp_in_scope(
            people.with_context(active_test=True).search(domain)
        )
        extra = emails - set(known.mapped("email_normalized"))
        anyone = people.search([("email_normalized", "in", sorted(extra))])
        vals_list = []
        for email in sorted(extra):
            partner = anyone.filtered(lambda p, e=email: p.email_normalized == e)[:1]
            if not partner:
                why = _("Unknown in Odoo")
            elif partner.esp_erased_at:
                why = _("Erased in Odoo: the ESP should not know them")
            elif not partner.active:
                why = _("Archived in Odoo")
            else:
                why = _("Out of this backend's scope in Odoo")
            vals_list.append(
                {
                    "reconcile_id": run.id,
                    "kind": "contact_extra",
                    "fix": "review",
                    "email": email,
                    "partner_id": partner.id,
                    "explanation": why,
                }
            )
        return self.sudo().create(vals_list)
