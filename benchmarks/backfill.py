"""Backfill throughput and memory, by the product's own backfill and runner.

Usage: python3 benchmarks/backfill.py [--partners 5000] [--orders 500]

On a fresh copy of the esp_sync database (three demo backends aimed at a
sandbox with rate limits off), creates ``--partners`` customers and
``--orders`` confirmed orders without capture, empties the ledger and the
queue, starts a real Odoo server with the queue_job runner (as
``tools/run``), then starts one ``esp.backfill`` (profiles, then orders) per
backend over XML-RPC and waits until all are done. Prints the elapsed time,
records/s per ESP, sandbox requests per ESP, the server's peak RSS (VmHWM),
and a linear extrapolation to the issue's 100,000 partners and 300,000
orders. Exits 1 when the extrapolation exceeds 120 s or the peak RSS 300 MB.
"""

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

DB = c.dbname("espbench_backfill")
TIME_TARGET = 120
RSS_TARGET_MB = 300
ISSUE_PARTNERS, ISSUE_ORDERS = 100_000, 300_000


def populate(env, args):
    """Customers and confirmed orders, not captured (history before install)."""
    env = env(
        context=dict(env.context, esp_sync_no_capture=True, tracking_disable=True)
    )
    partners = env["res.partner"].create(
        [
            {
                "name": f"Backfill customer {i}",
                "email": f"backfill{i}@example.com",
                "customer_rank": 1,
            }
            for i in range(args.partners)
        ]
    )
    product = env["product.product"].create({"name": "Backfill product"})
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


def peak_rss_mb(pid):
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _sep, value = line.partition(":")
            values[key] = value.strip()
    return int(values["VmHWM"].split()[0]) / 1024, int(
        values["VmRSS"].split()[0]
    ) / 1024


def main():
    args = c.parse_options(__doc__, partners=5000, orders=500, timeout=900.0)
    c.start(f"backfill: {args.partners} partners, {args.orders} orders")
    sandbox = c.Sandbox(rate_limits=False)
    port = c.esp_runtime.free_port()
    c.copy_database("with", DB)
    start_fill = time.perf_counter()
    with c.registry_env(DB) as env:
        c.point_backends(env, sandbox)
        env.cr.commit()
        populate(env, args)
    c.release(DB)
    c.say(f"populated in {time.perf_counter() - start_fill:.0f}s")
    sandbox.clear()
    server, log = c.start_server(DB, port)
    try:
        call = c.rpc(port, DB)
        backends = call("esp.backend", "search_read", [], ["name", "provider"])
        runs = call(
            "esp.backfill",
            "create",
            [{"backend_id": b["id"], "scope": "all"} for b in backends],
        )
        started = time.time()
        call("esp.backfill", "action_start", runs)
        finished, samples = {}, []
        while time.time() - started < args.timeout and len(finished) < len(runs):
            time.sleep(1)
            samples.append(peak_rss_mb(server.pid)[1])
            for run in call(
                "esp.backfill",
                "read",
                runs,
                [
                    "backend_id",
                    "state",
                    "sent_count",
                    "error_count",
                    "total_count",
                    "last_error",
                ],
            ):
                if run["state"] in ("done", "failed") and run["id"] not in finished:
                    finished[run["id"]] = (time.time() - started, run)
        peak, _now = peak_rss_mb(server.pid)
        requests = Counter(entry["provider"] for entry in sandbox.requests())
    finally:
        c.stop_process(server, log)
        sandbox.stop()
        c.release(DB)
        c.drop_database(DB)
    return report(args, backends, finished, requests, peak, runs)


def report(args, backends, finished, requests, peak, runs):
    names = {b["id"]: b["provider"] for b in backends}
    rows, misses, slowest = [], [], 0
    for _id, (elapsed, run) in sorted(finished.items()):
        provider = names[run["backend_id"][0]]
        slowest = max(slowest, elapsed)
        rows.append(
            [
                provider,
                run["state"],
                f"{elapsed:.1f}",
                run["sent_count"],
                run["error_count"],
                f"{run['sent_count'] / elapsed:.0f}",
                requests.get(provider, 0),
            ]
        )
    print()
    c.print_table(
        ["ESP", "state", "s", "records sent", "errors", "records/s", "requests"], rows
    )
    scale = (ISSUE_PARTNERS + ISSUE_ORDERS) / (args.partners + args.orders)
    estimate = slowest * scale
    for _elapsed, run in finished.values():
        if run["state"] == "failed":
            error = (run["last_error"] or "")[:300]
            print(f"{names[run['backend_id'][0]]} failed: {error}")
    print(
        f"\npeak RSS of the Odoo server {peak:.0f} MB; slowest backend {slowest:.1f}s;"
        f" linear estimate for {ISSUE_PARTNERS} partners + {ISSUE_ORDERS} orders:"
        f" {estimate:.0f}s"
    )
    if len(finished) < len(runs):
        misses.append(f"{len(runs) - len(finished)} backfill(s) not done in time")
    if estimate > TIME_TARGET:
        misses.append(f"estimated {estimate:.0f}s > {TIME_TARGET}s at the issue's size")
    if peak > RSS_TARGET_MB:
        misses.append(f"peak RSS {peak:.0f} MB > {RSS_TARGET_MB} MB")
    return c.verdict(misses, "Backfill targets met.")


if __name__ == "__main__":
    sys.exit(main())
