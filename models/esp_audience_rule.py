# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import dataclasses

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools.safe_eval import safe_eval

from ..providers import events as ev
from ..providers import get_adapter
from . import esp_field_policy as field_policy


class EspAudienceRule(models.Model):
    """Which Mailchimp audience (and store) a partner syncs to.

    The rules of a backend are read in sequence; a partner goes to the
    audience of the first rule it matches. When a backend has rules, a
    partner matching none of them never reaches the ESP.
    """

    _name = "esp.audience.rule"
    _description = "ESP Audience Routing Rule"
    _order = "backend_id, sequence, id"
    _check_company_auto = True

    sequence = fields.Integer(default=10)
    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    backend_id = fields.Many2one(
        "esp.backend", required=True, ondelete="cascade", index=True
    )
    company_id = fields.Many2one(
        related="backend_id.company_id", store=True, index=True
    )
    company_type = fields.Selection(
        [
            ("any", "Any"),
            ("b2b", "Business (B2B)"),
            ("b2c", "Individual (B2C)"),
        ],
        default="any",
        required=True,
        help="B2B: companies and the contacts of a company. B2C: individuals.",
    )
    category_ids = fields.Many2many(
        "res.partner.category",
        string="Partner tags",
        help="Partners with at least one of these tags (any partner when empty).",
    )
    partner_domain = fields.Char(
        help="Optional extra condition on the partner, on top of the backend's."
    )
    list_id = fields.Char(
        "Audience id", required=True, help="The Mailchimp audience (list) id."
    )
    store_id = fields.Char(
        "Store id",
        help="The e-commerce store of this audience. Without one, the orders "
        "of these partners are not sent.",
    )

    # ------------------------------------------------------------ constraints
    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for rule in self.filtered("partner_domain"):
            # Evaluated as superuser: only public contact and commerce fields
            # may decide, or routing would tell what a manager cannot read.
            error = field_policy.domain_error(
                self.env["res.partner"], rule.partner_domain
            )
            if error:
                raise ValidationError(
                    _(
                        "The domain of the rule %(name)s cannot be used: %(error)s",
                        name=rule.name,
                        error=error,
                    )
                )
            self.env["esp.backend"]._esp_check_domain(
                rule.partner_domain, "res.partner", rule.display_name
            )

    @api.constrains("list_id", "store_id", "backend_id")
    def _check_audience_company(self):
        """An audience or store of one company is never another company's."""
        backends = self.env["esp.backend"].sudo().with_context(active_test=False)
        for rule in self.sudo():
            account = rule.backend_id.api_key
            others = backends.search(
                [
                    ("provider", "=", rule.backend_id.provider),
                    ("company_id", "!=", rule.company_id.id),
                ]
            ).filtered(lambda b, key=account: b.api_key == key)
            taken_lists = set(others.mapped("mailchimp_list_id")) | set(
                others.audience_rule_ids.mapped("list_id")
            )
            taken_stores = set(others.mapped("mailchimp_store_id")) | set(
                others.audience_rule_ids.mapped("store_id")
            )
            if rule.list_id in taken_lists or (
                rule.store_id and rule.store_id in taken_stores
            ):
                raise ValidationError(
                    _(
                        "The audience or store of the rule %(name)s belongs to "
                        "another company's backend: a company's records must "
                        "never reach another company's audience.",
                        name=rule.name,
                    )
                )
            siblings = rule.backend_id.audience_rule_ids - rule
            if rule.store_id and any(
                s.store_id == rule.store_id and s.list_id != rule.list_id
                for s in siblings
            ):
                raise ValidationError(
                    _(
                        "The store %(store)s is tied to one audience; the rule "
                        "%(name)s uses it with another audience.",
                        store=rule.store_id,
                        name=rule.name,
                    )
                )

    # ---------------------------------------------------------------- matching
    def _esp_match(self, partners):
        """The subset of ``partners`` this rule matches."""
        self.ensure_one()
        matched = partners
        if self.company_type != "any":
            business = self.company_type == "b2b"
            matched = matched.filtered(
                lambda p: bool(p.commercial_partner_id.is_company) == business
            )
        if self.category_ids:
            matched = matched.filtered(lambda p: p.category_id & self.category_ids)
        if self.partner_domain:
            if field_policy.domain_error(matched, self.partner_domain):
                return matched.browse()  # saved before the allow-list existed
            matched = matched.filtered_domain(safe_eval(self.partner_domain))
        return matched

    def _esp_route(self, partners):
        """``{rule: partners}``: each partner under the first rule it matches."""
        routes, left = {}, partners
        for rule in self.sorted(lambda r: (r.sequence, r.id)):
            matched = rule._esp_match(left)
            if matched:
                routes[rule] = matched
                left -= matched
        return routes

    def _esp_filter(self, partners):
        """The subset of ``partners`` some rule of ``self`` matches."""
        routed = partners.browse()
        for matched in self._esp_route(partners).values():
            routed |= matched
        return routed

    def _esp_rule_for(self, partner):
        """The first rule of ``self`` matching ``partner`` (empty if none)."""
        return next(iter(self._esp_route(partner)), self.browse())

    # ----------------------------------------------------------------- settings
    def _esp_settings(self, settings):
        """``settings`` pointed at this rule's audience and store."""
        self.ensure_one()
        return dataclasses.replace(
            settings,
            mailchimp_list_id=self.list_id,
            mailchimp_store_id=self.store_id or "",
        )

    @api.model
    def _esp_routed_adapter(self, backend, adapter, record):
        """``(adapter, skip_reason)`` for delivering ``record`` on ``backend``.

        Without rules the backend's own adapter is used. With rules, the
        adapter of the audience of the first rule the record's partner
        matches; a partner matching none, or an order whose audience has no
        store, is skipped with the reason.
        """
        rules = backend.audience_rule_ids
        if not rules or not hasattr(record, "_esp_partner"):
            return adapter, ""
        partner = record._esp_partner()
        rule = rules._esp_rule_for(partner.sudo()) if partner else rules.browse()
        if not rule:
            return None, _(
                "%(partner)s matches no audience rule of %(backend)s.",
                partner=partner.display_name or record.display_name,
                backend=backend.name,
            )
        if record._name != "res.partner" and not rule.store_id:
            return None, _(
                "The audience rule %(rule)s has no store: orders are not sent.",
                rule=rule.name,
            )
        settings = rule._esp_settings(adapter.settings)
        return get_adapter(settings, transport=adapter.transport), ""

    @api.model
    def _esp_with_audience_move(self, backend, binding, adapter, values):
        """A profile routed to another audience than last time carries the
        old one (``moved_from``): the adapter moves the member."""
        if not (backend.audience_rule_ids and isinstance(values, ev.Profile)):
            return values
        old_list = binding.audience_id
        if not old_list or old_list == adapter.settings.mailchimp_list_id:
            return values
        return dataclasses.replace(values, moved_from=old_list)

    @api.model
    def _esp_remember_audience(self, backend, binding, adapter, values):
        """After a profile delivery: the audience the person is in now."""
        list_id = adapter.settings.mailchimp_list_id
        if (
            backend.audience_rule_ids
            and isinstance(values, ev.Profile)
            and binding.audience_id != list_id
        ):
            binding.audience_id = list_id

    @api.model
    def _esp_audience_groups(self, backend, adapter, partners):
        """``[(adapter, partners)]``: ``partners`` split by audience (bulk work).

        Without rules, one group with the backend's adapter; with rules, one
        per rule that matches some partner; unmatched partners are left out.
        """
        rules = backend.audience_rule_ids
        if not rules:
            return [(adapter, partners)]
        return [
            (
                get_adapter(rule._esp_settings(adapter.settings), adapter.transport),
                group,
            )
            for rule, group in rules._esp_route(partners).items()
        ]

    # ------------------------------------------------------------ caching
    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        self.env.registry.clear_cache()  # capture caches each backend's rules
        return rules

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
