# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .. import const


class EspSyncMixin(models.AbstractModel):
    """Change capture and sync status shared by the synced business models."""

    _name = "esp.sync.mixin"
    _description = "ESP Sync Capture Mixin"

    esp_sync_state = fields.Selection(
        [
            ("none", "Not synced"),
            ("pending", "Pending"),
            ("synced", "Synced"),
            ("failed", "Failed"),
        ],
        "ESP sync",
        compute="_compute_esp_sync_state",
    )

    def _compute_esp_sync_state(self):
        bindings = (
            self.env["esp.sync.binding"]
            .sudo()
            .search([("res_model", "=", self._name), ("res_id", "in", self.ids)])
        )
        for record in self:
            states = set(
                bindings.filtered(lambda b, r=record: b.res_id == r.id).mapped("state")
            )
            record.esp_sync_state = next(
                (s for s in ("failed", "pending", "synced") if s in states), "none"
            )

    def _esp_partner(self):
        """The person this record is about (override)."""
        return self.env["res.partner"]

    def _esp_group(self):
        """The record whose events must stay in order with this one's."""
        return self

    def _esp_company(self):
        return self.company_id if "company_id" in self._fields else self.env.company

    def _esp_companies(self):
        """Companies whose backends hear about this record (override)."""
        return self._esp_company()

    @api.model
    def _esp_capturing(self):
        return not self.env.context.get(const.NO_CAPTURE)

    def _esp_capture(self, event_type, backends=None):
        """Record ``event_type`` for each record on each backend concerned.

        Runs in the user's transaction and only writes ledger rows and
        enqueues jobs: no ESP is called here.
        """
        if not self._esp_capturing():
            return
        ledger = self.env["esp.sync.event"]
        backend_model = self.env["esp.backend"]
        stream = const.EVENT_STREAM[event_type]
        # Which backends hear about which records: one backend search per
        # company, then one domain evaluation per backend for all records.
        company_backends = {}
        targets = {}
        for record in self:
            candidates = backends
            if candidates is None:
                candidates = backend_model.browse()
                for company in record._esp_companies():
                    if company not in company_backends:
                        company_backends[company] = (
                            backend_model._esp_backends_for_company(company, stream)
                        )
                    candidates |= company_backends[company]
            for backend in candidates:
                targets.setdefault(backend, []).append(record)
        for backend, records in targets.items():
            people = self.env["res.partner"].union(
                *(record._esp_partner() for record in records)
            )
            synced = backend._esp_sync_partners(people)
            for record in records:
                partner = record._esp_partner()
                if partner and partner not in synced:
                    # An opt-out must still reach every ESP that knows the
                    # person, even once they left the sync domain.
                    if event_type != "consent" or not backend._esp_knows(partner):
                        continue
                ledger._esp_record(backend, event_type, record, record._esp_group())

    def _esp_capture_partner_profile(self):
        """Refresh the profile of each record's person on its company's backends.

        Orders, deliveries and credit notes change the commerce properties of
        their customer, on the backends of the document's company only.
        """
        backend_model = self.env["esp.backend"]
        for record in self:
            partner = record._esp_partner()
            if partner:
                partner._esp_capture(
                    "profile",
                    backend_model._esp_backends_for_company(
                        record._esp_company(), "profile"
                    ),
                )

    def action_esp_sync_now(self):
        """The form's Sync now button: deliver again, on every backend."""
        self._esp_sync_now()
        return True

    def _esp_sync_now(self, backend=None):
        """Queue a fresh delivery of these records (override)."""
        raise NotImplementedError

    def _esp_forget_payloads(self, backend=None):
        """Forget what was last sent, so the next delivery is not skipped."""
        domain = [("res_model", "=", self._name), ("res_id", "in", self.ids)]
        if backend:
            domain.append(("backend_id", "=", backend.id))
        self.env["esp.sync.binding"].sudo().search(domain).write(
            {"last_payload_hash": False}
        )
