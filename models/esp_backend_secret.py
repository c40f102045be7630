# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..providers import EspError
from ..providers.errors import redact

# The credentials of a backend: stored encrypted (``<name>_enc``), shown and
# written in clear by system administrators through the fields of the same name.
SECRET_FIELDS = (
    "api_key",
    "api_user",
    "api_secret",
    "webhook_secret",
    "webhook_signing_secret",
)


class EspBackend(models.Model):
    """Credentials encrypted at rest (see ``esp.secret`` for the key)."""

    _inherit = "esp.backend"

    api_key = fields.Char(compute="_compute_esp_secrets", inverse="_inverse_api_key")
    api_user = fields.Char(compute="_compute_esp_secrets", inverse="_inverse_api_user")
    api_secret = fields.Char(
        compute="_compute_esp_secrets", inverse="_inverse_api_secret"
    )
    webhook_secret = fields.Char(
        compute="_compute_esp_secrets", inverse="_inverse_webhook_secret"
    )
    webhook_signing_secret = fields.Char(
        compute="_compute_esp_secrets", inverse="_inverse_webhook_signing_secret"
    )
    api_key_enc = fields.Char(groups="base.group_system", copy=False, readonly=True)
    api_user_enc = fields.Char(groups="base.group_system", copy=False, readonly=True)
    api_secret_enc = fields.Char(groups="base.group_system", copy=False, readonly=True)
    webhook_secret_enc = fields.Char(
        groups="base.group_system", copy=False, readonly=True
    )
    webhook_signing_secret_enc = fields.Char(
        groups="base.group_system", copy=False, readonly=True
    )

    @api.depends(*(f"{name}_enc" for name in SECRET_FIELDS))
    def _compute_esp_secrets(self):
        """Decrypted for display; empty when the key is missing or wrong
        (delivery then stops with the reason, see :meth:`_esp_settings`)."""
        vault = self.env["esp.secret"]
        for backend in self:
            stored = backend.sudo()
            for name in SECRET_FIELDS:
                try:
                    backend[name] = vault._esp_decrypt(stored[f"{name}_enc"]) or False
                except EspError:
                    backend[name] = False

    def _esp_store_secret(self, name):
        vault = self.env["esp.secret"]
        for backend in self:
            backend.sudo()[f"{name}_enc"] = vault._esp_encrypt(backend[name])

    def _inverse_api_key(self):
        self._esp_store_secret("api_key")

    def _inverse_api_user(self):
        self._esp_store_secret("api_user")

    def _inverse_api_secret(self):
        self._esp_store_secret("api_secret")

    def _inverse_webhook_secret(self):
        self._esp_store_secret("webhook_secret")

    def _inverse_webhook_signing_secret(self):
        self._esp_store_secret("webhook_signing_secret")

    @api.depends("provider", *(f"{name}_enc" for name in SECRET_FIELDS))
    def _compute_has_credentials(self):
        """Whether credentials are stored, known without decrypting them."""
        for backend, stored in zip(self, self.sudo(), strict=True):
            if backend.provider == "dotdigital":
                backend.has_credentials = bool(
                    stored.api_user_enc and stored.api_secret_enc
                )
            else:
                backend.has_credentials = bool(stored.api_key_enc)

    # ------------------------------------------------------------ reading
    def _esp_reveal_secrets(self):
        """``{name: value}`` of this backend's credentials, decrypted; a
        configuration EspError when the key is missing or wrong."""
        self.ensure_one()
        vault = self.env["esp.secret"]
        stored = self.sudo()
        return {
            name: vault._esp_decrypt(stored[f"{name}_enc"]) for name in SECRET_FIELDS
        }

    def _esp_redact(self, text):
        """``text`` without this backend's credentials: every message an
        error carries into the ledger, chatter or a job is passed through it,
        whatever the adapter that raised it already removed."""
        self.ensure_one()
        try:
            secrets = self._esp_reveal_secrets().values()
        except EspError:
            return str(text)  # no key: nothing readable in clear could leak
        return redact(str(text), [value for value in secrets if value])

    def _esp_settings(self):
        """No settings, hence no sync, without a key that opens the secrets."""
        self._esp_reveal_secrets()
        return super()._esp_settings()

    def action_mailchimp_register_webhook(self):
        self.ensure_one()
        self._esp_check_rights("base.group_system")
        try:
            self._esp_reveal_secrets()
        except EspError as err:
            raise UserError(str(err)) from err
        return super().action_mailchimp_register_webhook()

    # ------------------------------------------------------------ rotation
    @api.model
    def _esp_rotate_secrets(self):
        """Encrypt every stored credential again with the first key given.

        Run after putting a new key first in ``esp_sync_key`` (the old one
        after it); then the old key can be removed. Returns how many values
        were encrypted again.
        """
        if not self.env.is_system():
            raise UserError(_("Only system administrators rotate the ESP key."))
        vault = self.env["esp.secret"]
        count = 0
        backends = self.sudo().with_context(active_test=False).search([])
        for backend in backends:
            for name in SECRET_FIELDS:
                token = backend[f"{name}_enc"]
                if token:
                    backend[f"{name}_enc"] = vault._esp_rotate(token)
                    count += 1
        return count
