# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import secrets

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools.safe_eval import safe_eval

from .. import const
from ..providers import BackendSettings, EspError, get_adapter


class EspBackend(models.Model):
    """One connection to one ESP account, for one company."""

    _name = "esp.backend"
    _description = "ESP Connector Backend"
    _inherit = ["mail.thread"]
    _check_company_auto = True
    _order = "company_id, sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    provider = fields.Selection(const.PROVIDERS, required=True, tracking=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    base_url = fields.Char(
        "API base URL",
        compute="_compute_base_url",
        store=True,
        readonly=False,
        help="The provider's API endpoint. Point it at the local ESP sandbox "
        "(for example http://127.0.0.1:8073/klaviyo) to try esp_sync without an "
        "account.",
    )
    # --- credentials: system administrators only ------------------------------
    api_key = fields.Char(
        "API key", groups="base.group_system", copy=False, help="Private API key."
    )
    api_user = fields.Char(
        "API user", groups="base.group_system", copy=False, help="Dotdigital API user."
    )
    api_secret = fields.Char("API password", groups="base.group_system", copy=False)
    webhook_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        help="Token in the webhook URL.",
    )
    webhook_signing_secret = fields.Char(
        groups="base.group_system",
        copy=False,
        help="Key the ESP signs its webhook calls with (Klaviyo). Kept apart "
        "from the URL token, which ends up in access logs.",
    )
    # Computed from the encrypted columns (esp_backend_secret.py).
    has_credentials = fields.Boolean(compute="_compute_has_credentials")
    # --- provider settings ------------------------------------------------------
    klaviyo_revision = fields.Char(default="2026-07-15")
    klaviyo_list_id = fields.Char(
        "Klaviyo list", help="List people who opt in in Odoo are subscribed to."
    )
    mailchimp_list_id = fields.Char("Mailchimp audience id")
    mailchimp_store_id = fields.Char("Mailchimp store id")
    dotdigital_region = fields.Char(default="r1")
    dotdigital_address_book_id = fields.Char("Dotdigital address book id")
    dotdigital_api_endpoint = fields.Char(
        readonly=True, copy=False, help="Regional endpoint found by account-info."
    )
    consent_master = fields.Selection(
        [("odoo", "Odoo"), ("esp", "ESP")],
        compute="_compute_consent_master",
        store=True,
        readonly=False,
        help="Odoo: Odoo's opt-in and opt-out drive the ESP. ESP: the ESP owns "
        "subscription status and reports unsubscribes back to Odoo.",
    )
    consent_source = fields.Char(default="Odoo", help="Custom consent source.")
    # --- who and what syncs --------------------------------------------------------
    partner_domain = fields.Char(
        default=const.DEFAULT_PARTNER_DOMAIN,
        required=True,
        help="Partners matching this domain sync to this backend.",
    )
    sync_profiles = fields.Boolean(default=True)
    profile_mode = fields.Selection(const.SYNC_MODES, default="realtime", required=True)
    sync_consent = fields.Boolean(default=True)
    consent_mode = fields.Selection(const.SYNC_MODES, default="realtime", required=True)
    sync_orders = fields.Boolean(default=True)
    order_mode = fields.Selection(const.SYNC_MODES, default="realtime", required=True)
    sync_fulfilments = fields.Boolean(default=True)
    fulfilment_mode = fields.Selection(
        const.SYNC_MODES, default="realtime", required=True
    )
    sync_refunds = fields.Boolean(default=True)
    refund_mode = fields.Selection(const.SYNC_MODES, default="realtime", required=True)
    refund_trigger = fields.Selection(
        [("posted", "Credit note posted"), ("paid", "Credit note paid")],
        default="posted",
        required=True,
    )
    sync_catalog = fields.Boolean(default=False)
    product_domain = fields.Char(
        default="[('sale_ok', '=', True)]",
        required=True,
        help="Products matching this domain become catalogue items at the ESP.",
    )
    catalog_mode = fields.Selection(
        const.SYNC_MODES, default="scheduled", required=True
    )
    batch_interval = fields.Integer(
        "Batch interval (minutes)",
        default=15,
        help="How often scheduled streams are delivered.",
    )
    last_batch_at = fields.Datetime(readonly=True, copy=False)
    latency_alert_minutes = fields.Integer(
        "Latency alert (minutes)",
        default=30,
        help="Alert when a change waits longer than this to reach the ESP.",
    )
    last_consent_poll_at = fields.Datetime(readonly=True, copy=False)
    retry_budget_hours = fields.Integer(
        "Retry budget (hours)",
        default=const.DEFAULT_RETRY_BUDGET_HOURS,
        help="How long a delivery keeps retrying after rate limits, outages and "
        "server errors before it becomes an exception for operations.",
    )
    email_removed_policy = fields.Selection(
        [("unsubscribe", "Unsubscribe the old address"), ("keep", "Leave it")],
        "When an email is removed",
        default="unsubscribe",
        required=True,
        help="A customer's address removed in Odoo: unsubscribe it at the ESP "
        "so no one keeps mailing it, or leave the ESP as it is.",
    )
    paused_until = fields.Datetime(
        readonly=True,
        copy=False,
        help="The ESP's rate-limit window is used up: nothing is sent to this "
        "account before this time, on any channel.",
    )
    resync_needed = fields.Boolean(
        readonly=True,
        copy=False,
        help="The mapping or the streams changed since the last full sync: "
        "existing records carry the old shape until they are resynced.",
    )
    mapping_ids = fields.One2many("esp.field.mapping", "backend_id", "Field mapping")
    audience_rule_ids = fields.One2many(
        "esp.audience.rule",
        "backend_id",
        "Audience routing",
        help="Mailchimp: the audience of the first matching rule receives the "
        "partner; with rules, partners matching none are not synced.",
    )
    # --- health --------------------------------------------------------------------
    pending_count = fields.Integer(compute="_compute_health")
    failed_count = fields.Integer(compute="_compute_health")
    exception_count = fields.Integer(compute="_compute_health")
    oldest_pending_at = fields.Datetime(compute="_compute_health")

    _sql_constraints = [
        (
            "batch_interval_positive",
            "CHECK(batch_interval > 0)",
            "The batch interval must be positive.",
        ),
    ]

    @api.depends("provider")
    def _compute_base_url(self):
        for backend in self:
            if not backend.base_url:
                backend.base_url = const.DEFAULT_BASE_URLS.get(backend.provider, "")

    @api.depends("provider")
    def _compute_consent_master(self):
        for backend in self:
            backend.consent_master = const.DEFAULT_CONSENT_MASTER.get(
                backend.provider, "odoo"
            )

    def _compute_health(self):
        """Pending, failed and open-exception counts: two grouped queries."""
        ledger = {
            (backend.id, state): (count, oldest)
            for backend, state, count, oldest in self.env["esp.sync.event"]
            .sudo()
            ._read_group(
                [
                    ("backend_id", "in", self.ids),
                    ("state", "in", ("pending", "failed")),
                ],
                ["backend_id", "state"],
                ["__count", "occurred_at:min"],
            )
        }
        exceptions = dict(
            self.env["esp.sync.exception"]
            .sudo()
            ._read_group(
                [("backend_id", "in", self.ids), ("state", "=", "open")],
                ["backend_id"],
                ["__count"],
            )
        )
        for backend in self:
            pending, oldest = ledger.get((backend.id, "pending"), (0, False))
            backend.pending_count = pending
            backend.oldest_pending_at = oldest
            backend.failed_count = ledger.get((backend.id, "failed"), (0, False))[0]
            backend.exception_count = exceptions.get(backend, 0)

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for backend in self:
            self._esp_check_domain(
                backend.partner_domain, "res.partner", backend.display_name
            )

    @api.constrains("product_domain")
    def _check_product_domain(self):
        for backend in self:
            self._esp_check_domain(
                backend.product_domain, "product.template", backend.display_name
            )

    @api.model
    def _esp_check_domain(self, domain, model, owner):
        """Raise a clear ValidationError when ``domain`` does not evaluate."""
        try:
            self.env[model].search_count(safe_eval(domain or "[]"), limit=1)
        except Exception as exc:
            raise ValidationError(
                _(
                    "The domain of %(owner)s is not valid: %(error)s",
                    owner=owner,
                    error=exc,
                )
            ) from exc

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            vals.setdefault("webhook_secret", secrets.token_urlsafe(24))
            vals.setdefault("webhook_signing_secret", secrets.token_urlsafe(32))
        backends = super().create(vals_list)
        self.env.registry.clear_cache()
        return backends

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def write(self, vals):
        switched = {"sync_profiles", "sync_consent", "partner_domain"} & set(vals)
        if switched and "resync_needed" not in vals:
            vals = dict(vals, resync_needed=True)
        result = super().write(vals)
        if not set(vals) <= {"paused_until", "last_batch_at", "last_consent_poll_at"}:
            self.env.registry.clear_cache()  # capture caches backends per company
        return result

    def action_resync(self):
        """Resend every in-scope profile as a backfill (after a mapping change)."""
        self.ensure_one()
        self._esp_check_rights()
        run = (
            self.env["esp.backfill"]
            .sudo()
            .create({"backend_id": self.id, "scope": "profiles"})
        )
        run.action_start()
        self.sudo().resync_needed = False
        return {
            "type": "ir.actions.act_window",
            "res_model": "esp.backfill",
            "res_id": run.id,
            "view_mode": "form",
            "target": "current",
        }

    # ---------------------------------------------------------------- actions
    def _esp_check_rights(self, group="esp_sync.group_esp_sync_manager"):
        """A button's rights, on the server: ``group`` and the records' rules.

        Views only hide buttons; a call over RPC lands here all the same.
        """
        if self.env.su:
            return
        if not self.env.user.has_group(group):
            raise AccessError(
                _(
                    "You are not allowed to do this on an ESP backend "
                    "(group required: %(group)s).",
                    group=self.env.ref(group).display_name,
                )
            )
        self.check_access("read")

    def action_test_connection(self):
        """Call the ESP with the stored credentials and report the result."""
        self.ensure_one()
        self._esp_check_rights()
        try:
            account = self._esp_adapter().test_connection()
        except EspError as err:
            raise UserError(
                _("Connection to %(name)s failed: %(error)s", name=self.name, error=err)
            ) from err
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Connection works"),
                "message": account,
                "type": "success",
                "sticky": False,
            },
        }

    def _esp_open_action(self, xmlid):
        """The window action ``xmlid`` limited to this backend's rows."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xmlid)
        action["domain"] = [("backend_id", "=", self.id)]
        return action

    def action_open_exceptions(self):
        return self._esp_open_action("esp_sync.action_esp_sync_exception")

    def action_open_events(self):
        return self._esp_open_action("esp_sync.action_esp_sync_event")

    def action_deliver_pending(self):
        """Enqueue delivery of every pending change, whatever its mode."""
        self._esp_check_rights()
        for backend in self.sudo():
            backend._esp_enqueue_pending()
        return True

    # ---------------------------------------------------------- adapter access
    def _esp_settings(self):
        """Credentials and settings as plain values; read with sudo, never logged."""
        self.ensure_one()
        backend = self.sudo()
        return BackendSettings(
            provider=backend.provider,
            base_url=(backend.base_url or "").rstrip("/"),
            api_key=backend.api_key or "",
            api_user=backend.api_user or "",
            api_secret=backend.api_secret or "",
            klaviyo_revision=backend.klaviyo_revision or "2026-07-15",
            klaviyo_list_id=backend.klaviyo_list_id or "",
            mailchimp_list_id=backend.mailchimp_list_id or "",
            mailchimp_store_id=backend.mailchimp_store_id or "",
            dotdigital_region=backend.dotdigital_region or "",
            dotdigital_address_book_id=backend.dotdigital_address_book_id or "",
            consent_source=backend.consent_source or "Odoo",
            # Adapters verify webhook signatures with this: the signing secret
            # where the ESP signs (Klaviyo), never the URL token.
            webhook_secret=(
                backend.webhook_signing_secret
                if backend.provider == "klaviyo"
                else backend.webhook_secret
            )
            or "",
            extra={
                "api_endpoint": backend.dotdigital_api_endpoint or "",
                "never_opted_in": backend.dotdigital_never_opted_in or "neutral",
                # A Mailchimp store created by a backfill: the company's.
                "store_name": backend.company_id.name,
                "currency": backend.company_id.currency_id.name,
                # Tags Odoo owns (Mailchimp deactivates only these).
                "managed_tags": backend.env["res.partner.category"]
                .with_context(active_test=False)
                .search([])
                .mapped("name"),
            },
        )

    def _esp_adapter(self):
        """Return the provider adapter, or raise a configuration EspError."""
        self.ensure_one()
        if not self.has_credentials:
            raise EspError(
                _(
                    "The backend %(name)s has no API credentials. An administrator "
                    "must enter them in Settings > ESP Sync.",
                    name=self.name,
                ),
                category="configuration",
                code="missing_credentials",
            )
        return self._esp_build_adapter()

    def _esp_build_adapter(self):
        """The provider's adapter for this backend's settings (engine tests
        put a recording adapter here)."""
        return get_adapter(self._esp_settings())
