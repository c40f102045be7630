# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Reconciliation of orders in a date range, and of contacts only the ESP knows.

Scope "orders": the range is cut into windows of ``WINDOW_DAYS`` days, one
queue job each; a job reads the window's orders at the ESP
(``read_orders``) and compares them with Odoo's (missing, wrong status or
amount, extra) and the revenue of each day. Scope "extra": one job per page
of the ESP's contact list (``read_contacts_page``), each page compared with
the in-scope partners of those addresses.
"""

import datetime
import json

from markupsafe import Markup, escape

from odoo import _, api, fields, models
from odoo.exceptions import UserError

WINDOW_DAYS = 7


class EspReconcile(models.Model):
    _inherit = "esp.reconcile"

    scope = fields.Selection(
        selection_add=[
            ("orders", "Orders in a date range"),
            ("extra", "Contacts only the ESP knows"),
        ],
        ondelete={"orders": "set default", "extra": "set default"},
    )
    date_from = fields.Date("Orders from")
    date_to = fields.Date("Orders to", help="Included.")
    contact_cursor = fields.Char(readonly=True, copy=False)
    revenue_json = fields.Text(readonly=True, copy=False)
    revenue_html = fields.Html(
        "Revenue per month",
        compute="_compute_revenue_html",
        sanitize=False,
        help="Placed minus cancelled and refunded, in Odoo and at the ESP.",
    )
    not_readable = fields.Char(readonly=True, copy=False)

    @api.depends("revenue_json")
    def _compute_revenue_html(self):
        for run in self:
            labels = (
                self.env._("Month"),
                self.env._("Odoo"),
                self.env._("ESP"),
                self.env._("Difference"),
            )
            run.revenue_html = _revenue_table(run._esp_revenue_by("month"), labels)

    # -------------------------------------------------------------- selection
    def _esp_target_ids(self):
        """Windows (first day's ordinal) for orders; pages are read as found."""
        if self.scope == "extra":
            return []
        if self.scope != "orders":
            return super()._esp_target_ids()
        if not (self.date_from and self.date_to) or self.date_from > self.date_to:
            raise UserError(_("Give the first and last day of the orders to check."))
        first, last = self.date_from.toordinal(), self.date_to.toordinal()
        return list(range(first, last + 1, WINDOW_DAYS))

    def action_start(self):
        extra = self.filtered(lambda r: r.state == "draft" and r.scope == "extra")
        result = super().action_start()
        extra.sudo().write({"total_count": 1, "contact_cursor": False})
        return result

    # ------------------------------------------------------------------- jobs
    def _esp_check_chunk_guarded(self):
        if self.scope == "orders":
            return self._esp_check_order_window()
        if self.scope == "extra":
            return self._esp_check_contact_page()
        return super()._esp_check_chunk_guarded()

    def _esp_check_order_window(self):
        windows = json.loads(self.partner_ids_json or "[]")
        if self.checked_count < len(windows):
            first = datetime.date.fromordinal(windows[self.checked_count])
            last = min(first + datetime.timedelta(WINDOW_DAYS), self._esp_day_after())
            since, until = _midnight(first), _midnight(last)
            remote = self.backend_id.sudo()._esp_adapter().read_orders(since, until)
            if remote is None:
                return self._esp_finish_not_readable()
            lines = self.env["esp.reconcile.line"]
            revenue = lines._esp_compare_orders(self, since, until, remote)
            self._esp_add_revenue(revenue)
            self.sudo().checked_count = self.checked_count + 1
        if self.checked_count < len(windows):
            self._esp_enqueue_chunk()
            return _("%s windows of orders checked.", self.checked_count)
        return self._esp_finish(_("order windows"))

    def _esp_check_contact_page(self):
        adapter = self.backend_id.sudo()._esp_adapter()
        cursor = json.loads(self.contact_cursor) if self.contact_cursor else None
        page = adapter.read_contacts_page(cursor)
        if page is None:
            return self._esp_finish_not_readable()
        emails, cursor = page
        self.env["esp.reconcile.line"]._esp_compare_extra_contacts(self, emails)
        self.sudo().write(
            {
                "contact_cursor": json.dumps(cursor) if cursor else False,
                "checked_count": self.checked_count + 1,
                "total_count": self.checked_count + 1 + bool(cursor),
            }
        )
        if cursor:
            self._esp_enqueue_chunk()
            return _("%s pages of contacts checked.", self.checked_count)
        return self._esp_finish(_("pages of contacts"))

    def _esp_day_after(self):
        return self.date_to + datetime.timedelta(days=1)

    def _esp_finish(self, what):
        self.sudo().write({"state": "done", "finished_at": fields.Datetime.now()})
        self.message_post(
            body=_(
                "Reconciliation finished: %(checked)s %(what)s checked, "
                "%(open)s differences.",
                checked=self.checked_count,
                what=what,
                open=self.open_line_count,
            )
        )
        return _("Done.")

    def _esp_finish_not_readable(self):
        message = _(
            "%(esp)s cannot list this: not readable, nothing compared.",
            esp=self.backend_id.provider,
        )
        self.sudo().write(
            {
                "state": "done",
                "finished_at": fields.Datetime.now(),
                "not_readable": message,
            }
        )
        self.message_post(body=message)
        return message

    # ---------------------------------------------------------------- revenue
    def _esp_add_revenue(self, revenue):
        """Merge ``{day iso: (odoo, esp)}`` into the run's daily figures."""
        days = json.loads(self.revenue_json or "{}")
        for day, (odoo, esp) in revenue.items():
            before = days.get(day, [0.0, 0.0])
            days[day] = [round(before[0] + odoo, 2), round(before[1] + esp, 2)]
        self.sudo().revenue_json = json.dumps(days, sort_keys=True)

    def _esp_revenue_by(self, period):
        """``[(period, odoo, esp)]`` per ``day`` or ``month``, in order."""
        totals = {}
        for day, (odoo, esp) in json.loads(self.revenue_json or "{}").items():
            key = day if period == "day" else day[:7]
            before = totals.get(key, (0.0, 0.0))
            totals[key] = (before[0] + odoo, before[1] + esp)
        return [(key, *totals[key]) for key in sorted(totals)]


def _midnight(day):
    return datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)


def _revenue_table(rows, labels):
    if not rows:
        return False
    body = Markup("").join(
        Markup(
            "<tr><td>%s</td><td class='text-end'>%.2f</td>"
            "<td class='text-end'>%.2f</td><td class='text-end'>%.2f</td></tr>"
        )
        % (escape(period), odoo, esp, esp - odoo)
        for period, odoo, esp in rows
    )
    head = Markup(
        "<table class='table table-sm'><thead><tr><th>%s</th>"
        "<th class='text-end'>%s</th><th class='text-end'>%s</th>"
        "<th class='text-end'>%s</th></tr></thead><tbody>"
    ) % tuple(labels)
    return head + body + Markup("</tbody></table>")
