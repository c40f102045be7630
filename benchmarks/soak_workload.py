"""What the soak's clients do: order lifecycles and consent flips, over RPC.

Each client is a thread with its own connection and its own seeded random
generator; customers overlap between clients on purpose. Every operation is
logged with its wall-clock time so the oracle can measure latency.
"""

import random
import threading
import time

from servers import http_json

LIFECYCLES = (
    ("ship_and_invoice", 30),
    ("partial_with_backorder", 20),
    ("partial_credit_note", 20),
    ("ship_then_return", 15),
    ("cancel", 15),
)
FLIPS = ("opt_in", "opt_out", "blacklist", "unblacklist", "esp_unsubscribe")
ESP_ACCOUNTS = {
    "klaviyo": "pk_sandbox_demo",
    "mailchimp": "sandboxdemo-us1",
    "dotdigital": "apiuser-sandbox-demo@apiconnector.com",
}


class Journal:
    """What the clients did, shared between threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}  # order id -> {"confirmed_at": t, "kind": ...}
        self.esp_unsubscribes = []  # (provider, email, t)
        self.flips = []  # (email, kind, t): evidence for a consent mismatch
        self.errors = []

    def add_order(self, order_id, **values):
        with self.lock:
            self.orders[order_id] = values

    def add_error(self, what, error):
        with self.lock:
            self.errors.append(f"{what}: {error}")


class Workload:
    def __init__(self, rpc_factory, sandbox_url, seed, lifecycles, flips, clients):
        self.rpc_factory = rpc_factory
        self.sandbox_url = sandbox_url
        self.seed = seed
        self.lifecycles = lifecycles
        self.flips = flips
        self.clients = clients
        self.journal = Journal()
        self.partners = []  # (id, email)
        self.product_id = None
        self.outage = (0, 0)  # wall-clock window of the ESP outage

    # ------------------------------------------------------------------ setup
    def setup(self, pool_size, tag):
        rpc = self.rpc_factory()
        self.product_id = rpc(
            "product.product",
            "create",
            {
                "name": f"Soak item {tag}",
                "default_code": f"SOAK-{tag}",
                "type": "consu",
                "list_price": 10.0,
                "taxes_id": [(5, 0, 0)],
            },
        )
        rng = random.Random(self.seed)
        values = [
            {
                "name": f"Soak Customer {i}",
                "email": f"soak.{tag}.{i}@example.com",
                "customer_rank": 1,
                "esp_marketing_opt_in": rng.random() < 0.5,
            }
            for i in range(pool_size)
        ]
        ids = rpc("res.partner", "create", values)
        self.partners = [
            (pid, vals["email"]) for pid, vals in zip(ids, values, strict=True)
        ]

    # -------------------------------------------------------------------- run
    def run(self):
        threads = [
            threading.Thread(target=self._client, args=(index,), daemon=True)
            for index in range(self.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _client(self, index):
        rng = random.Random(f"{self.seed}:{index}")
        rpc = self.rpc_factory()
        share = range(index, self.lifecycles + self.flips, self.clients)
        for number in share:
            what = "lifecycle" if number < self.lifecycles else "flip"
            try:
                if what == "lifecycle":
                    self._lifecycle(rpc, rng)
                else:
                    self._flip(rpc, rng)
            except Exception as err:
                self.journal.add_error(what, err)

    # -------------------------------------------------------------- lifecycle
    def _lifecycle(self, rpc, rng):
        partner_id, _email = rng.choice(self.partners)
        kind = rng.choices([k for k, _w in LIFECYCLES], [w for _k, w in LIFECYCLES])[0]
        line = {
            "product_id": self.product_id,
            "price_unit": 10.0,
            "tax_id": [(5, 0, 0)],
        }
        order = rpc(
            "sale.order",
            "create",
            {
                "partner_id": partner_id,
                "order_line": [
                    (0, 0, dict(line, product_uom_qty=3)),
                    (0, 0, dict(line, product_uom_qty=2, price_unit=5.0)),
                ],
            },
        )
        rpc("sale.order", "action_confirm", [order])
        self.journal.add_order(order, confirmed_at=time.time(), kind=kind)
        getattr(self, f"_{kind}")(rpc, order)

    def _pickings(self, rpc, order):
        return rpc("sale.order", "read", [order], ["picking_ids"])[0]["picking_ids"]

    def _ship(self, rpc, picking_ids, quantity=None, backorder=False):
        for picking in rpc("stock.picking", "read", picking_ids, ["move_ids", "state"]):
            if picking["state"] in ("done", "cancel"):
                continue
            for move in rpc(
                "stock.move", "read", picking["move_ids"], ["product_uom_qty"]
            ):
                rpc(
                    "stock.move",
                    "write",
                    [move["id"]],
                    {
                        "quantity": move["product_uom_qty"]
                        if quantity is None
                        else quantity,
                        "picked": True,
                    },
                )
            context = {"skip_backorder": True}
            if not backorder:
                context["picking_ids_not_to_backorder"] = [picking["id"]]
            rpc("stock.picking", "button_validate", [picking["id"]], context=context)

    def _invoice(self, rpc, order):
        context = {
            "active_model": "sale.order",
            "active_ids": [order],
            "active_id": order,
        }
        wizard = rpc(
            "sale.advance.payment.inv",
            "create",
            {"advance_payment_method": "delivered"},
            context=context,
        )
        rpc("sale.advance.payment.inv", "create_invoices", [wizard], context=context)
        invoices = rpc("sale.order", "read", [order], ["invoice_ids"])[0]["invoice_ids"]
        rpc("account.move", "action_post", invoices)
        return invoices

    def _ship_and_invoice(self, rpc, order):
        self._ship(rpc, self._pickings(rpc, order))
        self._invoice(rpc, order)

    def _partial_with_backorder(self, rpc, order):
        first = self._pickings(rpc, order)
        self._ship(rpc, first, quantity=1, backorder=True)
        rest = [p for p in self._pickings(rpc, order) if p not in first]
        self._ship(rpc, rest)

    def _partial_credit_note(self, rpc, order):
        self._ship(rpc, self._pickings(rpc, order))
        invoices = self._invoice(rpc, order)
        journal = rpc("account.move", "read", invoices, ["journal_id"])[0]["journal_id"]
        reversal = rpc(
            "account.move.reversal",
            "create",
            {"journal_id": journal[0]},
            context={"active_model": "account.move", "active_ids": invoices},
        )
        refund = rpc("account.move.reversal", "refund_moves", [reversal])["res_id"]
        lines = rpc("account.move", "read", [refund], ["invoice_line_ids"])[0][
            "invoice_line_ids"
        ]
        rpc(
            "account.move",
            "write",
            [refund],
            {"invoice_line_ids": [(1, lines[0], {"quantity": 1})]},
        )
        rpc("account.move", "action_post", [refund])

    def _ship_then_return(self, rpc, order):
        pickings = self._pickings(rpc, order)
        self._ship(rpc, pickings)
        context = {
            "active_id": pickings[0],
            "active_ids": pickings[:1],
            "active_model": "stock.picking",
        }
        wizard = rpc("stock.return.picking", "create", {}, context=context)
        lines = rpc("stock.return.picking", "read", [wizard], ["product_return_moves"])[
            0
        ]["product_return_moves"]
        for line in lines:
            rpc("stock.return.picking.line", "write", [line], {"quantity": 1})
        back = rpc(
            "stock.return.picking", "action_create_returns", [wizard], context=context
        )
        self._ship(rpc, [back["res_id"]])

    def _cancel(self, rpc, order):
        action = rpc("sale.order", "action_cancel", [order])
        if isinstance(action, dict) and action.get("res_model") == "sale.order.cancel":
            wizard = rpc(
                "sale.order.cancel",
                "create",
                {"order_id": order},
                context=action.get("context") or {},
            )
            rpc("sale.order.cancel", "action_cancel", [wizard])

    # ------------------------------------------------------------------ flips
    def _flip(self, rpc, rng):
        partner_id, email = rng.choice(self.partners)
        kind = rng.choice(FLIPS)
        with self.journal.lock:
            self.journal.flips.append((email, kind, time.time()))
        if kind in ("opt_in", "opt_out"):
            rpc(
                "res.partner",
                "write",
                [partner_id],
                {"esp_marketing_opt_in": kind == "opt_in"},
            )
        elif kind in ("blacklist", "unblacklist"):
            entry = rpc(
                "mail.blacklist",
                "search",
                [("email", "=", email)],
                context={"active_test": False},
            )
            if entry:
                rpc("mail.blacklist", "write", entry, {"active": kind == "blacklist"})
            elif kind == "blacklist":
                rpc("mail.blacklist", "create", {"email": email})
        else:
            provider = rng.choice(sorted(ESP_ACCOUNTS))
            try:
                http_json(
                    f"{self.sandbox_url}/_sandbox/actions/{provider}/unsubscribe",
                    {"email": email, "account": ESP_ACCOUNTS[provider]},
                )
            except OSError:
                return  # the ESP does not know them yet: nothing happened
            with self.journal.lock:
                self.journal.esp_unsubscribes.append((provider, email, time.time()))
