# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Differences about orders and revenue, and the fixes of the new kinds.

What the ESP should have is what the ledger sent and ``esp.sync.values``
builds for delivery. Fixes go through the normal delivery path: the
order's ledger rows are sent again (or recorded when they never were), and
a wrong refund total at an ESP whose events cannot be edited (Klaviyo)
gets a correcting Refunded Order event for the difference, sent by a job.
"""

import datetime

from odoo import _, api, fields, models

from .. import const
from ..providers import EspError
from ..providers import events as ev
from .esp_sync_job_guard import guarded_job

ORDER_KINDS = ("order_missing", "order_mismatch", "order_extra", "revenue_period")
NEW_KINDS = ORDER_KINDS + ("contact_extra",)


class EspReconcileLine(models.Model):
    _inherit = "esp.reconcile.line"

    kind = fields.Selection(
        selection_add=[
            ("order_missing", "Order missing at the ESP"),
            ("order_mismatch", "Order differs"),
            ("order_extra", "Order only at the ESP"),
            ("revenue_period", "Revenue of a day differs"),
            ("contact_extra", "Contact only at the ESP"),
        ],
        ondelete={kind: "cascade" for kind in NEW_KINDS},
    )
    fix = fields.Selection(
        selection_add=[
            ("cancel", "Cancel at the ESP"),
            ("correct", "Correct at the ESP"),
            ("review", "Review (no automatic fix)"),
        ],
        ondelete={"cancel": "cascade", "correct": "cascade", "review": "cascade"},
    )
    sale_order_id = fields.Many2one("sale.order", "Order", ondelete="cascade")
    esp_order_ref = fields.Char("Order at the ESP", index=True)
    period = fields.Char(help="The day (UTC) of the order or of the revenue.")

    # ------------------------------------------------------------ orders
    @api.model
    def _esp_compare_orders(self, run, since, until, remote):
        """Lines for the orders placed in ``[since, until)``; returns the
        day's revenue ``{day: (odoo, esp)}`` (cancelled and refunds out)."""
        backend = run.backend_id.sudo()
        remote = dict(remote)
        orders = self._esp_orders_of(backend, since, until)
        ledger = self._esp_ledger_states(backend, orders)
        ignored = self._esp_ignored(backend, "order_extra", "esp_order_ref")
        values = self.env["esp.sync.values"]
        revenue, shown, vals_list = {}, {}, []
        for order in orders:
            try:
                snapshot = values._esp_order(backend, order)
            except EspError:
                continue  # an invalid address is a sync exception already
            sent = ledger.get(order.id, {})
            got = remote.pop(str(order.id), None)
            day = snapshot.placed_at.date().isoformat()
            base = {
                "reconcile_id": run.id,
                "partner_id": order.partner_id.id,
                "email": snapshot.email,
                "sale_order_id": order.id,
                "esp_order_ref": str(order.id),
                "period": day,
            }
            cancelled = order.state == "cancel"
            net = 0.0 if cancelled else _net(snapshot.total, snapshot.refunded_total)
            _add(revenue, day, odoo=net, esp=_remote_net(got))
            if got is None:
                if not cancelled:
                    vals_list.append(_missing(self.env, base, sent))
                continue
            if cancelled:
                if got.status != "cancelled":
                    vals_list.append(
                        dict(
                            base,
                            kind="order_extra",
                            fix="cancel",
                            field_name=_("Status"),
                            odoo_value="cancelled",
                            esp_value=got.status,
                            explanation=_("Cancelled in Odoo, live at the ESP"),
                        )
                    )
                continue
            differences = _mismatches(self.env, snapshot, got)
            vals_list += [dict(base, **line) for line in differences]
        for ref, got in remote.items():
            if got.status == "cancelled":
                continue
            day = got.placed_at.date().isoformat() if got.placed_at else ""
            _add(revenue, day, esp=_remote_net(got))
            if ref in ignored:
                _add(shown, day, esp=-_remote_net(got))
                continue
            vals_list.append(self._esp_extra_order(run, backend, ref, got, day))
        for day, (odoo, esp) in sorted(revenue.items()):
            odoo_shown = odoo + shown.get(day, (0.0, 0.0))[0]
            esp_shown = esp + shown.get(day, (0.0, 0.0))[1]
            if day and abs(odoo_shown - esp_shown) >= 0.005:
                vals_list.append(
                    {
                        "reconcile_id": run.id,
                        "kind": "revenue_period",
                        "fix": "review",
                        "period": day,
                        "field_name": _("Revenue"),
                        "odoo_value": f"{odoo_shown:.2f}",
                        "esp_value": f"{esp_shown:.2f}",
                        "explanation": _("Follows from the order lines of that day"),
                    }
                )
        accepted = self._esp_accepted_order_lines(backend)
        self.sudo().create(
            [vals for vals in vals_list if _order_line_key(vals) not in accepted]
        )
        return revenue

    @api.model
    def _esp_accepted_order_lines(self, backend):
        """Keys of the order and revenue lines ignored with a reason on
        ``backend``: the same difference is not reported again."""
        lines = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("kind", "in", ORDER_KINDS),
                ("state", "=", "ignored"),
            ]
        )
        return {_order_line_key(line) for line in lines}

    @api.model
    def _esp_orders_of(self, backend, since, until):
        """Odoo's orders the ESP should know: confirmed (or cancelled after
        confirmation) in the period, of customers in the backend's scope."""
        naive = {"tzinfo": None}
        orders = (
            self.env["sale.order"]
            .sudo()
            .search(
                [
                    ("company_id", "=", backend.company_id.id),
                    ("date_order", ">=", since.replace(**naive)),
                    ("date_order", "<", until.replace(**naive)),
                    ("state", "in", ("sale", "cancel")),
                ],
                order="id",
            )
        )
        partners = backend._esp_in_scope(orders.partner_id)
        return orders.filtered(lambda o: o.partner_id in partners)

    @api.model
    def _esp_ledger_states(self, backend, orders):
        """``{order id: {event type: state}}`` of the orders' own rows."""
        rows = (
            self.env["esp.sync.event"]
            .sudo()
            .search_read(
                [
                    ("backend_id", "=", backend.id),
                    ("res_model", "=", "sale.order"),
                    ("res_id", "in", orders.ids),
                ],
                ["res_id", "event_type", "state"],
                order="id",
            )
        )
        found = {}
        for row in rows:
            found.setdefault(row["res_id"], {})[row["event_type"]] = row["state"]
        return found

    @api.model
    def _esp_ignored(self, backend, kind, field):
        """Values of ``field`` on lines of ``kind`` ignored on ``backend``:
        an accepted difference is not reported again."""
        lines = self.sudo().search(
            [
                ("backend_id", "=", backend.id),
                ("kind", "=", kind),
                ("state", "=", "ignored"),
            ]
        )
        return set(lines.mapped(field))

    @api.model
    def _esp_extra_order(self, run, backend, ref, got, day):
        order = (
            self.env["sale.order"].sudo().browse(int(ref)) if ref.isdigit() else None
        )
        order = order.exists() if order else None
        line = {
            "reconcile_id": run.id,
            "kind": "order_extra",
            "fix": "review",
            "esp_order_ref": ref,
            "email": got.email,
            "period": day,
            "field_name": _("Status"),
            "esp_value": got.status,
            "explanation": _("Unknown in Odoo"),
        }
        if order:
            line.update(
                sale_order_id=order.id,
                partner_id=order.partner_id.id,
                odoo_value=order.state,
                explanation=_("Not an order of this backend's scope and period"),
            )
            if order.state == "cancel":
                line.update(fix="cancel", explanation=_("Cancelled in Odoo"))
        return line

    # ------------------------------------------------------------ fixes
    def action_fix(self):
        """Order lines: deliver again through the ledger, or correct by job;
        lines to review stay open (ignore them with a reason)."""
        self._esp_check_rights()
        mine = self.sudo().filtered(
            lambda line: line.state == "open" and line.kind in NEW_KINDS
        )
        days = mine.filtered(lambda line: line.kind == "revenue_period")
        wanted_days = {(day.reconcile_id, day.period) for day in days}
        mine |= days.reconcile_id.line_ids.filtered(
            lambda line: line.state == "open"
            and line.kind in ORDER_KINDS
            and (line.reconcile_id, line.period) in wanted_days
        )
        for line in mine.filtered("sale_order_id"):
            if line.fix == "repush":
                line._esp_redeliver(("order_placed",))
            elif line.fix == "cancel":
                line._esp_redeliver(("order_cancelled",), only=True)
            elif line.fix == "correct":
                line.with_delay(
                    channel=const.CHANNEL_BULK,
                    priority=const.PRIORITY_BULK,
                    description=_("Correct order %s at the ESP", line.esp_order_ref),
                )._esp_send_correction()
        done = mine.filtered(
            lambda line: line.fix != "review" or line.kind == "revenue_period"
        )
        done.write({"state": "fixed"})
        # A day's revenue line is fixed with the last open order line of it.
        for run, day in {(line.reconcile_id, line.period) for line in done}:
            same_day = run.line_ids.filtered(
                lambda line, d=day: line.period == d and line.state == "open"
            )
            if not same_day.filtered(lambda line: line.kind != "revenue_period"):
                same_day.write({"state": "fixed"})
        return super(EspReconcileLine, self - mine).action_fix()

    def _esp_redeliver(self, must_have, only=False):
        """Send the order's ledger rows again (all of its group, or only the
        ``must_have`` types); record those types when they never were."""
        self.ensure_one()
        order, backend = self.sale_order_id, self.backend_id
        Event = self.env["esp.sync.event"].sudo()
        domain = [
            ("backend_id", "=", backend.id),
            ("group_ref", "=", f"sale.order,{order.id}"),
            ("state", "in", ("sent", "skipped", "failed")),
        ]
        if only:
            domain.append(("event_type", "in", must_have))
        rows = Event.search(domain)
        for event_type in must_have:
            if not rows.filtered(lambda r, t=event_type: r.event_type == t):
                order._esp_capture(event_type, backend)
        if rows:
            rows.action_retry()

    def _esp_send_correction(self):
        """Job: a Refunded Order event for the refund total's difference."""
        self.ensure_one()
        backend = self.backend_id.sudo()
        with guarded_job(backend, _("Correction of order %s", self.esp_order_ref)):
            values = self.env["esp.sync.values"]
            snapshot = values._esp_order(backend, self.sale_order_id.sudo())
            difference = round(snapshot.refunded_total - float(self.esp_value or 0), 2)
            if abs(difference) < 0.005:
                return _("Nothing to correct.")
            key = f"sale.order:{self.sale_order_id.id}:refund_correction:{self.id}"
            event = ev.OrderEvent(
                kind=ev.EventKind.REFUNDED,
                unique_id=values._esp_unique_id_for(key),
                order=snapshot,
                occurred_at=datetime.datetime.now(datetime.timezone.utc),
                value=difference,
                reference=_("Reconciliation correction"),
                properties={"Correction": True},
            )
            backend._esp_adapter().send_order_event(event)
            return _("Corrected by %s.", difference)


