# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Credentials stored in clear before 18.0.1.1.0 are encrypted, then dropped."""

from odoo import SUPERUSER_ID, api
from odoo.tools import SQL

from odoo.addons.esp_sync.models.esp_backend_secret import SECRET_FIELDS


def migrate(cr, version):
    cr.execute(
        """
        SELECT column_name FROM information_schema.columns
         WHERE table_name = 'esp_backend' AND column_name = ANY(%s)
        """,
        [list(SECRET_FIELDS)],
    )
    plain = [row[0] for row in cr.fetchall()]
    if not plain:
        return
    vault = api.Environment(cr, SUPERUSER_ID, {})["esp.secret"]
    cr.execute(
        SQL(
            "SELECT id, %s FROM esp_backend",
            SQL(", ").join(SQL.identifier(name) for name in plain),
        )
    )
    for backend_id, *values in cr.fetchall():
        for name, value in zip(plain, values, strict=True):
            if value:
                cr.execute(
                    SQL(
                        "UPDATE esp_backend SET %s = %s WHERE id = %s",
                        SQL.identifier(f"{name}_enc"),
                        vault._esp_encrypt(value),
                        backend_id,
                    )
                )
    for name in plain:
        cr.execute(SQL("ALTER TABLE esp_backend DROP COLUMN %s", SQL.identifier(name)))
