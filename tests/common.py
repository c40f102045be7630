# Copyright 2026 esp_sync developers
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os

import responses

from odoo.tests import common
from odoo.tests.common import TransactionCase

# queue_job >= 18.0.4 registers its patcher in SETATTR_SOURCES, which Odoo 18
# builds older than mid-2025 lack; give it an empty registry to fill.
if not hasattr(common, "SETATTR_SOURCES"):
    common.SETATTR_SOURCES = {}

from odoo.addons.queue_job.tests.common import trap_jobs

from ..providers.testing import RecordingAdapter


def use_shared_specs():
    """Point the sandbox's request validation at ``../shared/specs`` (the
    addon directory may be a symlink: resolved), unless already set."""
    addon = os.path.realpath(os.path.join(os.path.dirname(__file__), os.pardir))
    specs = os.path.join(os.path.dirname(addon), "shared", "specs")
    os.environ.setdefault("ESP_SYNC_SPECS_DIR", specs)


KLAVIYO_KEY = "pk_test_0123456789abcdef"


class EspSyncCase(TransactionCase):
    """Fixtures of every Odoo-tier test, about no ESP in particular: a
    backend, a customer, a product, trapped jobs, the ledger, and deliveries
    to a RecordingAdapter (``_recorder``).

    The backend is made by ``_create_test_backend`` (a Klaviyo-provider one,
    whose consent Odoo masters, unless a subclass says otherwise); each
    ESP's HTTP helpers are mixins: ``klaviyo_common.KlaviyoHttpMixin``
    (responses), ``mailchimp_common.MailchimpSandboxMixin`` (the sandbox).
    """

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # Let every request reach `responses` (mocked at the transport);
        # an unmocked URL fails there with a ConnectionError.
        return common._super_send(s, r, **kw)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        # Demo backends (sandbox) must not take part in these tests.
        cls.env["esp.backend"].search([]).write({"active": False})
        cls.company = cls.env.company
        cls.backend = cls._create_test_backend()
        # Fixtures are made without capture; each test traps its own jobs.
        quiet = cls.env["res.partner"].with_context(esp_sync_no_capture=True)
        cls.customer = quiet.create(
            {
                "name": "Ann Customer",
                "email": "Ann.Customer@Example.com",
                "customer_rank": 1,
                "city": "Leeds",
            }
        )
        cls.customer = cls.customer.with_context(esp_sync_no_capture=False)
        cls.product = cls.env["product.product"].create(
            {
                "name": "Trail Shoe",
                "default_code": "SHOE-1",
                "type": "consu",
                "list_price": 100.0,
                "taxes_id": [(5, 0, 0)],
            }
        )
        cls.events = cls.env["esp.sync.event"]

    @classmethod
    def _create_test_backend(cls):
        """The backend the tests deliver to."""
        return cls.env["esp.backend"].create(
            {
                "name": "Klaviyo test",
                "provider": "klaviyo",
                "api_key": KLAVIYO_KEY,
                "company_id": cls.company.id,
            }
        )

    def setUp(self):
        super().setUp()
        self.trap = self.enterContext(trap_jobs())

    def _order(self, partner=None, qty=3.0, confirm=True):
        order = self.env["sale.order"].create(
            {
                "partner_id": (partner or self.customer).id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": qty,
                            "price_unit": 100.0,
                            "tax_id": [(5, 0, 0)],
                        },
                    )
                ],
            }
        )
        if confirm:
            order.action_confirm()
        return order

    def _deliver(self, picking, qty=None):
        """Validate ``picking`` shipping ``qty`` per move (all by default)."""
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty if qty is None else qty
            move.picked = True
        picking.with_context(cancel_backorder=False)._action_done()
        return picking

    def _ledger(self, **domain):
        """Ledger rows matching ``field=value`` pairs, oldest first."""
        return self.events.search([(k, "=", v) for k, v in domain.items()], order="id")

    def _other_company_backend(self, api_key="pk_brand_b"):
        """A second company ("Brand B") with a Klaviyo backend of its own."""
        company = self.env["res.company"].create({"name": "Brand B"})
        return self.env["esp.backend"].create(
            {
                "name": "Klaviyo B",
                "provider": "klaviyo",
                "company_id": company.id,
                "api_key": api_key,
            }
        )

    @staticmethod
    def _mock():
        """A responses mock; unmatched URLs fail with a ConnectionError."""
        return responses.RequestsMock(assert_all_requests_are_fired=False)

    def _recording(self):
        """Deliveries go to one RecordingAdapter per backend, never to HTTP.

        Engine tests assert what the engine asked the adapter, not the ESP's
        HTTP bodies (those belong to provider and sandbox tests). Returns
        ``{backend id: RecordingAdapter}``, filled as backends deliver.
        """
        adapters = {}

        def recording_adapter(backend):
            backend.ensure_one()
            if backend.id not in adapters:
                settings = backend._esp_settings()
                adapters[backend.id] = RecordingAdapter(settings)
            return adapters[backend.id]

        self.patch(
            type(self.env["esp.backend"]), "_esp_build_adapter", recording_adapter
        )
        return adapters

    def _recorder(self):
        """The RecordingAdapter the test backend delivers to."""
        adapters = self._recording()
        return adapters.setdefault(
            self.backend.id, RecordingAdapter(self.backend._esp_settings())
        )

    def _run_jobs(self, rounds=5):
        """Perform the trapped jobs, and the follow-up jobs they enqueue."""
        performed = 0
        for _round in range(rounds):
            if not self.trap.enqueued_jobs:
                break
            performed += len(self.trap.enqueued_jobs)
            for job in self.trap.enqueued_jobs:
                # A job enqueued by an HTTP request (a webhook) holds that
                # request's closed cursor: run it in the test's.
                job.recordset = job.recordset.with_env(self.env)
            self.trap.perform_enqueued_jobs()
        return performed
