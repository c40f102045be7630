# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models


class EspSyncMixin(models.AbstractModel):
    """Rights on the synced records: company rules hold on the server too."""

    _inherit = "esp.sync.mixin"

    # What a user sees depends on who they are and which companies they work in.
    esp_sync_state = fields.Selection(depends_context=("uid", "allowed_company_ids"))

    def _esp_check_sync_rights(self):
        """Sync now: ESP Sync managers, on records they may read (an id of
        another company's order sent over RPC is refused, not resent)."""
        result = super()._esp_check_sync_rights()
        if not self.env.su:
            self.check_access("read")
        return result

    def _compute_esp_sync_state(self):
        """The sync state the user's companies' backends report, no other:
        a company-B user never sees company A's failures."""
        bindings = self.env["esp.sync.binding"].sudo()
        domain = [("res_model", "=", self._name), ("res_id", "in", self.ids)]
        if not self.env.su:
            domain.append(("company_id", "in", self.env.companies.ids))
        found = bindings.search(domain)
        for record in self:
            states = set(
                found.filtered(lambda b, r=record: b.res_id == r.id).mapped("state")
            )
            record.esp_sync_state = next(
                (s for s in ("failed", "pending", "synced") if s in states), "none"
            )
