# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""An erased customer's orders: not sent at all (default), or sent without
personal data where the ESP accepts an order without a person (Klaviyo: an
event on an anonymous profile). Mailchimp orders need a customer email and
Dotdigital's Orders collection a contact: there, only "not sent".
"""

import dataclasses
import hashlib
import hmac

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import const
from .esp_backend_scope import _parsed_domain

ORDER_STREAMS = ("order", "fulfilment", "refund")
# Providers whose orders can travel without a person.
ANONYMOUS_ORDER_PROVIDERS = ("klaviyo",)
ANONYMOUS = "esp_anonymous_order"  # context key: building an anonymous order


class EspBackendErasedOrders(models.Model):
    _inherit = "esp.backend"

    erased_order_policy = fields.Selection(
        [("skip", "Not sent"), ("anonymous", "Sent without personal data")],
        "Orders of erased customers",
        default="skip",
        required=True,
        help="Orders, fulfilments and refunds of a customer erased at the ESPs: "
        "not sent (default), or sent without email, name, address or Odoo id "
        "(Klaviyo only: an anonymous profile per order keeps revenue reports "
        "whole).",
    )

    @api.constrains("erased_order_policy", "provider")
    def _check_erased_order_policy(self):
        for backend in self:
            anonymous = backend.erased_order_policy == "anonymous"
            if anonymous and backend.provider not in ANONYMOUS_ORDER_PROVIDERS:
                raise ValidationError(
                    _(
                        "%(provider)s needs a customer's email for an order: "
                        "an erased customer's orders can only be not sent.",
                        provider=backend.provider.title(),
                    )
                )

    def _esp_sends_erased_orders(self, partner):
        """Whether this backend sends ``partner``'s orders anonymously: they
        were erased, the backend says so, and they are otherwise its
        customer (its company and its partner domain)."""
        self.ensure_one()
        if not partner.esp_erased_at or self.erased_order_policy != "anonymous":
            return False
        if self.company_id not in partner.sudo()._esp_companies():
            return False
        domain = list(_parsed_domain(self.partner_domain or "[]"))
        return bool(
            partner.sudo().with_context(active_test=False).filtered_domain(domain)
        )


class EspSyncMixinErasedOrders(models.AbstractModel):
    _inherit = "esp.sync.mixin"

    @api.model
    def _esp_keep_out_of_scope(self, backend, event_type, partner):
        if const.EVENT_STREAM.get(event_type) in ORDER_STREAMS and (
            backend._esp_sends_erased_orders(partner)
        ):
            return True
        return super()._esp_keep_out_of_scope(backend, event_type, partner)


class EspSyncDeliveryErasedOrders(models.AbstractModel):
    _inherit = "esp.sync.delivery"

    @api.model
    def _esp_sent_anonymously(self, backend, row, partner):
        """An erased customer's order row that ``backend`` sends without
        personal data (all other rows of an erased person are dropped)."""
        return const.EVENT_STREAM.get(
            row.event_type
        ) in ORDER_STREAMS and backend._esp_sends_erased_orders(partner)


class EspSyncValuesErasedOrders(models.AbstractModel):
    _inherit = "esp.sync.values"

    @api.model
    def _esp_order(self, backend, order, lookups=None):
        if not backend._esp_sends_erased_orders(order.partner_id):
            return super()._esp_order(backend, order, lookups)
        snapshot = super(
            EspSyncValuesErasedOrders, self.with_context(**{ANONYMOUS: True})
        )._esp_order(backend, order, lookups)
        return dataclasses.replace(
            snapshot,
            email="",
            external_id="",
            billing_address=None,
            shipping_address=None,
            anonymous_id=self._esp_anonymous_id(order),
        )

    @api.model
    def _esp_anonymous_id(self, order):
        """Opaque and per order (nothing ties two orders together): a keyed
        hash of the database and the order id."""
        key = self.env["ir.config_parameter"].sudo().get_param("database.secret", "")
        message = f"esp_sync-anonymous-order:{order.id}".encode()
        digest = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
        return f"odoo-anon-{digest[:32]}"

    @api.model
    def _esp_email(self, partner):
        if self.env.context.get(ANONYMOUS):
            return ""
        return super()._esp_email(partner)

    @api.model
    def _esp_external_id(self, backend, email, lookups=None):
        if self.env.context.get(ANONYMOUS):
            return ""
        return super()._esp_external_id(backend, email, lookups)
