"""Reconciliation of 10,000 partners against the sandbox, by the product's runner.

Usage: python3 benchmarks/reconcile.py [--partners 10000] [--orders 1000] [--drift 10]

On a fresh copy of the esp_sync database (updated to this checkout), creates
``--partners`` customers and ``--orders`` confirmed orders without capture,
starts a real Odoo server with the
queue_job runner (as ``tools/run``), loads them at the three sandbox ESPs with
the product's backfill, then edits ``--drift`` Mailchimp members behind Odoo's
back (first name) and times one ``esp.reconcile`` of scope "all" per backend,
one backend after the other (chunks of 100 as queue jobs on the bulk channel,
reads through ``read_profiles``), then the same backend's contact list
(scope "extra", ``read_contacts_page``) and today's orders (scope "orders",
``read_orders``). Prints the
time per ESP, contacts/s, sandbox requests and the differences found by kind.
Exits 1 when a run does not finish or misses a difference injected (the
other differences are printed: e.g. Klaviyo opt-ins, which a backfill never
sends, are "Opt-in not delivered").
"""

import datetime
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

# Own work directory: the addons symlink of _common lives in it, and other
# benchmarks may run from another checkout at the same time.
c.WORK = Path(tempfile.gettempdir()) / "espbench_reconcile"
SCOPES = ("all", "extra", "orders")
UNITS = {"all": "contacts", "extra": "pages", "orders": "weeks"}
DB = c.dbname("espbench_reconcile")


def key_file(db):
    from odoo.tools import config

    return Path(config["data_dir"]) / "esp_sync" / f"{db}.key"


def populate(env, args):
    """Customers not captured (history before install)."""
    env = env(
        context=dict(env.context, esp_sync_no_capture=True, tracking_disable=True)
    )
    for start in range(0, args.partners, 1000):
        env["res.partner"].create(
            [
                {
                    "name": f"Reconcile customer {i}",
                    "email": f"reconcile{i}@example.com",
                    "customer_rank": 1,
                }
                for i in range(start, min(start + 1000, args.partners))
            ]
        )
        env.cr.commit()
    partners = env["res.partner"].search(
        [("email", "=like", "reconcile%@example.com")], order="id"
    )
    product = env["product.product"].create({"name": "Reconcile product"})
    for start in range(0, args.orders, 100):
        orders = env["sale.order"].create(
            [
                {
                    "partner_id": partners[i % len(partners)].id,
                    "order_line": [(0, 0, {"product_id": product.id})],
                }
                for i in range(start, min(start + 100, args.orders))
            ]
        )
        orders.action_confirm()
        env.cr.commit()
    env.cr.execute("DELETE FROM esp_sync_event")
    env.cr.execute("DELETE FROM queue_job")
    env.cr.commit()


def wait(call, model, ids, fields, timeout):
    """``{id: (seconds, values)}`` once each record is done (or failed)."""
    started, finished = time.time(), {}
    while time.time() - started < timeout and len(finished) < len(ids):
        time.sleep(1)
        for values in call(model, "read", ids, ["state", *fields]):
            if values["state"] in ("done", "failed", "cancelled"):
                finished.setdefault(values["id"], (time.time() - started, values))
    return finished


