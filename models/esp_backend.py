# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import secrets
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL
from odoo.tools.safe_eval import safe_eval

from odoo.addons.queue_job.exception import RetryableJobError

from .. import const
from ..providers import BackendSettings, EspError, get_adapter
from ..providers.retry import retry_delay


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

    @api.depends("provider", "api_key", "api_user", "api_secret")
    def _compute_has_credentials(self):
        for backend, sudo_backend in zip(self, self.sudo(), strict=True):
            if backend.provider == "dotdigital":
                backend.has_credentials = bool(
                    sudo_backend.api_user and sudo_backend.api_secret
                )
            else:
                backend.has_credentials = bool(sudo_backend.api_key)

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
        return super().create(vals_list)

    def write(self, vals):
        switched = {"sync_profiles", "sync_consent", "partner_domain"} & set(vals)
        if switched and "resync_needed" not in vals:
            vals = dict(vals, resync_needed=True)
        return super().write(vals)

    def action_resync(self):
        """Resend every in-scope profile as a backfill (after a mapping change)."""
        self.ensure_one()
        self.env["esp.sync.delivery"]._esp_check_admin_or_manager()
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
    def action_test_connection(self):
        """Call the ESP with the stored credentials and report the result."""
        self.ensure_one()
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
        self.env["esp.sync.delivery"]._esp_check_admin_or_manager()
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
        return get_adapter(self._esp_settings())

    # ------------------------------------------------------ Mailchimp audiences
    def _esp_audience_adapters(self):
        """One adapter per audience: the backend's own, then its rules'."""
        self.ensure_one()
        adapter = self._esp_adapter()
        if not self.audience_rule_ids:
            return [adapter]
        adapters, seen = [], set()
        if adapter.settings.mailchimp_list_id:
            adapters.append(adapter)
            seen.add(adapter.settings.mailchimp_list_id)
        for rule in self.audience_rule_ids.filtered(lambda r: r.list_id not in seen):
            seen.add(rule.list_id)
            settings = rule._esp_settings(adapter.settings)
            adapters.append(get_adapter(settings, transport=adapter.transport))
        return adapters

    def _esp_webhook_updates(self, headers, body):
        """Consent updates of a webhook call, from whichever audience sent it."""
        updates, seen = [], set()
        for adapter in self._esp_audience_adapters():
            for update in adapter.parse_webhook(headers, body):
                if (update.email, update.status) not in seen:
                    seen.add((update.email, update.status))
                    updates.append(update)
        return updates

    def action_mailchimp_register_webhook(self):
        """Register Odoo's webhook URL on every audience of this backend.

        Only unsubscribes/cleans made by people or Mailchimp admins are sent
        (not the "api" source), so our own writes never echo back.
        """
        self.ensure_one()
        secret = self.sudo().webhook_secret
        url = f"{self.get_base_url()}/esp_sync/webhook/{self.id}/{secret}"
        lists = []
        for adapter in self._esp_audience_adapters():
            try:
                adapter.register_webhook(url)
            except EspError as err:
                if err.status != 400 or "already" not in err.message.lower():
                    raise UserError(
                        _("Registering the webhook failed: %(error)s", error=err)
                    ) from err
            lists.append(adapter.settings.mailchimp_list_id)
        return self._esp_notify(
            _("Webhook registered"),
            _("Audiences: %(lists)s", lists=", ".join(lists)),
        )

    def action_mailchimp_setup_store(self):
        """Create the e-commerce store of each audience that has a store id."""
        self.ensure_one()
        adapter = self._esp_adapter()
        stores = []
        # With rules, orders go to the rules' stores only.
        if not self.audience_rule_ids and self.mailchimp_store_id:
            stores.append((adapter, self.company_id.name))
        for rule in self.audience_rule_ids.filtered("store_id"):
            settings = rule._esp_settings(adapter.settings)
            stores.append(
                (
                    get_adapter(settings, transport=adapter.transport),
                    f"{self.company_id.name} - {rule.name}",
                )
            )
        if not stores:
            raise UserError(_("Set an audience and a store id first."))
        done = []
        for store_adapter, name in stores:
            try:
                store_adapter.ensure_store(
                    name,
                    self.company_id.currency_id.name,
                    list_id=store_adapter.settings.mailchimp_list_id,
                )
            except EspError as err:
                raise UserError(
                    _("Setting up the store failed: %(error)s", error=err)
                ) from err
            done.append(store_adapter.settings.mailchimp_store_id)
        return self._esp_notify(
            _("Stores ready"), _("Stores: %(stores)s", stores=", ".join(done))
        )

    @api.model
    def _esp_notify(self, title, message):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": message,
                "type": "success",
                "sticky": False,
            },
        }

    # ------------------------------------------------------------ routing
    @api.model
    def _esp_backends_for_company(self, company, stream):
        """Active backends of ``company`` with ``stream`` switched on."""
        switch = {
            "profile": "sync_profiles",
            "consent": "sync_consent",
            "order": "sync_orders",
            "fulfilment": "sync_fulfilments",
            "refund": "sync_refunds",
            "catalog": "sync_catalog",
        }[stream]
        return self.sudo().search([("company_id", "=", company.id)]).filtered(switch)

    def _esp_in_scope(self, partners, companies=None):
        """The subset of ``partners`` this backend syncs: the one scope rule.

        Used by capture, backfill and audience routing alike: the backend's
        company is one of the partner's companies, the partner matches the
        backend's domain (evaluated as superuser; a broken domain is an IT
        exception, never a failed user write), is no company's own partner,
        and matches an audience rule when the backend has rules.
        """
        self.ensure_one()
        if not partners:
            return partners
        partners = partners.sudo()
        companies = companies or partners._esp_companies_of()
        partners = partners.filtered(lambda p: self.company_id in companies[p.id])
        company_partners = self.env["res.company"].sudo().search([]).partner_id
        candidates = partners.sudo().with_context(active_test=False)
        try:
            synced = candidates.filtered_domain(safe_eval(self.partner_domain or "[]"))
        except Exception as exc:  # never break the user's write
            # A domain that no longer evaluates (field removed by an uninstall)
            # must not make partner edits fail: record it for IT instead.
            self.env["esp.sync.exception"]._esp_record(
                self,
                self,
                EspError(
                    _(
                        "The partner domain of %(name)s no longer works: %(error)s",
                        name=self.name,
                        error=exc,
                    ),
                    category="configuration",
                    code="domain_invalid",
                ),
            )
            return partners.browse()
        synced -= company_partners
        if self.audience_rule_ids:
            synced = self.audience_rule_ids._esp_filter(synced)
        return synced

    def _esp_knows(self, partner):
        """True when this backend holds ``partner`` or someone with their email."""
        self.ensure_one()
        domain = [("partner_id", "=", partner.id)]
        if partner.email_normalized:
            domain = [
                "|",
                ("partner_id", "=", partner.id),
                ("partner_id.email_normalized", "=", partner.email_normalized),
            ]
        return bool(
            self.env["esp.sync.binding"]
            .sudo()
            .search_count([("backend_id", "=", self.id), *domain], limit=1)
        )

    def _esp_sync_products(self, templates):
        """Return the subset of ``templates`` this backend's catalogue holds."""
        self.ensure_one()
        if not templates:
            return templates
        domain = safe_eval(self.product_domain or "[]")
        return templates.sudo().with_context(active_test=False).filtered_domain(domain)

    def _esp_stream_mode(self, stream):
        self.ensure_one()
        return self[f"{stream}_mode"]

    # ---------------------------------------------------------------- jobs
    def _esp_dispatch(self, channel):
        """Job: deliver this backend's due ordering groups (esp.sync.delivery)."""
        self.ensure_one()
        return self.env["esp.sync.delivery"]._esp_dispatch(self, channel)

    def _esp_enqueue_pending(self, scheduled_only=False):
        """Make every pending row of this backend due now and wake delivery."""
        self.ensure_one()
        mode = SQL("AND mode = 'scheduled'") if scheduled_only else SQL("")
        self.env.cr.execute(
            SQL(
                """
                UPDATE esp_sync_event SET due_at = %s
                 WHERE backend_id = %s AND state = 'pending'
                   AND (due_at IS NULL OR due_at > %s) %s
                """,
                fields.Datetime.now(),
                self.id,
                fields.Datetime.now(),
                mode,
            )
        )
        count = self.env.cr.rowcount
        self.env["esp.sync.event"].invalidate_model(["due_at"])
        if count:
            self.env["esp.sync.delivery"]._esp_wake_pending(self)
        return count

    # ---------------------------------------------------------------- crons
    @api.model
    def _cron_deliver_scheduled(self):
        """Deliver the changes of scheduled streams of backends now due."""
        now = fields.Datetime.now()
        for backend in self.search([]):
            due = not backend.last_batch_at or (
                backend.last_batch_at + timedelta(minutes=backend.batch_interval) <= now
            )
            if due:
                backend._esp_enqueue_pending(scheduled_only=True)
                backend.sudo().last_batch_at = now

    @api.model
    def _cron_check_latency(self):
        """Health check (kept under its old name for existing cron records):
        incidents that reach people, see ``esp.sync.incident``."""
        return self._cron_check_health()

    @api.model
    def _cron_poll_consent(self):
        """Pull unsubscribes and suppressions made in the ESPs since last poll."""
        for backend in self.search([("sync_consent", "=", True)]):
            backend.with_delay(
                channel=const.CHANNEL_URGENT,
                priority=const.PRIORITY_URGENT,
                identity_key=f"esp_sync:{backend.id}:poll_consent",
            )._esp_poll_consent()

    def _esp_poll_consent(self):
        """Job: fetch consent changes made at the ESP and apply them in Odoo."""
        self.ensure_one()
        if not self.active:
            return _("Backend archived: not polled.")
        # First poll: the whole history (opt-outs made before esp_sync count).
        since = self.last_consent_poll_at or fields.Datetime.to_datetime("2000-01-01")
        started = fields.Datetime.now()
        try:
            updates = []
            for adapter in self._esp_audience_adapters():
                updates += adapter.fetch_consent_updates(since)
        except EspError as err:
            if err.retryable:
                # Soon, by the one retry policy, not at the next cron run.
                raise RetryableJobError(
                    str(err), seconds=int(retry_delay(err, 0)), ignore_retry=True
                ) from err
            self.env["esp.sync.exception"]._esp_record(self, self, err)
            return str(err)
        applied = self.env["res.partner"]._esp_apply_consent_updates(self, updates)
        self.sudo().last_consent_poll_at = started
        return f"{len(updates)} consent changes read, {applied} partners updated"
