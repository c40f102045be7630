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

    def _esp_capture(self, event_type, backends=None, extra=None):
        """Record ``event_type`` for each record on each backend concerned.

        Runs in the user's transaction, as superuser whatever the user's ESP
        rights, and only inserts ledger rows (one statement) and asks for a
        wake-up after commit: no ESP is called here. ``extra``: per-record
        column values, ``{record id: {column: value}}``.
        """
        if not self or not self._esp_capturing():
            return 0
        records = self.sudo()
        return self.env["esp.sync.event"]._esp_record_many(
            records._esp_capture_entries(event_type, backends, extra)
        )

    def _esp_capture_entries(self, event_type, backends=None, extra=None):
        """The ledger entries of a capture: who hears about which record.

        One backend search per company and one scope evaluation per backend
        for all records: the cost does not grow per record.
        """
        backend_model = self.env["esp.backend"].sudo()
        stream = const.EVENT_STREAM[event_type]
        company_backends = {}
        targets = {}
        if backends is None:
            companies = self._esp_companies_of()
        for record in self:
            if backends is not None:
                candidates = backends.sudo()
            else:
                candidates = backend_model.browse()
                for company in companies[record.id]:
                    if company not in company_backends:
                        company_backends[company] = (
                            backend_model._esp_backends_for_company(company, stream)
                        )
                    candidates |= company_backends[company]
            for backend in candidates:
                targets.setdefault(backend, []).append(record)
        entries = []
        partner_of = {record.id: record._esp_partner() for record in self}
        everyone = self.env["res.partner"].sudo().union(*partner_of.values())
        # Whose companies: computed once for the whole capture.
        people_companies = (
            companies
            if backends is None and self._name == "res.partner"
            else everyone._esp_companies_of()
        )
        memo = {}
        for backend, records in targets.items():
            people = everyone.browse(
                sorted({partner_of[r.id].id for r in records if partner_of[r.id]})
            )
            synced = backend._esp_in_scope(people, people_companies, memo=memo)
            for record in records:
                partner = partner_of[record.id]
                if (
                    partner
                    and partner not in synced
                    and not self._esp_keep_out_of_scope(backend, event_type, partner)
                ):
                    continue
                entries.append(
                    (
                        backend,
                        event_type,
                        record,
                        record._esp_group(),
                        (extra or {}).get(record.id),
                    )
                )
        return entries

    @api.model
    def _esp_keep_out_of_scope(self, backend, event_type, partner):
        """Rows recorded although the person is outside the backend's scope.

        An opt-out or an email change must still reach every ESP that knows
        the person; an order of a customer without an email is recorded so
        that it fails visibly (a data exception) instead of vanishing.
        Nothing about a person erased at the ESPs ever leaves again.
        """
        if partner.esp_erased_at:
            return False
        if event_type in ("consent", "email_change"):
            return backend._esp_knows(partner)
        if event_type == "back_in_stock":
            return True  # the customer asked for it
        if const.EVENT_STREAM[event_type] in ("order", "fulfilment", "refund"):
            return not partner.email
        return False

    def _esp_companies_of(self):
        """``{record id: companies}`` whose backends hear about each record."""
        return {record.id: record._esp_companies() for record in self}

    def _esp_capture_with_profile(self, event_type, backends=None):
        """Record ``event_type`` and refresh the customer's profile at once.

        One ledger INSERT (and one flush) for both, where two captures
        would each flush and insert: the order confirmation's write path.
        """
        if not self or not self._esp_capturing():
            return 0
        records = self.sudo()
        entries = records._esp_capture_entries(event_type, backends)
        entries += records._esp_partner_profile_entries()
        return self.env["esp.sync.event"]._esp_record_many(entries)

    def _esp_capture_partner_profile(self):
        """Refresh the profile of each record's person on its company's backends.

        Orders, deliveries and credit notes change the commerce properties of
        their customer, on the backends of the document's company only.
        """
        if not self or not self._esp_capturing():
            return 0
        return self.env["esp.sync.event"]._esp_record_many(
            self.sudo()._esp_partner_profile_entries()
        )

    def _esp_partner_profile_entries(self):
        """The ledger entries of :meth:`_esp_capture_partner_profile`."""
        backend_model = self.env["esp.backend"].sudo()
        by_company = {}
        for record in self:
            partner = record._esp_partner()
            if partner and partner.email:
                by_company.setdefault(record._esp_company(), set()).add(partner.id)
        entries = []
        for company, partner_ids in by_company.items():
            entries += (
                self.env["res.partner"]
                .sudo()
                .browse(sorted(partner_ids))
                ._esp_capture_entries(
                    "profile",
                    backend_model._esp_backends_for_company(company, "profile"),
                )
            )
        return entries

    def action_esp_sync_now(self):
        """The form's Sync now button: deliver again, on every backend."""
        self._esp_check_sync_rights()
        self._esp_sync_now()
        return True

    def _esp_check_sync_rights(self):
        """Sync now is for ESP Sync managers (checked here, not by the view)."""
        self.env["esp.sync.delivery"]._esp_check_admin_or_manager()

    def _esp_sync_now(self, backend=None):
        """Retry what failed or waits in these records' ordering groups."""
        self._esp_check_sync_rights()
        groups = [
            f"{record._esp_group()._name},{record._esp_group().id}" for record in self
        ]
        domain = [("group_ref", "in", groups), ("state", "in", ("pending", "failed"))]
        if backend:
            domain.append(("backend_id", "=", backend.id))
        self.env["esp.sync.event"].sudo().search(domain).action_retry()
        return True

    def _esp_forget_payloads(self, backend=None):
        """Forget what was last sent, so the next delivery is not skipped."""
        domain = [("res_model", "=", self._name), ("res_id", "in", self.ids)]
        if backend:
            domain.append(("backend_id", "=", backend.id))
        self.env["esp.sync.binding"].sudo().search(domain).write(
            {"last_payload_hash": False}
        )
