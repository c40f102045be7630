# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import importlib.util
import stat
from pathlib import Path
from unittest.mock import patch

from cryptography.fernet import Fernet

from odoo.exceptions import AccessError
from odoo.tools import config

from ..providers import EspError
from .common import KLAVIYO_KEY, EspSyncCase
from .klaviyo_common import KlaviyoHttpMixin

ADDON = Path(__file__).resolve().parent.parent
SIGNING = "whsec-secret-at-rest-0123456789"


class TestSecrets(KlaviyoHttpMixin, EspSyncCase):
    """Credentials are encrypted at rest with a key the database never holds."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.webhook_signing_secret = SIGNING
        cls.dotdigital = cls.env["esp.backend"].create(
            {
                "name": "Dotdigital test",
                "provider": "dotdigital",
                "api_user": "apiuser-secret@apiconnector.com",
                "api_secret": "dd-password-0123456789",
                "active": False,
            }
        )
        cls.vault = cls.env["esp.secret"]

    def _raw_rows(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT row_to_json(b)::text FROM esp_backend b")
        return "\n".join(row[0] for row in self.env.cr.fetchall())

    def _keys(self, keys):
        """Run with exactly ``keys`` configured (the config option wins)."""
        self.env.invalidate_all()
        return patch.dict(config.options, {"esp_sync_key": ",".join(keys)})

    def test_database_holds_no_plain_secret(self):
        raw = self._raw_rows()
        for secret in (
            KLAVIYO_KEY,
            SIGNING,
            self.backend.webhook_secret,
            "apiuser-secret@apiconnector.com",
            "dd-password-0123456789",
        ):
            self.assertTrue(secret)
            self.assertNotIn(secret, raw)
        settings = self.backend._esp_settings()
        self.assertEqual(settings.api_key, KLAVIYO_KEY)
        self.assertEqual(settings.webhook_secret, SIGNING)
        self.assertEqual(
            self.dotdigital._esp_settings().api_secret, "dd-password-0123456789"
        )
        self.assertTrue(self.backend.has_credentials)

    def test_encrypted_columns_are_for_system_administrators(self):
        manager = self.env["res.users"].create(
            {
                "name": "Ops",
                "login": "esp_secret_ops",
                "groups_id": [
                    (6, 0, [self.env.ref("esp_sync.group_esp_sync_manager").id])
                ],
            }
        )
        backend = self.backend.with_user(manager)
        for name in ("api_key", "api_key_enc", "webhook_signing_secret_enc"):
            with self.assertRaises(AccessError):
                backend.read([name])
            self.assertNotIn(name, backend.fields_get())

    def test_key_file_lives_outside_database_and_filestore(self):
        path = self.vault._esp_key_file()
        self.assertTrue(path.is_file())
        self.assertEqual(stat.S_IMODE(path.stat().st_mode), 0o600)
        self.assertNotIn(
            Path(config.filestore(self.env.cr.dbname)), path.parents, "not backed up"
        )
        self.assertNotIn(path.read_text().strip(), self._raw_rows())

    def test_missing_key_is_a_clear_error_and_nothing_syncs(self):
        with patch.object(type(self.vault), "_esp_keys", return_value=[]):
            self.env.invalidate_all()
            with self.assertRaises(EspError) as caught:
                self.backend._esp_settings()
            self.assertEqual(caught.exception.code, "secret_key_missing")
            self.assertIn("esp_sync_key", str(caught.exception))
            self.customer.write({"city": "York"})
            with self._mock() as rsps:
                self._klaviyo_ok(rsps)
                self._run_jobs()
                self.assertFalse(rsps.calls, "no sync without the key")
        exception = self.env["esp.sync.exception"].search(
            [("code", "=", "secret_key_missing")]
        )
        self.assertEqual(exception.category, "configuration")

    def test_wrong_key_is_a_clear_error(self):
        with self._keys([Fernet.generate_key().decode()]):
            with self.assertRaises(EspError) as caught:
                self.backend._esp_settings()
        self.assertEqual(caught.exception.code, "secret_key_wrong")

    def test_key_rotation(self):
        (old,) = self.vault._esp_keys()
        new = Fernet.generate_key().decode()
        before = self.backend.sudo().api_key_enc
        with self._keys([new, old]):
            self.assertEqual(self.backend._esp_settings().api_key, KLAVIYO_KEY)
            self.assertGreaterEqual(self.env["esp.backend"]._esp_rotate_secrets(), 5)
        self.assertNotEqual(self.backend.sudo().api_key_enc, before)
        with self._keys([new]):
            self.assertEqual(self.backend._esp_settings().api_key, KLAVIYO_KEY)
            self.assertEqual(
                self.dotdigital._esp_settings().api_user,
                "apiuser-secret@apiconnector.com",
            )
            # Credential rotation: a new value is encrypted with the new key.
            self.backend.api_key = "pk_rotated_0123456789"
            self.assertEqual(
                self.backend._esp_settings().api_key, "pk_rotated_0123456789"
            )
        with self._keys([old]), self.assertRaises(EspError):
            self.backend._esp_settings()

    def test_neutralize_blanks_the_credentials(self):
        self.env.flush_all()
        self.env.cr.execute((ADDON / "data" / "neutralize.sql").read_text())
        self.env.invalidate_all()
        self.assertFalse(self.backend.active)
        self.assertFalse(self.backend.has_credentials)
        self.assertFalse(self.backend.api_key or self.backend.webhook_secret)

    def test_upgrade_encrypts_and_drops_plain_columns(self):
        self.env.flush_all()
        self.env.cr.execute(
            "ALTER TABLE esp_backend ADD COLUMN api_key varchar;"
            "UPDATE esp_backend SET api_key = 'pk_legacy_plain' WHERE id = %s",
            (self.backend.id,),
        )
        path = ADDON / "migrations" / "18.0.1.1.0" / "post-migration.py"
        spec = importlib.util.spec_from_file_location("esp_sync_secret_mig", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertNotIn("pk_legacy_plain", self._raw_rows())
        self.assertEqual(self.backend._esp_settings().api_key, "pk_legacy_plain")
