# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.tools.safe_eval import safe_eval


class EspBackfill(models.Model):
    """A historical load of profiles and past orders into one backend.

    It runs as a chain of bulk-channel jobs, one chunk each, remembering the
    last record sent (``cursor_id``): pausing, a crash or a restart resumes
    where it stopped. Orders are sent with ``backfill`` set so no ESP flow
    fires for them. The jobs: esp_backfill_step (send a chunk) and
    esp_backfill_poll (the ESP's progress, the end of the run).
    """

    _name = "esp.backfill"
    _description = "ESP Historical Backfill"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one("esp.backend", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    scope = fields.Selection(
        [
            ("all", "Profiles, then orders"),
            ("profiles", "Profiles"),
            ("orders", "Orders"),
            ("catalog", "Catalogue (every product)"),
        ],
        default="all",
        required=True,
    )
    orders_since = fields.Date(help="Only orders placed on or after this date.")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("done", "Done"),
            ("failed", "Failed"),
        ],
        default="draft",
        required=True,
        tracking=True,
    )
    phase = fields.Selection(
        [("profiles", "Profiles"), ("orders", "Orders"), ("catalog", "Catalogue")],
        readonly=True,
    )
    cursor_id = fields.Integer(
        readonly=True, help="Id of the last record sent in the current phase."
    )
    total_count = fields.Integer("Records", readonly=True)
    sent_count = fields.Integer("Sent", readonly=True)
    error_count = fields.Integer("Errors", readonly=True)
    progress = fields.Float(compute="_compute_progress")
    batch_ids = fields.One2many("esp.backfill.batch", "backfill_id", "Batches")
    last_partner_id = fields.Integer(
        readonly=True,
        help="The newest partner the run covers (set at its start): later ones "
        "are synced live, so the run always ends.",
    )
    last_order_id = fields.Integer(
        readonly=True, help="The newest order the run covers (set at its start)."
    )
    started_at = fields.Datetime(readonly=True)
    finished_at = fields.Datetime(readonly=True)
    last_error = fields.Text(readonly=True)

    @api.depends("backend_id", "scope")
    def _compute_name(self):
        labels = dict(self._fields["scope"].selection)
        for run in self:
            run.name = _(
                "%(backend)s: %(scope)s",
                backend=run.backend_id.name,
                scope=labels.get(run.scope),
            )

    @api.depends("sent_count", "total_count", "state")
    def _compute_progress(self):
        for run in self:
            if run.state == "done":
                run.progress = 100.0
            else:
                run.progress = (
                    100.0 * run.sent_count / run.total_count if run.total_count else 0.0
                )

    # ---------------------------------------------------------------- actions
    def _esp_check_rights(self):
        """Backfills are started and steered by ESP Sync managers, within
        their companies (checked here: views only hide buttons)."""
        self.backend_id._esp_check_rights()
        self.check_access("write")

    def action_start(self):
        self._esp_check_rights()
        for run in self.filtered(lambda r: r.state == "draft"):
            if run.scope == "catalog":
                run.write(
                    {
                        "phase": "catalog",
                        "total_count": len(run._esp_templates_query()),
                        "state": "running",
                        "cursor_id": 0,
                    }
                )
                run._esp_enqueue_step()
                continue
            partners = run._esp_partners_query() if run.scope != "orders" else []
            orders = run._esp_orders_query() if run.scope != "profiles" else []
            run.write(
                {
                    "phase": "orders" if run.scope == "orders" else "profiles",
                    "total_count": len(partners) + len(orders),
                    "last_partner_id": partners[-1].id if partners else 0,
                    "last_order_id": orders[-1].id if orders else 0,
                    "state": "running",
                    "cursor_id": 0,
                }
            )
            run._esp_enqueue_step()
        return True

    def action_pause(self):
        self._esp_check_rights()
        self.filtered(lambda r: r.state == "running").write({"state": "paused"})
        return True

    def action_resume(self):
        self._esp_check_rights()
        for run in self.filtered(lambda r: r.state in ("paused", "failed")):
            run.write({"state": "running", "last_error": False})
            run._esp_enqueue_step()
        return True

    # ------------------------------------------------------------- selection
    def _esp_partners_query(self, after_id=0, limit=None):
        """Partners the backend syncs, by id, after ``after_id``."""
        backend = self.backend_id
        domain = safe_eval(backend.partner_domain or "[]") + [
            ("id", ">", after_id),
            ("company_id", "in", (False, backend.company_id.id)),
            ("id", "not in", self.env["res.company"].sudo().search([]).partner_id.ids),
        ]
        if self.last_partner_id:
            domain.append(("id", "<=", self.last_partner_id))
        return self.env["res.partner"].sudo().search(domain, order="id", limit=limit)

    def _esp_templates_query(self, after_id=0, limit=None):
        """Products of the backend's catalogue (its product domain), by id."""
        backend = self.backend_id
        domain = safe_eval(backend.product_domain or "[]") + [
            ("id", ">", after_id),
            ("company_id", "in", (False, backend.company_id.id)),
        ]
        return (
            self.env["product.template"].sudo().search(domain, order="id", limit=limit)
        )

    def _esp_orders_query(self, after_id=0, limit=None):
        domain = [
            ("company_id", "=", self.backend_id.company_id.id),
            ("state", "=", "sale"),
            ("id", ">", after_id),
        ]
        if self.orders_since:
            domain.append(("date_order", ">=", self.orders_since))
        if self.last_order_id:
            domain.append(("id", "<=", self.last_order_id))
        return self.env["sale.order"].sudo().search(domain, order="id", limit=limit)

    @api.model
    def _cron_resume(self):
        """Restart the chain of runs interrupted by a crash or restart."""
        stale = fields.Datetime.now() - timedelta(minutes=15)
        for run in self.search([("state", "=", "running"), ("write_date", "<", stale)]):
            run._esp_enqueue_step()
