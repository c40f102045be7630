# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every esp_sync view loads in a real browser, for each role that reaches it.

The steps are read from the database, never listed by hand: every window
action of the module (each view type it declares, its form on a real record
with every notebook page shown), every "open" button of the module's views
(stat buttons, ``action_open_*``), its wizard buttons pressed on the forms
that show them, and the forms of other models that esp_sync extends. The
browser walks them (tests/browser_walker.js) and fails on any console error
or warning, error dialog, failed RPC or view that does not show up. Odoo's
clickbot then clicks every ESP Sync menu, view switcher and filter.
"""

import json
import re
from pathlib import Path

from lxml import etree

from odoo.tests import HttpCase, new_test_user, tagged

from ..providers.errors import EspError

WALKER = (Path(__file__).parent / "browser_walker.js").read_text()
# Object buttons that only open something (never send, erase or start).
OPENER = re.compile(r"^action_(esp_)?(open_\w+|consent_history|ignore_wizard)$")
START_URL = "/odoo/action-esp_sync.action_esp_sync_exception"


@tagged("post_install", "-at_install")
class TestViewsBrowser(HttpCase):
    allow_end_on_form = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env = env
        cls.env.ref("base.user_admin").tour_enabled = False
        cls.backends = env["esp.backend"].create(
            [
                {"name": "Klaviyo views", "provider": "klaviyo", "api_key": "pk_x"},
                {
                    "name": "Mailchimp views",
                    "provider": "mailchimp",
                    "api_key": "k-us1",
                    "mailchimp_list_id": "aud1",
                },
                {
                    "name": "Dotdigital views",
                    "provider": "dotdigital",
                    "api_user": "u@example.com",
                    "api_secret": "s",
                },
            ]
        )
        backend = cls.backends[0]
        env["esp.audience.rule"].create(
            {"name": "Everyone", "backend_id": cls.backends[1].id, "list_id": "aud1"}
        )
        # A customer who opts in (consent log, events) and buys (sale order).
        partner = env["res.partner"].create(
            {"name": "View Walker", "email": "walker@example.com", "customer_rank": 1}
        )
        partner.esp_marketing_opt_in = True
        product = env["product.product"].create(
            {"name": "Walker Boot", "type": "consu", "is_storable": True}
        )
        env["sale.order"].create(
            {
                "partner_id": partner.id,
                "order_line": [(0, 0, {"product_id": product.id})],
            }
        )
        exception = env["esp.sync.exception"]._esp_record(
            backend, partner, EspError("Email is invalid", category="data")
        )
        exception.event_ids = env["esp.sync.event"].search(
            [("res_model", "=", "res.partner"), ("res_id", "=", partner.id)], limit=1
        )
        env["esp.sync.incident"].create(
            {
                "backend_id": backend.id,
                "kind": "latency",
                "team": "operations",
                "message": "Changes wait 90 minutes",
            }
        )
        env["esp.sync.binding"].create(
            {
                "backend_id": backend.id,
                "res_model": "res.partner",
                "res_id": partner.id,
                "partner_id": partner.id,
                "state": "failed",
                "last_error": "Email is invalid",
            }
        )
        env["esp.backfill"].create({"backend_id": backend.id, "scope": "profiles"})
        run = env["esp.reconcile"].create({"backend_id": backend.id, "state": "done"})
        env["esp.reconcile.line"].create(
            {
                "reconcile_id": run.id,
                "partner_id": partner.id,
                "kind": "missing",
                "fix": "repush",
            }
        )
        sales = "sales_team.group_sale_salesman"
        cls.manager = new_test_user(
            env,
            login="esp_views_manager",
            groups=f"base.group_user,{sales},esp_sync.group_esp_sync_manager",
        )
        cls.user = new_test_user(
            env,
            login="esp_views_user",
            groups=f"base.group_user,{sales},esp_sync.group_esp_sync_user",
        )

    # ------------------------------------------------------------- the steps
    def _module_ids(self, model):
        return (
            self.env["ir.model.data"]
            .search([("module", "=", "esp_sync"), ("model", "=", model)])
            .mapped("res_id")
        )

    def _records(self, user, model):
        """Real records to open a form on: every backend (their pages differ
        by provider), one record of any other model."""
        records = self.env[model].with_user(user)
        if not records.has_access("read"):
            return records.browse()
        if model == "esp.backend":
            return self.backends.with_user(user)
        return records.search([], limit=1, order="id desc")

    def _wizard_buttons(self, user):
        """{model: [ids]}: the wizards the module's views open by a button
        (type="action"), as seen by this user, to press on the model's forms."""
        buttons = {}
        views = self.env["ir.ui.view"].browse(self._module_ids("ir.ui.view"))
        for view in views:
            for button in etree.fromstring(view.arch_db).iter("button"):
                name = button.get("name", "")
                groups = button.get("groups")
                if button.get("type") != "action" or (
                    groups and not any(user.has_group(g) for g in groups.split(","))
                ):
                    continue
                xmlid = re.fullmatch(r"%\((.+)\)d", name)
                action = self.env.ref(xmlid[1]) if xmlid else None
                action = action or self.env["ir.actions.act_window"].browse(int(name))
                if action.target == "new" and self.env[action.res_model].with_user(
                    user
                ).has_access("create"):
                    buttons.setdefault(view.model, []).append(action.id)
        return buttons

    def _action_steps(self, user):
        steps = []
        wizards = self._wizard_buttons(user)
        actions = self.env["ir.actions.act_window"].browse(
            self._module_ids("ir.actions.act_window")
        )
        for action in actions.sorted("id"):
            if action.groups_id and not action.groups_id & user.groups_id:
                continue
            if not self.env[action.res_model].with_user(user).has_access("read"):
                continue
            xmlid = action.get_external_id()[action.id]
            if action.target == "new":
                # A wizard with a button is pressed there, with its context.
                if not any(action.id in ids for ids in wizards.values()):
                    steps.append(self._dialog_step(user, xmlid, action))
                continue
            for view_type in action.view_mode.split(","):
                if view_type == "form":
                    for record in self._records(user, action.res_model):
                        steps.append(
                            {
                                "label": f"{xmlid} form #{record.id}",
                                "action": xmlid,
                                "options": {
                                    "viewType": "form",
                                    "props": {"resId": record.id},
                                },
                                "view": "form",
                                "wizards": wizards.get(action.res_model, []),
                            }
                        )
                else:
                    steps.append(
                        {
                            "label": f"{xmlid} {view_type}",
                            "action": xmlid,
                            "options": {"viewType": view_type},
                            "view": view_type,
                        }
                    )
        return steps

    def _dialog_step(self, user, xmlid, action):
        """A wizard opens as a dialog, from a record of the model it is
        bound to when it has one (its context reads active_ids)."""
        context = {}
        if action.binding_model_id:
            model = action.binding_model_id.model
            record = self._records(user, model)[:1]
            context = {
                "active_model": model,
                "active_id": record.id,
                "active_ids": record.ids,
            }
        return {
            "label": f"{xmlid} dialog",
            "action": xmlid,
            "options": {"additionalContext": context},
            "view": "form",
            "dialog": True,
        }

    def _button_steps(self, user):
        """The module's buttons that open something, pressed on a real record."""
        steps = []
        views = self.env["ir.ui.view"].browse(self._module_ids("ir.ui.view"))
        for view in views.sorted("id"):
            arch = etree.fromstring(view.arch_db)
            for button in arch.iter("button"):
                name = button.get("name", "")
                classes = button.get("class", "")
                if button.get("type") != "object":
                    continue
                if "oe_stat_button" not in classes and not OPENER.match(name):
                    continue
                groups = button.get("groups")
                if groups and not any(user.has_group(g) for g in groups.split(",")):
                    continue
                if view.model == "res.config.settings":
                    if not user.has_group("base.group_system"):
                        continue
                    records = self.env[view.model].with_user(user).create({})
                else:
                    records = self._records(user, view.model)
                for record in records[:1]:
                    # Pressed in the browser: /web/dataset/call_button, as a click.
                    steps.append(
                        {
                            "label": f"{view.model}.{name} #{record.id}",
                            "button": {
                                "type": "object",
                                "name": name,
                                "resModel": view.model,
                                "resId": record.id,
                                "resIds": record.ids,
                            },
                        }
                    )
        return steps

    def _extended_form_steps(self, user):
        """Forms of other modules' models that esp_sync's views extend."""
        steps = []
        wizards = self._wizard_buttons(user)
        views = self.env["ir.ui.view"].browse(self._module_ids("ir.ui.view"))
        models = sorted(
            {v.model for v in views if v.inherit_id and v.type == "form"}
            - {"esp.backend", "res.config.settings"}
        )
        for model in models:
            for record in self._records(user, model):
                steps.append(
                    {
                        "label": f"{model} form #{record.id}",
                        "action": {
                            "type": "ir.actions.act_window",
                            "res_model": model,
                            "res_id": record.id,
                            "views": [[False, "form"]],
                        },
                        "options": {},
                        "view": "form",
                        "wizards": wizards.get(model, []),
                    }
                )
        if user.has_group("base.group_system"):
            steps.append(
                {
                    "label": "settings: the ESP Sync block",
                    "action": "base.res_config_setting_act_window",
                    "options": {"additionalContext": {"module": "esp_sync"}},
                    "view": "form",
                    "expect": ".app_settings_block[data-key='esp_sync']",
                }
            )
        return steps

    def _steps(self, user):
        steps = (
            self._action_steps(user)
            + self._button_steps(user)
            + self._extended_form_steps(user)
        )
        opened = {s.get("action") for s in steps if isinstance(s.get("action"), str)}
        menus = self.env["ir.ui.menu"].with_user(user).load_menus(False)
        root = self.env.ref("esp_sync.menu_esp_sync_root").id
        self.assertIn(root, menus["root"]["children"])
        todo, menu_actions = [root], set()
        while todo:
            menu = menus[todo.pop()]
            todo += menu["children"]
            if menu["action"]:
                model, action_id = menu["action"].split(",")
                action = self.env[model].browse(int(action_id))
                menu_actions.add(action.get_external_id()[action.id])
        self.assertTrue(menu_actions)
        # Every ESP Sync menu item this user sees is one of the walked actions.
        self.assertLessEqual(menu_actions, opened)
        return steps

    def _walk(self, user, login):
        steps = self._steps(user)
        self.browser_js(
            START_URL,
            WALKER.replace("__STEPS__", json.dumps(steps)),
            "odoo.isReady === true",
            login=login,
            timeout=240,
        )
        return steps

    # ------------------------------------------------------------- the tests
    def test_admin_opens_every_view(self):
        admin = self.env.ref("base.user_admin")
        steps = self._walk(admin, "admin")
        labels = " ".join(s["label"] for s in steps)
        for expected in (
            "esp_sync.action_esp_sync_health graph",
            "esp_sync.action_esp_sync_health pivot",
            "esp_sync.action_esp_reconcile_line_ignore dialog",
            "res.partner form",
            "sale.order form",
            "product.template form",
            "esp.backend.action_open_reconcile",
        ):
            self.assertIn(expected, labels)

    def test_manager_opens_every_view(self):
        self._walk(self.manager, self.manager.login)

    def test_user_opens_every_view(self):
        steps = self._walk(self.user, self.user.login)
        labels = " ".join(s["label"] for s in steps)
        self.assertNotIn("action_esp_backfill_wizard", labels)
        self.assertIn("esp_sync.action_esp_sync_exception list", labels)

    def test_clickbot_esp_sync_app(self):
        """Odoo's own crawler on the ESP Sync app only: every menu, every view
        switcher, every filter and group-by of the search views."""
        self.browser_js(
            "/odoo",
            "odoo.loader.modules.get('@web/webclient/clickbot/clickbot_loader')"
            ".startClickEverywhere('esp_sync.menu_esp_sync_root');",
            "odoo.isReady === true",
            login="admin",
            timeout=300,
            success_signal="clickbot test succeeded",
        )
