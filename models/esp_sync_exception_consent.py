# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent exceptions close only once their own failed rows went through.

Email and SMS consent share the consent stream but travel in two ordering
groups: an email opt-in delivered must not close the exception of an SMS
opt-in still failing on a bad mobile number (nor the reverse).
"""

from odoo import api, models


class EspSyncException(models.Model):
    _inherit = "esp.sync.exception"

    @api.model
    def _esp_resolve(self, backend, record, stream=None):
        if stream != "consent":
            return super()._esp_resolve(backend, record, stream)
        waiting = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("stream", "=", "consent"),
                ("state", "=", "open"),
                ("event_ids", "any", [("state", "=", "failed")]),
            ]
        )
        if not waiting:
            return super()._esp_resolve(backend, record, stream)
        return (
            self.sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", record._name),
                    ("res_id", "=", record.id),
                    ("stream", "=", "consent"),
                    ("state", "=", "open"),
                    ("id", "not in", waiting.ids),
                ]
            )
            .write({"state": "resolved"})
        )
