# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Who and what a backend hears about: the one scope rule."""

import dataclasses
import functools

from odoo import _, api, models, tools
from odoo.tools.safe_eval import safe_eval

from .. import const
from ..providers import EspError


@dataclasses.dataclass(frozen=True)
class CaptureConfig:
    """What capture reads of a backend on every write (cached, immutable)."""

    company_id: int
    partner_domain: str
    rule_ids: tuple
    modes: tuple  # (stream, mode) pairs

    def mode(self, stream):
        """The backend's mode of ``stream`` (realtime / batch)."""
        return dict(self.modes)[stream]


class EspBackendScope(models.Model):
    _inherit = "esp.backend"

    # ------------------------------------------------------------ routing
    @api.model
    def _esp_backends_for_company(self, company, stream):
        """Active backends of ``company`` with ``stream`` switched on."""
        switch = const.STREAM_SWITCH[stream]
        return self.sudo().browse(self._esp_backend_ids_for(company.id, switch))

    @api.model
    @tools.ormcache("company_id", "switch")
    def _esp_backend_ids_for(self, company_id, switch):
        """Ids of the active backends of a company with a stream on (cached:
        every capture asks; any backend change clears it)."""
        backends = self.sudo().search([("company_id", "=", company_id)])
        return tuple(backends.filtered(switch).ids)

    @api.model
    @tools.ormcache("backend_id")
    def _esp_capture_config(self, backend_id):
        """The :class:`CaptureConfig` of a backend: every capture reads it,
        so no write fetches the backend's row; any change to a backend or a
        routing rule clears it."""
        backend = self.sudo().with_context(active_test=True).browse(backend_id)
        return CaptureConfig(
            company_id=backend.company_id.id,
            partner_domain=backend.partner_domain or "[]",
            rule_ids=tuple(backend.audience_rule_ids.ids),
            modes=tuple(
                (stream, backend[field])
                for stream, field in const.STREAM_MODE_FIELD.items()
            ),
        )

    def _esp_in_scope(self, partners, companies=None, memo=None):
        """The subset of ``partners`` this backend syncs: the one scope rule.

        Used by capture, backfill and audience routing alike: the backend's
        company is one of the partner's companies, the partner matches the
        backend's domain (evaluated as superuser; a broken domain is an IT
        exception, never a failed user write), is no company's own partner,
        and matches an audience rule when the backend has rules.
        """
        self.ensure_one()
        if not partners:
            return partners
        config = self._esp_capture_config(self.id)
        partners = partners.sudo()
        companies = companies or partners._esp_companies_of()
        partners = partners.filtered(
            lambda p: config.company_id in companies[p.id]._ids
        )
        own_partners = self.env["res.company"]._esp_company_ids()[1]
        candidates = partners.sudo().with_context(active_test=False)
        # Backends sharing a domain evaluate it once per capture (``memo``).
        key = (config.partner_domain, candidates._ids)
        try:
            if memo is not None and key in memo:
                synced = candidates.browse(memo[key])
            else:
                synced = candidates.filtered_domain(
                    list(_parsed_domain(config.partner_domain))
                )
                if memo is not None:
                    memo[key] = synced._ids
        except Exception as exc:  # never break the user's write
            # A domain that no longer evaluates (field removed by an uninstall)
            # must not make partner edits fail: record it for IT instead.
            self.env["esp.sync.exception"]._esp_record(
                self,
                self,
                EspError(
                    _(
                        "The partner domain of %(name)s no longer works: %(error)s",
                        name=self.name,
                        error=exc,
                    ),
                    category="configuration",
                    code="domain_invalid",
                ),
            )
            return partners.browse()
        # Own partners never; a person erased at the ESPs never again.
        synced = synced.filtered(
            lambda p: p.id not in own_partners and not p.esp_erased_at
        )
        if config.rule_ids:
            rules = self.env["esp.audience.rule"].sudo().browse(config.rule_ids)
            synced = rules._esp_filter(synced)
        return synced

    def _esp_knows(self, partner):
        """True when this backend holds ``partner`` or someone with their email."""
        self.ensure_one()
        domain = [("partner_id", "=", partner.id)]
        if partner.email_normalized:
            domain = [
                "|",
                ("partner_id", "=", partner.id),
                ("partner_id.email_normalized", "=", partner.email_normalized),
            ]
        return bool(
            self.env["esp.sync.binding"]
            .sudo()
            .search_count([("backend_id", "=", self.id), *domain], limit=1)
        )

    def _esp_sync_products(self, templates):
        """Return the subset of ``templates`` this backend's catalogue holds."""
        self.ensure_one()
        if not templates:
            return templates
        domain = safe_eval(self.product_domain or "[]")
        return templates.sudo().with_context(active_test=False).filtered_domain(domain)

    def _esp_stream_mode(self, stream):
        self.ensure_one()
        return self[const.STREAM_MODE_FIELD[stream]]


@functools.lru_cache(maxsize=256)
def _parsed_domain(domain):
    """A domain string evaluated once (capture evaluates it on every write)."""
    return tuple(safe_eval(domain))
