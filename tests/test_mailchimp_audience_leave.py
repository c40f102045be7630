# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from .mailchimp_common import AUDIENCE, MAILCHIMP_KEY, MailchimpCase


class TestMailchimpAudienceLeave(MailchimpCase):
    """A partner who stops matching every audience rule is archived from the
    audience they were in (never left there, never in two), and the opt-out
    they made there survives their return."""

    def test_partner_matching_no_rule_leaves_its_audience(self):
        vip = self.env["res.partner.category"].create({"name": "VIP leave"})
        vip_list = self._create_audience("VIP")
        self.mailchimp.write(
            {
                "audience_rule_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "VIP",
                            "category_ids": [(6, 0, vip.ids)],
                            "list_id": vip_list,
                        },
                    )
                ]
            }
        )
        ann = self.customer
        ann.write({"category_id": [(4, vip.id)], "esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._member(ann.email, vip_list)["status"], "subscribed")
        # Ann unsubscribes at Mailchimp; Odoo has not heard of it yet.
        self.sandbox.action(
            "mailchimp",
            "unsubscribe",
            email=ann.email_normalized,
            list_id=vip_list,
            account=MAILCHIMP_KEY,
        )
        ann.write({"category_id": [(3, vip.id)]})
        self._run_jobs()
        self.assertEqual(self._member(ann.email, vip_list)["status"], "archived")
        binding = self.env["esp.sync.binding"].search(
            [
                ("backend_id", "=", self.mailchimp.id),
                ("res_model", "=", "res.partner"),
                ("res_id", "=", ann.id),
                ("stream", "=", "profile"),
            ]
        )
        self.assertFalse(binding.audience_id, "in no audience now")
        self.assertFalse(ann.esp_marketing_opt_in, "the opt-out was kept in Odoo")
        self.assertTrue(
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", ann.email_normalized), ("active", "=", True)])
        )
        # A later edit while matching nothing sends nothing.
        mark = len(self._calls())
        ann.write({"city": "Hull"})
        self._run_jobs()
        self.assertEqual(self._calls()[mark:], [])
        # Back in the rule: back in the audience, still unsubscribed.
        ann.write({"category_id": [(4, vip.id)]})
        self._run_jobs()
        self.assertEqual(self._member(ann.email, vip_list)["status"], "unsubscribed")

    def test_contact_synced_before_the_rules_moves_at_its_next_sync(self):
        ann = self.customer
        ann.write({"esp_marketing_opt_in": True})
        self._run_jobs()
        self.assertEqual(self._member(ann.email, AUDIENCE)["status"], "subscribed")
        b2c_list = self._create_audience("B2C")
        self.mailchimp.write(
            {
                "audience_rule_ids": [
                    (
                        0,
                        0,
                        {"name": "B2C", "company_type": "b2c", "list_id": b2c_list},
                    )
                ]
            }
        )
        ann.write({"city": "York"})
        self._run_jobs()
        self.assertEqual(self._member(ann.email, b2c_list)["status"], "subscribed")
        self.assertEqual(self._member(ann.email, AUDIENCE)["status"], "archived")
