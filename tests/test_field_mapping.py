# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import ValidationError

from ..providers import EspError
from .common import EspSyncCase


class TestFieldMapping(EspSyncCase):
    def _map(self, path, prop, transform="as_is"):
        return self.env["esp.field.mapping"].create(
            {
                "backend_id": self.backend.id,
                "field_path": path,
                "esp_property": prop,
                "transform": transform,
            }
        )

    def test_invalid_path_rejected_with_clear_message(self):
        with self.assertRaises(ValidationError) as caught:
            self._map("no_such_field", "Nope")
        self.assertIn("no_such_field", str(caught.exception))
        with self.assertRaises(ValidationError):
            self._map("parent_id.not_there", "Nope2")

    def test_tags_custom_field_and_transforms(self):
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        self.env["ir.model.fields"].create(
            {
                "name": "x_loyalty_tier",
                "model_id": self.env.ref("base.model_res_partner").id,
                "field_description": "Loyalty tier",
                "ttype": "char",
            }
        )
        self.customer.write({"category_id": [(4, vip.id)], "x_loyalty_tier": "Gold"})
        self._map("category_id", "Tags", "tag_names")
        self._map("x_loyalty_tier", "Loyalty Tier")
        self._map("category_id", "Is Tagged", "boolean")
        self._map("create_date", "Customer Since", "date")
        values = self.backend.mapping_ids._esp_values(self.customer)
        self.assertEqual(values["Tags"], ["VIP"])
        self.assertEqual(values["Loyalty Tier"], "Gold")
        self.assertIs(values["Is Tagged"], True)
        self.assertRegex(values["Customer Since"], r"^\d{4}-\d\d-\d\d")

    def test_removed_field_is_a_configuration_error(self):
        mapping = self._map("city", "City")
        # Simulate a field removed after the mapping was saved.
        self.env.cr.execute(
            "UPDATE esp_field_mapping SET field_path = 'x_gone' WHERE id = %s",
            [mapping.id],
        )
        mapping.invalidate_recordset()
        with self.assertRaises(EspError) as caught:
            self.backend.mapping_ids._esp_values(self.customer)
        self.assertEqual(caught.exception.category.value, "configuration")
        self.assertIn("x_gone", caught.exception.message)