def main():
    args = c.parse_options(
        __doc__, partners=10000, orders=1000, drift=10, timeout=1800.0
    )
    c.start(f"reconcile: {args.partners} partners, {args.drift} edited at Mailchimp")
    sandbox = c.Sandbox(rate_limits=False)
    port = c.esp_runtime.free_port()
    c.copy_database("with", DB)
    # The credentials were encrypted with the template's key (a file named
    # after the database): this copy uses the same key.
    template_key = key_file(c.TEMPLATES["with"])
    if template_key.is_file():
        key_file(DB).write_text(template_key.read_text())
        key_file(DB).chmod(0o600)
    # The template may predate this checkout's fields: update the copy.
    subprocess.run(
        [*c.odoo_cmd(DB, True, "-u", "esp_sync", "--stop-after-init")],
        check=True,
    )
    with c.registry_env(DB) as env:
        c.point_backends(env, sandbox)
        # No daily check during the run.
        env["esp.backend"].search([]).write({"reconcile_sample_size": 0})
        env.cr.commit()
        populate(env, args)
    c.release(DB)
    server, log = c.start_server(DB, port)
    try:
        call = c.rpc(port, DB)
        backends = call(
            "esp.backend", "search_read", [], ["name", "provider", "mailchimp_list_id"]
        )
        fills = call(
            "esp.backfill",
            "create",
            [{"backend_id": b["id"], "scope": "all"} for b in backends],
        )
        call("esp.backfill", "action_start", fills)
        loaded = wait(
            call, "esp.backfill", fills, ["sent_count", "last_error"], args.timeout
        )
        for seconds, values in loaded.values():
            c.say(
                f"backfill {values['state']} in {seconds:.0f}s: "
                f"{values['sent_count']} records {values['last_error'] or ''}"
            )
        list_id = next(
            b["mailchimp_list_id"] for b in backends if b["provider"] == "mailchimp"
        )
        for i in range(args.drift):
            sandbox.api(
                "POST",
                "actions/mailchimp/profile",
                {
                    "email": f"reconcile{i}@example.com",
                    "merges": {"FNAME": "Edited"},
                    "list_id": list_id,
                },
            )
        sandbox.clear()
        # One run at a time: each has the bulk channel to itself.
        runs, finished, requests = [], {}, Counter()
        today = datetime.datetime.now(datetime.timezone.utc).date()
        for backend in backends:
            for scope in SCOPES:
                run = call(
                    "esp.reconcile",
                    "create",
                    {
                        "backend_id": backend["id"],
                        "scope": scope,
                        "date_from": str(today - datetime.timedelta(days=1)),
                        "date_to": str(today),
                    },
                )
                runs.append(run)
                sandbox.clear()
                call("esp.reconcile", "action_start", [run])
                finished.update(
                    wait(
                        call,
                        "esp.reconcile",
                        [run],
                        ["backend_id", "scope", "checked_count", "total_count"],
                        args.timeout,
                    )
                )
                requests[run] = len(sandbox.requests())
        kinds = {}
        for line in call(
            "esp.reconcile.line",
            "search_read",
            [("reconcile_id", "in", runs)],
            ["reconcile_id", "kind", "field_name", "email"],
        ):
            kinds.setdefault(line["reconcile_id"][0], []).append(line)
    finally:
        c.stop_process(server, log)
        sandbox.stop()
        c.release(DB)
        c.drop_database(DB)
        key_file(DB).unlink(missing_ok=True)
    return report(args, backends, finished, requests, kinds, runs)


def report(args, backends, finished, requests, lines, runs):
    names = {b["id"]: b["provider"] for b in backends}
    rows, misses = [], []
    for run_id, (elapsed, run) in sorted(finished.items()):
        provider = names[run["backend_id"][0]]
        found = Counter(
            f"{line['kind']}:{line['field_name'] or ''}"
            for line in lines.get(run_id, [])
        )
        rows.append(
            [
                provider,
                run["scope"],
                run["state"],
                f"{elapsed:.1f}",
                f"{run['checked_count']}/{run['total_count']} {UNITS[run['scope']]}",
                requests.get(run_id, 0),
                ", ".join(f"{k} x{n}" for k, n in sorted(found.items())) or "none",
            ]
        )
        expected = Counter()
        if provider == "mailchimp" and run["scope"] == "all":
            expected["field:first_name"] = args.drift
        if run["state"] != "done":
            misses.append(f"{provider}: {run['state']}")
        elif found & expected != expected:
            misses.append(f"{provider}: found {dict(found)}, injected {dict(expected)}")
    print()
    c.print_table(
        ["ESP", "scope", "state", "s", "checked", "requests", "differences"],
        rows,
    )
    if len(finished) < len(runs):
        misses.append(f"{len(runs) - len(finished)} run(s) not done in time")
    return c.verdict(misses, "Every run finished and found the drift injected.")


if __name__ == "__main__":
    sys.exit(main())
