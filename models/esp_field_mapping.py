# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import re

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..providers import EspError
from . import esp_field_policy as field_policy

PROPERTY_NAME = re.compile(r"^[A-Za-z$][\w $.-]{0,79}$")
# Models a mapping path may not cross: credentials, ledger, technical data.
INTERNAL_MODELS = ("esp.", "ir.", "res.users.apikeys")


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

    @api.model_create_multi
    def create(self, vals_list):
        mappings = super().create(vals_list)
        self.env.registry.clear_cache()  # partner capture caches mapped roots
        mappings.backend_id.sudo().write({"resync_needed": True})
        return mappings

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        self.backend_id.sudo().write({"resync_needed": True})
        return result

    def unlink(self):
        backends = self.backend_id
        result = super().unlink()
        self.env.registry.clear_cache()
        backends.sudo().write({"resync_needed": True})
        return result

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
        """Why ``field_path`` cannot be read on res.partner, or ``""``.

        Values are read with sudo, so a path may neither cross an internal
        model (esp.*, ir.*: credentials, ledger) nor touch a field restricted
        to some groups, directly or through a related/computed field.
        """
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
            reason = self._esp_unsafe_field(model, field, set())
            if reason:
                return _(
                    "The field mapping '%(path)s' cannot be sent: %(reason)s",
                    path=self.field_path,
                    reason=reason,
                )
            if field.relational:
                model = self.env[field.comodel_name]
        reason = field_policy.path_error(self.env["res.partner"], self.field_path)
        if reason:
            return _(
                "The field mapping '%(path)s' cannot be sent: %(reason)s",
                path=self.field_path,
                reason=reason,
            )
        return ""

    @api.model
    def _esp_unsafe_field(self, model, field, seen):
        """Why reading ``field`` of ``model`` as superuser may leak, or ``""``."""
        if (model._name, field.name) in seen:
            return ""
        seen.add((model._name, field.name))
        if field.groups:
            return _(
                "%(field)s is restricted to some user groups.",
                field=field.name,
            )
        if field.relational and field.comodel_name.startswith(INTERNAL_MODELS):
            return _(
                "%(field)s leads to %(model)s, an internal model.",
                field=field.name,
                model=field.comodel_name,
            )
        if not (field.compute or field.related):
            return ""
        for depend in self.env.registry.field_depends[field] or ():
            sub_model = model
            for name in depend.split("."):
                sub_field = sub_model._fields.get(name)
                if sub_field is None:
                    break
                reason = self._esp_unsafe_field(sub_model, sub_field, seen)
                if reason:
                    return reason
                if not sub_field.relational:
                    break
                sub_model = self.env[sub_field.comodel_name]
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
