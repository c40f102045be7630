# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Data minimisation: a manager sees exactly what a backend would receive."""

from odoo.exceptions import AccessError

from .common import EspSyncCase


class TestPreview(EspSyncCase):
    def _preview(self, **values):
        wizard = self.env["esp.sync.preview"].create(
            {"backend_id": self.backend.id, **values}
        )
        wizard.action_preview()
        return wizard.result

    def test_profile_preview_is_the_request_and_nothing_else(self):
        self.customer.write(
            {"comment": "<p>Owes us a favour</p>", "city": "York", "vat": "GB123"}
        )
        ledger = self.events.search_count([])
        text = self._preview(partner_id=self.customer.id)
        self.assertIn("POST /api/profile-import", text)
        self.assertIn("ann.customer@example.com", text)
        self.assertIn("York", text)
        for private in ("Owes us a favour", "GB123", KLAVIYO_KEY_HINT):
            self.assertNotIn(private, text)
        self.assertEqual(self.events.search_count([]), ledger, "nothing recorded")

    def test_order_preview_shows_the_placed_order_event(self):
        order = self._order(qty=2)
        text = self._preview(sale_order_id=order.id, event_type="order_placed")
        self.assertIn("POST /api/events", text)
        self.assertIn(order.name, text)
        self.assertIn("Placed Order", text)

    def test_out_of_scope_and_skipped_say_so(self):
        supplier = self.env["res.partner"].create(
            {"name": "Bolt Supplies", "email": "sales@bolts.example.com"}
        )
        self.assertIn("not in the scope", self._preview(partner_id=supplier.id))
        text = self._preview(partner_id=self.customer.id, event_type="consent")
        self.assertIn("Nothing would be sent", text, "never opted in: no request")

    def test_only_managers_preview(self):
        user = self.env["res.users"].create(
            {
                "name": "ESP viewer",
                "login": "esp_viewer",
                "groups_id": [
                    (6, 0, [self.env.ref("esp_sync.group_esp_sync_user").id])
                ],
            }
        )
        with self.assertRaises(AccessError):
            self.env["esp.sync.preview"].with_user(user).create(
                {"backend_id": self.backend.id, "partner_id": self.customer.id}
            )


KLAVIYO_KEY_HINT = "pk_test_"