def _order_line_key(line):
    """What makes two order lines the same difference (dict or record)."""
    get = line.get if isinstance(line, dict) else line.__getitem__
    values = [get(name) for name in ("kind", "esp_order_ref", "field_name", "period")]
    if values[0] != "revenue_period":
        values[3] = ""
    return tuple(value or "" for value in values)


def _add(totals, day, odoo=0.0, esp=0.0):
    before = totals.get(day, (0.0, 0.0))
    totals[day] = (before[0] + odoo, before[1] + esp)


def _net(total, refunded):
    return max(0.0, round(total - (refunded or 0.0), 2))


def _remote_net(got):
    if got is None or got.status == "cancelled":
        return 0.0
    return got.total if got.refunded is None else _net(got.total, got.refunded)


def _missing(env, base, sent):
    state = sent.get("order_placed")
    if state == "sent":
        why = env._("Sent, but not at the ESP (lost or deleted there)")
    elif state in ("pending", "failed"):
        why = env._("Not delivered yet (see the ledger)")
    else:
        why = env._("Never sent")
    return dict(base, kind="order_missing", fix="repush", explanation=why)


def _mismatches(env, snapshot, got):
    """Status and amounts. An ESP that edits orders in place (Mailchimp,
    Dotdigital) is corrected by sending the order again; Klaviyo's refund
    total by a correcting event; Mailchimp keeps only the net total."""
    lines = []
    again = "repush" if got.editable else "review"
    if got.status == "cancelled" or (
        got.status != "placed" and got.status != snapshot.financial_status
    ):
        lines.append(
            {
                "kind": "order_mismatch",
                "fix": again,
                "field_name": env._("Status"),
                "odoo_value": snapshot.financial_status,
                "esp_value": got.status,
            }
        )
    if got.refunded is None:
        net = _net(snapshot.total, snapshot.refunded_total)
        figures = [(env._("Total, net of refunds"), net, got.total, "repush")]
    else:
        figures = [
            (env._("Total"), snapshot.total, got.total, again),
            (
                env._("Refunded"),
                snapshot.refunded_total,
                got.refunded,
                "repush" if got.editable else "correct",
            ),
        ]
    for label, odoo, esp, fix in figures:
        if abs((odoo or 0.0) - (esp or 0.0)) >= 0.005:
            lines.append(
                {
                    "kind": "order_mismatch",
                    "fix": fix,
                    "field_name": label,
                    "odoo_value": f"{odoo or 0.0:.2f}",
                    "esp_value": f"{esp or 0.0:.2f}",
                }
            )
    return lines
