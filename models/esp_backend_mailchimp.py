# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Mailchimp's own backend actions: audiences, webhook registration, stores."""

from odoo import _, api, models
from odoo.exceptions import UserError

from ..providers import EspError, get_adapter


class EspBackendMailchimp(models.Model):
    _inherit = "esp.backend"

    # ------------------------------------------------------ Mailchimp audiences
    def _esp_audience_adapters(self):
        """One adapter per audience: the backend's own, then its rules'."""
        self.ensure_one()
        adapter = self._esp_adapter()
        if not self.audience_rule_ids:
            return [adapter]
        adapters, seen = [], set()
        if adapter.settings.mailchimp_list_id:
            adapters.append(adapter)
            seen.add(adapter.settings.mailchimp_list_id)
        for rule in self.audience_rule_ids.filtered(lambda r: r.list_id not in seen):
            seen.add(rule.list_id)
            settings = rule._esp_settings(adapter.settings)
            adapters.append(get_adapter(settings, transport=adapter.transport))
        return adapters

    def _esp_webhook_updates(self, headers, body):
        """Consent updates of a webhook call, from whichever audience sent it."""
        updates, seen = [], set()
        for adapter in self._esp_audience_adapters():
            for update in adapter.parse_webhook(headers, body):
                if (update.email, update.status) not in seen:
                    seen.add((update.email, update.status))
                    updates.append(update)
        return updates

    def action_mailchimp_register_webhook(self):
        """Register Odoo's webhook URL on every audience of this backend.

        Only unsubscribes/cleans made by people or Mailchimp admins are sent
        (not the "api" source), so our own writes never echo back.
        """
        self.ensure_one()
        self._esp_check_rights("base.group_system")
        secret = self.sudo().webhook_secret
        url = f"{self.get_base_url()}/esp_sync/webhook/{self.id}/{secret}"
        lists = []
        for adapter in self._esp_audience_adapters():
            try:
                adapter.register_webhook(url)
            except EspError as err:
                if err.status != 400 or "already" not in err.message.lower():
                    raise UserError(
                        _("Registering the webhook failed: %(error)s", error=err)
                    ) from err
            lists.append(adapter.settings.mailchimp_list_id)
        return self._esp_notify(
            _("Webhook registered"),
            _("Audiences: %(lists)s", lists=", ".join(lists)),
        )

    def action_mailchimp_setup_store(self):
        """Create the e-commerce store of each audience that has a store id."""
        self.ensure_one()
        self._esp_check_rights()
        adapter = self._esp_adapter()
        stores = []
        # With rules, orders go to the rules' stores only.
        if not self.audience_rule_ids and self.mailchimp_store_id:
            stores.append((adapter, self.company_id.name))
        for rule in self.audience_rule_ids.filtered("store_id"):
            settings = rule._esp_settings(adapter.settings)
            stores.append(
                (
                    get_adapter(settings, transport=adapter.transport),
                    f"{self.company_id.name} - {rule.name}",
                )
            )
        if not stores:
            raise UserError(_("Set an audience and a store id first."))
        done = []
        for store_adapter, name in stores:
            try:
                store_adapter.ensure_store(
                    name,
                    self.company_id.currency_id.name,
                    list_id=store_adapter.settings.mailchimp_list_id,
                )
            except EspError as err:
                raise UserError(
                    _("Setting up the store failed: %(error)s", error=err)
                ) from err
            done.append(store_adapter.settings.mailchimp_store_id)
        return self._esp_notify(
            _("Stores ready"), _("Stores: %(stores)s", stores=", ".join(done))
        )

    @api.model
    def _esp_notify(self, title, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": "success",
                "sticky": False,
            },
        }
