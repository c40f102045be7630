# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The release gate of post-purchase flows, per backend.

Placed Order still leaves at once, on the urgent lane: it is what stops
abandoned-cart flows. What waits is "Order Confirmed", the signal that starts
post-purchase communication (confirmation, cross-sell, review requests): it
leaves when the order passes the backend's gate, checked by a cron. An order
that never passes within the backend's time opens an exception for sales.
"""

from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools import SQL

from .. import const

# Orders examined per backend and cron run: the oldest waiting first.
RELEASE_BATCH = 500


class EspBackend(models.Model):
    _inherit = "esp.backend"

    release_gate = fields.Selection(
        const.RELEASE_GATES,
        default="none",
        required=True,
        help="When the Order Confirmed signal (a Klaviyo metric, Mailchimp's "
        "paid status, Dotdigital's releasedAt) may leave: post-purchase flows "
        "must start on it, not on Placed Order.",
    )
    release_timeout_hours = fields.Integer(
        "Release alert (hours)",
        default=48,
        help="An order still held by the gate after this long opens an "
        "exception for the sales team and a to-do for its salesperson.",
    )

    sales_user_id = fields.Many2one(
        "res.users",
        "Sales responsible",
        help="Receives the to-do of orders held by the release gate when the "
        "order has no salesperson.",
    )

    @api.model
    def _cron_release_orders(self):
        """Release the orders that passed their backend's gate."""
        for backend in self.search([("release_gate", "!=", "none")]):
            backend._esp_release_orders()

    def _esp_release_orders(self, limit=RELEASE_BATCH):
        """Capture Order Confirmed for held orders that pass; flag overdue ones.

        Returns ``(released, overdue)`` counts.
        """
        self.ensure_one()
        if self.release_gate == "none":
            return 0, 0
        orders = self._esp_held_orders(limit)
        ready = orders._esp_release_ready(self.release_gate)
        # The profile's "Orders Awaiting Release" changes with it.
        ready._esp_capture_with_profile("order_released", self)
        limit_date = fields.Datetime.now() - timedelta(
            hours=self.release_timeout_hours or 0
        )
        overdue = (orders - ready).filtered(lambda o: o.date_order < limit_date)
        if self.release_timeout_hours:
            for order in overdue:
                self._esp_flag_overdue(order)
        return len(ready), len(overdue)

    def _esp_not_released(self):
        """SQL: the order ``so`` has no Order Confirmed row on this backend."""
        return SQL(
            """NOT EXISTS (
                   SELECT 1 FROM esp_sync_event e
                    WHERE e.res_id = so.id AND e.res_model = 'sale.order'
                      AND e.backend_id = %s AND e.event_type = 'order_released')""",
            self.id,
        )

    def _esp_held_orders(self, limit):
        """Confirmed orders told to this backend (Placed) and not released."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT so.id FROM sale_order so
                 WHERE so.state = 'sale' AND so.company_id = %(company)s
                   AND EXISTS (
                       SELECT 1 FROM esp_sync_event e
                        WHERE e.res_id = so.id AND e.res_model = 'sale.order'
                          AND e.backend_id = %(backend)s
                          AND e.event_type = 'order_placed'
                          AND e.state IN ('pending', 'sent'))
                   AND %(not_released)s
                 ORDER BY so.id
                 LIMIT %(limit)s
                """,
                company=self.company_id.id,
                backend=self.id,
                not_released=self._esp_not_released(),
                limit=limit,
            )
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        return self.env["sale.order"].sudo().browse(ids)

    def _esp_awaiting_release(self, commerce):
        """Add "Orders Awaiting Release" to the profiles of buyers
        (``{email: properties}``, in place): one SQL count for all."""
        buyers = [email for email, props in commerce.items() if props]
        if not buyers:
            return commerce
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.email_normalized, count(so.id)
                  FROM sale_order so
                  JOIN res_partner p ON p.id = so.partner_id
                 WHERE p.email_normalized = ANY(%(emails)s)
                   AND so.state = 'sale' AND so.company_id = %(company)s
                   AND %(not_released)s
                 GROUP BY p.email_normalized
                """,
                emails=buyers,
                company=self.company_id.id,
                not_released=self._esp_not_released(),
            )
        )
        waiting = dict(self.env.cr.fetchall())
        for email in buyers:
            commerce[email]["Orders Awaiting Release"] = waiting.get(email, 0)
        return commerce

    def _esp_flag_overdue(self, order):
        """One exception (sales) and one to-do for the order's salesperson."""
        exceptions = self.env["esp.sync.exception"].sudo()
        already = exceptions.search_count(
            [
                ("backend_id", "=", self.id),
                ("res_model", "=", "sale.order"),
                ("res_id", "=", order.id),
                ("category", "=", "release"),
                ("state", "=", "open"),
            ]
        )
        if already:
            return
        gate = dict(const.RELEASE_GATES)[self.release_gate]
        message = _(
            "%(order)s has waited more than %(hours)s hours for the release gate "
            "(%(gate)s): its customer has had no post-purchase email from "
            "%(backend)s. Check the order (stock, payment, credit hold).",
            order=order.name,
            hours=self.release_timeout_hours,
            gate=gate,
            backend=self.name,
        )
        exceptions._esp_record(self, order, message, stream="order", category="release")
        order.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=_("Order held by the ESP release gate"),
            note=message,
            user_id=(order.user_id or self._esp_responsible("sales")).id,
        )
