# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Credentials encrypted at rest, with a key the database never holds.

The key (a Fernet key: 32 url-safe base64-encoded bytes) comes from, in order:
the Odoo configuration option ``esp_sync_key``, the environment variable
``ESP_SYNC_KEY``, or a key file of this database in Odoo's data directory
(``<data_dir>/esp_sync/<database>.key``, outside the filestore, created on
first use so a new database works at once). Several comma-separated keys may
be given: the first encrypts, every one decrypts (rotation).
"""

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from odoo import api, models
from odoo.exceptions import UserError
from odoo.tools import config

from ..providers import EspError

_logger = logging.getLogger(__name__)

CONFIG_OPTION = "esp_sync_key"
ENV_VARIABLE = "ESP_SYNC_KEY"


class EspSecret(models.AbstractModel):
    """Encrypts and decrypts the backends' credentials."""

    _name = "esp.secret"
    _description = "ESP Sync Credential Encryption"

    # ------------------------------------------------------------------ keys
    @api.model
    def _esp_key_file(self):
        return Path(config["data_dir"]) / "esp_sync" / f"{self.env.cr.dbname}.key"

    @api.model
    def _esp_keys(self, create=False):
        """The keys, newest first; ``[]`` when none is set or found.

        With ``create``, a database with no key at all gets a key file.
        """
        text = config.get(CONFIG_OPTION) or os.environ.get(ENV_VARIABLE) or ""
        if not text:
            path = self._esp_key_file()
            if path.is_file():
                text = path.read_text().strip()
            elif create:
                text = self._esp_create_key_file(path)
        return [key.strip() for key in text.split(",") if key.strip()]

    @api.model
    def _esp_create_key_file(self, path):
        key = Fernet.generate_key().decode()
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
        except FileExistsError:
            return path.read_text().strip()  # another worker was first
        except OSError as exc:
            raise UserError(self._esp_missing_key_message()) from exc
        _logger.info("esp_sync: created the credential key file %s", path)
        return key

    @api.model
    def _esp_fernet(self, create=False):
        keys = self._esp_keys(create=create)
        if not keys:
            return None
        try:
            return MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as exc:
            raise UserError(
                self.env._(
                    "The esp_sync credential key is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)."
                )
            ) from exc

    @api.model
    def _esp_missing_key_message(self):
        return self.env._(
            "The key that encrypts ESP credentials is missing: set the option "
            "%(option)s in the Odoo configuration file or the environment "
            "variable %(env)s (see the ESP Sync configuration guide). Nothing "
            "syncs until it is back.",
            option=CONFIG_OPTION,
            env=ENV_VARIABLE,
        )

    # ------------------------------------------------------------- encrypt
    @api.model
    def _esp_encrypt(self, value):
        """The token that stores ``value`` (``False`` stays ``False``)."""
        if not value:
            return False
        fernet = self._esp_fernet(create=True)
        if fernet is None:
            raise UserError(self._esp_missing_key_message())
        return fernet.encrypt(value.encode()).decode()

    @api.model
    def _esp_decrypt(self, token):
        """The value ``token`` stores; a configuration EspError naming the
        cause when the key is missing or is not the one it was encrypted with.
        """
        if not token:
            return ""
        fernet = self._esp_fernet()
        if fernet is None:
            raise EspError(
                self._esp_missing_key_message(),
                category="configuration",
                code="secret_key_missing",
            )
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise EspError(
                self.env._(
                    "The ESP credentials were encrypted with another key than "
                    "the one configured (%(option)s / %(env)s): restore that "
                    "key, or enter the credentials again. Nothing syncs until "
                    "then.",
                    option=CONFIG_OPTION,
                    env=ENV_VARIABLE,
                ),
                category="configuration",
                code="secret_key_wrong",
            ) from exc

    @api.model
    def _esp_rotate(self, token):
        """``token`` encrypted again with the first key (rotation)."""
        if not token:
            return token
        fernet = self._esp_fernet()
        if fernet is None:
            raise UserError(self._esp_missing_key_message())
        try:
            return fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise UserError(
                self.env._("A credential cannot be decrypted with any key given.")
            ) from exc
