# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Audience routing: a partner who stops matching every rule leaves the
audience they were in (archived there, never in two audiences), and an
opt-out they made there is not lost: Odoo learns it first."""

import dataclasses

from odoo import _, api, fields, models

from ..providers import events as ev
from ..providers import get_adapter


class EspAudienceRuleLeave(models.Model):
    _inherit = "esp.audience.rule"

    @api.model
    def _esp_routed_adapter(self, backend, adapter, record):
        """As the base rule; a partner matching no rule is, in addition,
        archived from the audience they were in (at delivery, in the job)."""
        routed, skipped = super()._esp_routed_adapter(backend, adapter, record)
        if routed is None and record._name == "res.partner":
            rules = backend.audience_rule_ids
            if not rules._esp_rule_for(record.sudo()):
                left = self._esp_leave_audience(backend, adapter, record)
                skipped = left or skipped
        return routed, skipped

    @api.model
    def _esp_with_audience_move(self, backend, binding, adapter, values):
        """A contact synced before the backend had rules (or before this
        version) has no remembered audience: it was in the backend's own
        audience, and moves from there at its next sync."""
        list_id = backend.mailchimp_list_id
        if (
            backend.audience_rule_ids
            and isinstance(values, ev.Profile)
            and not binding.audience_id
            and binding.last_sync_at
            and list_id
            and list_id != adapter.settings.mailchimp_list_id
        ):
            return dataclasses.replace(values, moved_from=list_id)
        return super()._esp_with_audience_move(backend, binding, adapter, values)

    @api.model
    def _esp_leave_audience(self, backend, adapter, partner):
        """Archive ``partner`` from the audience they were last synced to;
        return what was done ('' when they were in none)."""
        binding = (
            self.env["esp.sync.binding"]
            .sudo()
            .search(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("stream", "=", "profile"),
                    ("audience_id", "!=", False),
                    ("external_id", "!=", False),
                ],
                limit=1,
            )
        )
        if not binding:
            return ""
        old_list = binding.audience_id
        settings = dataclasses.replace(adapter.settings, mailchimp_list_id=old_list)
        old = get_adapter(settings, transport=adapter.transport)
        result = old.leave_audience(binding.external_id)
        status = result.detail.get("status")
        if status in ("unsubscribed", "cleaned"):
            # An opt-out made in that audience: Odoo keeps it for any other.
            email = result.detail.get("email") or partner.email_normalized or ""
            self.env["res.partner"].sudo()._esp_apply_consent_updates(
                backend,
                [
                    ev.ConsentUpdate(
                        email=email,
                        status=status,
                        occurred_at=fields.Datetime.now(),
                        reason="left the audience",
                        provider_ref=old_list,
                    )
                ],
            )
        binding.write({"audience_id": False, "last_payload_hash": False})
        return _(
            "%(partner)s matches no audience rule any more: archived from "
            "the audience %(audience)s.",
            partner=partner.display_name,
            audience=old_list,
        )


class ResPartner(models.Model):
    _inherit = "res.partner"

    @api.model
    def _esp_keep_out_of_scope(self, backend, event_type, partner):
        """A person in an audience of ``backend`` who now matches none of
        its rules: their profile row is recorded so delivery archives them
        from that audience (see ``_esp_routed_adapter`` above)."""
        if super()._esp_keep_out_of_scope(backend, event_type, partner):
            return True
        rules = backend.audience_rule_ids
        if event_type != "profile" or not rules or partner.esp_erased_at:
            return False
        if rules._esp_filter(partner.sudo()):
            return False  # outside the backend's scope for another reason
        return bool(
            self.env["esp.sync.binding"]
            .sudo()
            .search_count(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "res.partner"),
                    ("res_id", "=", partner.id),
                    ("stream", "=", "profile"),
                    ("audience_id", "!=", False),
                ],
                limit=1,
            )
        )
