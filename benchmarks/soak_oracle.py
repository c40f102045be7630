"""Compare what the ESPs hold with what Odoo says, after the queue drained.

Expected events are derived from business records (orders, pickings,
credit notes), never from the engine's own ledger, so a change the engine
failed to record counts as lost.
"""

import collections
import re
import statistics

from servers import http_json

KLAVIYO_METRICS = {
    "placed": "Placed Order",
    "cancelled": "Cancelled Order",
    "fulfilled": "Fulfilled Order",
    "returned": "Returned Items",
    "refunded": "Refunded Order",
}


EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class Report:
    """Counters per ESP and overall; ``problems`` must all be zero."""

    def __init__(self):
        self.figures = collections.OrderedDict()
        self.problems = collections.OrderedDict()
        self.details = []

    def figure(self, name, value):
        self.figures[name] = value

    def problem(self, name, count, examples=()):
        self.problems[name] = self.problems.get(name, 0) + count
        for example in list(examples)[:5]:
            self.details.append(f"{name}: {example}")

    @property
    def clean(self):
        return not any(self.problems.values())


class Oracle:
    def __init__(self, rpc, sandbox_url, workload):
        self.rpc = rpc
        self.sandbox_url = sandbox_url
        self.workload = workload
        self.report = Report()

    def _state(self, provider):
        return http_json(f"{self.sandbox_url}/_sandbox/state/{provider}")

    def _account(self, provider):
        """The state of the demo account (empty when the ESP saw nothing)."""
        accounts = self._state(provider)
        return next(iter(accounts.values()), None) or {
            "events": [],
            "profiles": {},
            "stores": {},
            "members": {},
            "records": {},
            "contacts": {},
        }

    def _requests(self, provider):
        return http_json(f"{self.sandbox_url}/_sandbox/requests?provider={provider}")

    # ------------------------------------------------------------ odoo truth
    def odoo_orders(self):
        """``{order id: {kind: expected count, ...}}`` from business records."""
        ids = sorted(self.workload.journal.orders)
        orders = self.rpc(
            "sale.order", "read", ids, ["state", "picking_ids", "invoice_ids"]
        )
        picking_ids = [p for order in orders for p in order["picking_ids"]]
        move_ids = [m for order in orders for m in order["invoice_ids"]]
        pickings = {
            p["id"]: p
            for p in self.rpc(
                "stock.picking", "read", picking_ids, ["state", "picking_type_code"]
            )
        }
        moves = {
            m["id"]: m
            for m in self.rpc("account.move", "read", move_ids, ["state", "move_type"])
        }
        truth = {}
        for order in orders:
            done = [
                pickings[p]
                for p in order["picking_ids"]
                if pickings[p]["state"] == "done"
            ]
            truth[order["id"]] = {
                "placed": 1,
                "cancelled": int(order["state"] == "cancel"),
                "fulfilled": sum(p["picking_type_code"] == "outgoing" for p in done),
                "returned": sum(p["picking_type_code"] == "incoming" for p in done),
                "refunded": sum(
                    moves[m]["move_type"] == "out_refund"
                    and moves[m]["state"] == "posted"
                    for m in order["invoice_ids"]
                ),
                "state": order["state"],
            }
        return truth

    def odoo_people(self):
        ids = [pid for pid, _email in self.workload.partners]
        partners = self.rpc(
            "res.partner", "read", ids, ["email", "esp_marketing_opt_in"]
        )
        emails = [p["email"] for p in partners]
        blacklisted = {
            b["email"]
            for b in self.rpc(
                "mail.blacklist", "search_read", [("email", "in", emails)], ["email"]
            )
        }
        counts = collections.Counter()
        for group in self.rpc(
            "sale.order",
            "read_group",
            [("partner_id", "in", ids), ("state", "=", "sale")],
            ["partner_id"],
            ["partner_id"],
        ):
            counts[group["partner_id"][0]] = group["partner_id_count"]
        return {
            p["email"]: {
                "id": p["id"],
                "opted_in": p["esp_marketing_opt_in"] and p["email"] not in blacklisted,
                "blacklisted": p["email"] in blacklisted,
                "orders": counts[p["id"]],
            }
            for p in partners
        }

    # --------------------------------------------------------------- checks
    def consent_evidence(self):
        """For each consent mismatch: the flips, and what each ESP holds."""
        emails = {
            found.group(0)
            for line in self.report.details
            if line.startswith("consent:")
            for found in [EMAIL.search(line.split("): ", 1)[-1])]
            if found
        }
        klaviyo = self._account("klaviyo")["profiles"].values()
        return {
            email: {
                "flips": [
                    (kind, round(t, 2))
                    for e, kind, t in self.workload.journal.flips
                    if e == email
                ],
                "esp_unsubscribes": [
                    (provider, round(t, 2))
                    for provider, e, t in self.workload.journal.esp_unsubscribes
                    if e == email
                ],
                "klaviyo": [
                    p["subscriptions"]["email"]
                    for p in klaviyo
                    if p.get("email") == email
                ],
            }
            for email in sorted(emails)
        }

    def check(self):
        truth = self.odoo_orders()
        people = self.odoo_people()
        self.check_klaviyo(truth, people)
        self.check_mailchimp(truth, people)
        self.check_dotdigital(truth, people)
        self.check_engine()
        return self.report

    def check_klaviyo(self, truth, people):
        report = self.report
        state = self._account("klaviyo")
        delivered = collections.Counter()
        for event in state["events"]:
            order_id = str((event.get("properties") or {}).get("OrderId", ""))
            delivered[(order_id, event["metric"])] += 1
        expected_total = lost = duplicated = 0
        lost_examples, dup_examples = [], []
        for order_id, kinds in truth.items():
            for kind, metric in KLAVIYO_METRICS.items():
                want, got = kinds[kind], delivered[(str(order_id), metric)]
                expected_total += want
                if got < want:
                    lost += want - got
                    lost_examples.append(f"order {order_id} {metric}: {got}/{want}")
                if got > want:
                    duplicated += got - want
                    dup_examples.append(f"order {order_id} {metric}: {got}/{want}")
        report.figure("klaviyo events expected", expected_total)
        report.problem("klaviyo events lost", lost, lost_examples)
        report.problem("klaviyo events duplicated", duplicated, dup_examples)
        self._check_klaviyo_order(truth)
        self._check_klaviyo_people(state, people)

    def _check_klaviyo_order(self, truth):
        first = {}
        log = self._requests("klaviyo")
        # The sandbox keeps the last 20,000 requests: orders confirmed before
        # the oldest one kept cannot be judged from the log.
        kept_from = log[0]["time"] if log else 0
        for entry in log:
            if entry["path"] != "/api/events" or entry.get("status") not in (
                200,
                201,
                202,
            ):
                continue
            attributes = ((entry.get("body") or {}).get("data") or {}).get(
                "attributes"
            ) or {}
            metric = attributes.get("metric", {}).get("data", {}).get("attributes", {})
            order_id = str((attributes.get("properties") or {}).get("OrderId", ""))
            first.setdefault((order_id, metric.get("name")), entry["time"])
        wrong, examples = 0, []
        latencies, hit = [], []
        start, end = self.workload.outage
        judged = {
            order_id: values
            for order_id, values in self.workload.journal.orders.items()
            if values["confirmed_at"] > kept_from
        }
        if len(judged) < len(self.workload.journal.orders):
            self.report.figure(
                "orders too old for the request log (order not judged)",
                len(self.workload.journal.orders) - len(judged),
            )
        for order_id, values in judged.items():
            placed = first.get((str(order_id), "Placed Order"))
            if placed:
                latency = max(placed - values["confirmed_at"], 0.0)
                # Orders placed during the outage wait for it by design.
                during = start - 60 <= values["confirmed_at"] <= end
                (hit if during else latencies).append(latency)
            for metric in (
                "Cancelled Order",
                "Fulfilled Order",
                "Refunded Order",
                "Returned Items",
            ):
                at = first.get((str(order_id), metric))
                if at and (not placed or at < placed):
                    wrong += 1
                    examples.append(f"order {order_id}: {metric} before Placed Order")
            fulfilled, returned = (
                first.get((str(order_id), "Fulfilled Order")),
                first.get((str(order_id), "Returned Items")),
            )
            if returned and fulfilled and returned < fulfilled:
                wrong += 1
                examples.append(f"order {order_id}: Returned before Fulfilled")
        self.report.problem("klaviyo events out of order", wrong, examples)
        if latencies:
            latencies.sort()
            self.report.figure(
                "placed latency p50 (s)", round(statistics.median(latencies), 2)
            )
            self.report.figure(
                "placed latency p95 (s)",
                round(
                    latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))], 2
                ),
            )
            self.report.figure("placed latency max (s)", round(latencies[-1], 2))
        if hit:
            self.report.figure("orders confirmed near the outage", len(hit))
            self.report.figure(
                "their longest delay (s) / outage (s)",
                f"{max(hit):.1f} / {end - start:.0f}",
            )

    def _check_klaviyo_people(self, state, people):
        by_email = {p["email"]: p for p in state["profiles"].values() if p.get("email")}
        unsafe, missed, totals = [], [], []
        for email, person in people.items():
            profile = by_email.get(email)
            if not profile:
                continue
            email_sub = profile["subscriptions"]["email"]
            subscribed = (
                email_sub["consent"] == "SUBSCRIBED" and not email_sub["suppression"]
            )
            if subscribed and not person["opted_in"]:
                unsafe.append(f"{email} subscribed at Klaviyo, opted out in Odoo")
            if person["opted_in"] and not subscribed:
                missed.append(f"{email} opted in in Odoo, not subscribed at Klaviyo")
            count = (profile.get("properties") or {}).get("Order Count")
            if person["orders"] and count != person["orders"]:
                totals.append(f"{email}: Order Count {count} != {person['orders']}")
        self.report.problem(
            "consent: subscribed after an opt-out (klaviyo)", len(unsafe), unsafe
        )
        self.report.problem(
            "consent: opt-in not delivered (klaviyo)", len(missed), missed
        )
        self.report.problem("profile totals that differ (klaviyo)", len(totals), totals)

    def check_mailchimp(self, truth, people):
        state = self._account("mailchimp")
        orders = {}
        for store in state["stores"].values():
            orders.update(store.get("orders") or {})
        missing, wrong = [], []
        for order_id, kinds in truth.items():
            order = orders.get(str(order_id))
            if not order:
                missing.append(f"order {order_id}")
                continue
            if kinds["cancelled"] and order["financial_status"] != "cancelled":
                wrong.append(
                    f"order {order_id}: {order['financial_status']} (cancelled)"
                )
            elif kinds["refunded"] and "refunded" not in order["financial_status"]:
                wrong.append(
                    f"order {order_id}: {order['financial_status']} (refunded)"
                )
        self.report.figure("mailchimp orders expected", len(truth))
        self.report.problem("mailchimp orders lost", len(missing), missing)
        self.report.problem("mailchimp order status differs", len(wrong), wrong)
        unsafe = []
        for member in state["members"].values():
            for item in member.values() if "email_address" not in member else [member]:
                person = people.get(item.get("email_address", "").lower())
                if person and item["status"] == "subscribed" and not person["opted_in"]:
                    unsafe.append(f"{item['email_address']} subscribed at Mailchimp")
        self.report.problem(
            "consent: subscribed after an opt-out (mailchimp)", len(unsafe), unsafe
        )

    def check_dotdigital(self, truth, people):
        state = self._account("dotdigital")
        orders = {
            str(record["json"]["id"]): record["json"]
            for key, record in state["records"].items()
            if key.startswith("Orders/")
        }
        missing, wrong = [], []
        for order_id, kinds in truth.items():
            order = orders.get(str(order_id))
            if not order:
                missing.append(f"order {order_id}")
            elif kinds["cancelled"] and order.get("financialStatus") != "cancelled":
                wrong.append(
                    f"order {order_id}: {order.get('financialStatus')} (cancelled)"
                )
        self.report.figure("dotdigital orders expected", len(truth))
        self.report.problem("dotdigital orders lost", len(missing), missing)
        self.report.problem("dotdigital order status differs", len(wrong), wrong)
        unsafe = []
        for contact in state["contacts"].values():
            email = (contact.get("identifiers") or {}).get("email", "").lower()
            person = people.get(email)
            # Subscribed for marketing = subscribed inside an address book:
            # outside one is the neutral state of someone who never opted in.
            books = contact.get("lists") or []
            marketing = contact["status"] == "subscribed" and bool(books)
            if person and marketing and not person["opted_in"]:
                unsafe.append(f"{email} subscribed at Dotdigital")
        self.report.problem(
            "consent: subscribed after an opt-out (dotdigital)", len(unsafe), unsafe
        )

    def check_engine(self):
        rpc = self.rpc
        failed_jobs = rpc(
            "queue.job",
            "search_read",
            [("state", "=", "failed"), ("func_string", "like", "esp.backend")],
            ["func_string", "exc_info"],
        )
        self.report.problem(
            "failed queue jobs",
            len(failed_jobs),
            [
                f"{j['func_string']}: {(j['exc_info'] or '')[-300:]}"
                for j in failed_jobs
            ],
        )
        stuck = rpc(
            "esp.sync.event",
            "search_read",
            [("state", "in", ("pending", "failed")), ("backend_id.active", "=", True)],
            ["event_type", "record_name", "state", "note", "backend_id"],
        )
        self.report.problem(
            "ledger rows stuck (pending or failed)",
            len(stuck),
            [
                f"{r['backend_id'][1]} {r['event_type']} {r['record_name']}: "
                f"{r['state']} {r['note']}"
                for r in stuck
            ],
        )
        exceptions = rpc(
            "esp.sync.exception",
            "search_read",
            [("state", "=", "open")],
            ["backend_id", "category", "message"],
        )
        self.report.problem(
            "open exceptions",
            len(exceptions),
            [
                f"{e['backend_id'][1]} {e['category']}: {e['message'][:160]}"
                for e in exceptions
            ],
        )
        self.report.problem(
            "client errors (the workload itself)",
            len(self.workload.journal.errors),
            self.workload.journal.errors,
        )
