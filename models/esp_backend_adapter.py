# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A backend's adapter: its settings as plain values, and the adapter built
on them (the only way models reach an ESP)."""

from odoo import _, models

from ..providers import BackendSettings, EspError, get_adapter


class EspBackendAdapter(models.Model):
    _inherit = "esp.backend"

    def _esp_settings(self):
        """Credentials and settings as plain values; read with sudo, never logged."""
        self.ensure_one()
        backend = self.sudo()
        return BackendSettings(
            provider=backend.provider,
            base_url=(backend.base_url or "").rstrip("/"),
            api_key=backend.api_key or "",
            api_user=backend.api_user or "",
            api_secret=backend.api_secret or "",
            klaviyo_revision=backend.klaviyo_revision or "2026-07-15",
            klaviyo_list_id=backend.klaviyo_list_id or "",
            mailchimp_list_id=backend.mailchimp_list_id or "",
            mailchimp_store_id=backend.mailchimp_store_id or "",
            dotdigital_region=backend.dotdigital_region or "",
            dotdigital_address_book_id=backend.dotdigital_address_book_id or "",
            consent_source=backend.consent_source or "Odoo",
            # Adapters verify webhook signatures with this: the signing secret
            # where the ESP signs (Klaviyo), never the URL token.
            webhook_secret=(
                backend.webhook_signing_secret
                if backend.provider == "klaviyo"
                else backend.webhook_secret
            )
            or "",
            extra={
                "api_endpoint": backend.dotdigital_api_endpoint or "",
                "never_opted_in": backend.dotdigital_never_opted_in or "neutral",
                # A Mailchimp store created by a backfill: the company's.
                "store_name": backend.company_id.name,
                "currency": backend.company_id.currency_id.name,
                # Tags Odoo owns (Mailchimp deactivates only these).
                "managed_tags": backend.env["res.partner.category"]
                .with_context(active_test=False)
                .search([])
                .mapped("name"),
            },
        )

    def _esp_adapter(self):
        """Return the provider adapter, or raise a configuration EspError."""
        self.ensure_one()
        if not self.has_credentials:
            raise EspError(
                _(
                    "The backend %(name)s has no API credentials. An administrator "
                    "must enter them in Settings > ESP Sync.",
                    name=self.name,
                ),
                category="configuration",
                code="missing_credentials",
            )
        return self._esp_build_adapter()

    def _esp_build_adapter(self):
        """The provider's adapter for this backend's settings (engine tests
        put a recording adapter here)."""
        return get_adapter(self._esp_settings())
