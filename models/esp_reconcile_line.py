# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""One difference a reconciliation found, and what fixes it."""

import datetime

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..providers import EspError
from ..providers import events as ev

# Commerce figures compared besides names and the mapped properties (dates
# are stored differently by each ESP: not compared).
COMPARED_FIGURES = ("Order Count", "Total Spend", "Total Refunded")
KINDS = [
    ("missing", "Missing at the ESP"),
    ("consent", "Consent differs"),
    ("field", "Field differs"),
]
FIXES = [
    ("repush", "Re-push from Odoo"),
    ("accept_esp", "Accept the ESP's opt-out"),
]


class EspReconcileLine(models.Model):
    _name = "esp.reconcile.line"
    _description = "ESP reconciliation difference"
    _order = "reconcile_id desc, kind, id"

    reconcile_id = fields.Many2one(
        "esp.reconcile", required=True, ondelete="cascade", index=True
    )
    backend_id = fields.Many2one(related="reconcile_id.backend_id", store=True)
    company_id = fields.Many2one(related="reconcile_id.company_id", store=True)
    partner_id = fields.Many2one("res.partner", ondelete="cascade", index=True)
    email = fields.Char()
    kind = fields.Selection(KINDS, required=True, index=True)
    field_name = fields.Char("Field")
    odoo_value = fields.Char("In Odoo")
    esp_value = fields.Char("At the ESP")
    fix = fields.Selection(FIXES, required=True)
    explanation = fields.Char()
    state = fields.Selection(
        [("open", "Open"), ("fixed", "Fixed"), ("ignored", "Ignored")],
        default="open",
        required=True,
        index=True,
    )
    ignore_reason = fields.Char()

    # ---------------------------------------------------------------- compare
    @api.model
    def _esp_compare_chunk(self, run, partners):
        """Read ``partners`` at the ESP and create a line per difference."""
        backend = run.backend_id.sudo()
        values = self.env["esp.sync.values"]
        emails = {}
        for partner in partners:
            try:
                emails[partner] = values._esp_email(partner)
            except EspError:
                continue  # an invalid address is a sync exception already
        commerce = values._esp_commerce_properties(backend, list(emails.values()))
        # One look-up per chunk (ids, blacklist, consent sent), as the backfill.
        lookups = values._esp_profile_lookups(backend, partners)
        names = list(COMPARED_FIGURES) + backend.mapping_ids.mapped("esp_property")
        adapter = backend._esp_adapter()
        groups = self.env["esp.audience.rule"]._esp_audience_groups(
            backend, adapter, self.env["res.partner"].union(*emails)
        )
        vals_list = []
        for group_adapter, group in groups:
            group_emails = [emails[p] for p in group]
            remote = group_adapter.read_profiles(group_emails, names)
            for partner in group:
                expected = values._esp_profile(
                    backend, partner, commerce=commerce, lookups=lookups
                )
                vals_list += self._esp_differences(
                    run, backend, partner, expected, remote.get(emails[partner]), names
                )
        return self.sudo().create(vals_list)

    @api.model
    def _esp_differences(self, run, backend, partner, expected, remote, names):
        base = {
            "reconcile_id": run.id,
            "partner_id": partner.id,
            "email": expected.email,
        }
        if remote is None:
            known = partner.esp_binding_ids.filtered(
                lambda b: b.backend_id == backend and b.last_sync_at
            )
            return [
                dict(
                    base,
                    kind="missing",
                    fix="repush",
                    explanation=_("Deleted at the ESP, or never received")
                    if known
                    else _("Never sent"),
                )
            ]
        lines = self._esp_consent_difference(backend, partner, expected.consent, remote)
        lines = [dict(base, **line) for line in lines]
        wanted = {"first_name": expected.first_name, "last_name": expected.last_name}
        wanted.update({n: expected.properties.get(n) for n in names})
        found = {"first_name": remote.first_name, "last_name": remote.last_name}
        found.update(remote.properties)
        for name, odoo_value in wanted.items():
            esp_value = found.get(name)
            if not _same(odoo_value, esp_value):
                lines.append(
                    dict(
                        base,
                        kind="field",
                        fix="repush",
                        field_name=name,
                        odoo_value=_text(odoo_value),
                        esp_value=_text(esp_value),
                    )
                )
        return lines

    @api.model
    def _esp_consent_difference(self, backend, partner, consent, remote):
        """Withdrawals win from either side; opt-ins follow the master."""
        odoo_out = consent.suppressed or consent.status == ev.ConsentStatus.UNSUBSCRIBED
        odoo_in = consent.status == ev.ConsentStatus.SUBSCRIBED and not odoo_out
        esp_out = remote.consent in ("unsubscribed", "suppressed")
        line = {
            "kind": "consent",
            "field_name": _("Email marketing"),
            "odoo_value": consent.status.value
            + (" (blacklisted)" * consent.suppressed),
            "esp_value": remote.consent,
        }
        if odoo_out and remote.consent == "subscribed":
            return [dict(line, fix="repush", explanation=_("Push the opt-out"))]
        if odoo_in and esp_out:
            update = ev.ConsentUpdate(
                email=remote.email,
                status=remote.consent,
                occurred_at=datetime.datetime.now(datetime.timezone.utc),
            )
            ours = self.env["esp.sync.delivery"]._esp_opt_out_is_ours(
                backend, partner, update
            )
            if ours:
                return [dict(line, fix="repush", explanation=_("Opt-in not delivered"))]
            return [dict(line, fix="accept_esp", explanation=_("Opted out at the ESP"))]
        if odoo_in and remote.consent == "never" and backend.consent_master == "odoo":
            return [dict(line, fix="repush", explanation=_("Opt-in not delivered"))]
        return []

    # ---------------------------------------------------------------- actions
    def _esp_check_rights(self):
        if not self.env.user.has_group("esp_sync.group_esp_sync_manager"):
            raise AccessError(_("Only ESP Sync managers can fix differences."))

    def action_fix(self):
        """Apply each open line's fix (in bulk from the list)."""
        self._esp_check_rights()
        lines = self.sudo().filtered(lambda line: line.state == "open")
        for backend in lines.backend_id:
            mine = lines.filtered(lambda line, b=backend: line.backend_id == b)
            accept = mine.filtered(lambda line: line.fix == "accept_esp")
            reason = self.env._("Reconciliation")
            updates = [
                ev.ConsentUpdate(
                    email=line.email,
                    status=line.esp_value,
                    occurred_at=datetime.datetime.now(datetime.timezone.utc),
                    reason=reason,
                )
                for line in accept
            ]
            self.env["res.partner"].with_context(
                esp_consent_source="esp_read"
            )._esp_apply_consent_updates(backend, updates)
            (mine - accept).partner_id._esp_sync_now(backend)
        lines.write({"state": "fixed"})
        return True

    def action_ignore(self, reason=None):
        self._esp_check_rights()
        self.sudo().filtered(lambda line: line.state == "open").write(
            {"state": "ignored", "ignore_reason": reason or _("Ignored")}
        )
        return True


def _text(value):
    return "" if value in (None, False) else str(value)


def _same(odoo_value, esp_value):
    """Equal once the ESP's text forms are read back (numbers as text)."""
    if _text(odoo_value) == _text(esp_value):
        return True
    try:
        return abs(float(odoo_value) - float(esp_value)) < 0.005
    except (TypeError, ValueError):
        return False
