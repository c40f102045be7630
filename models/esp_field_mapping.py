# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..providers import EspError

PROPERTY_NAME = re.compile(r"^[A-Za-z$][\w $.-]{0,79}$")


class EspFieldMapping(models.Model):
    """One Odoo partner field path sent as one ESP property."""

    _name = "esp.field.mapping"
    _description = "ESP Field Mapping"
    _order = "backend_id, sequence, id"

    backend_id = fields.Many2one("esp.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    field_path = fields.Char(
        required=True,
        help="Path on the partner, e.g. x_loyalty_tier, category_id, "
        "parent_id.name.",
    )
    esp_property = fields.Char(
        "ESP property",
        required=True,
        help="Property (Klaviyo), merge tag (Mailchimp) or data field (Dotdigital).",
    )
    transform = fields.Selection(
        [
            ("as_is", "As is"),
            ("tag_names", "Names of tags"),
            ("boolean", "Boolean"),
            ("date", "Date (ISO 8601)"),
        ],
        default="as_is",
        required=True,
    )

    _sql_constraints = [
        (
            "property_unique",
            "unique(backend_id, esp_property)",
            "Each ESP property can be mapped once per backend.",
        )
    ]

    @api.constrains("field_path")
    def _check_field_path(self):
        for mapping in self:
            error = mapping._esp_path_error()
            if error:
                raise ValidationError(error)

    @api.constrains("esp_property")
    def _check_esp_property(self):
        for mapping in self:
            if not PROPERTY_NAME.match(mapping.esp_property or ""):
                raise ValidationError(
                    _(
                        "%(name)s is not a valid ESP property name.",
                        name=mapping.esp_property,
                    )
                )

    def _esp_path_error(self):
        """Why ``field_path`` cannot be read on res.partner, or ``""``."""
        self.ensure_one()
        model = self.env["res.partner"]
        for name in (self.field_path or "").split("."):
            field = model._fields.get(name)
            if not field:
                return _(
                    "The field mapping '%(path)s' points at '%(name)s', which does "
                    "not exist on %(model)s.",
                    path=self.field_path,
                    name=name,
                    model=model._description,
                )
            if field.relational:
                model = self.env[field.comodel_name]
        return ""

    def _esp_values(self, partner):
        """Return ``{esp_property: value}`` for ``partner``.

        A path that no longer exists (field removed after the mapping was
        saved) raises a configuration EspError naming the mapping.
        """
        values = {}
        for mapping in self.filtered("active"):
            error = mapping._esp_path_error()
            if error:
                raise EspError(error, category="configuration", code="mapping_invalid")
            value = partner.sudo().mapped(mapping.field_path)
            values[mapping.esp_property] = mapping._esp_transform(value)
        return values

    def _esp_transform(self, value):
        """Turn what ``mapped()`` returned into a JSON value."""
        if isinstance(value, models.BaseModel):
            names = value.mapped("display_name")
            if self.transform == "boolean":
                return bool(value)
            return (
                names
                if self.transform == "tag_names" or len(value) > 1
                else (names[0] if names else None)
            )
        value = [v for v in value if v is not False and v is not None]
        if self.transform == "boolean":
            return bool(value and value[0])
        if not value:
            return None
        first = value[0]
        if self.transform == "date" and hasattr(first, "isoformat"):
            return first.isoformat()
        if self.transform == "tag_names":
            return [str(v) for v in value]
        return first if isinstance(first, str | int | float | bool) else str(first)
