"""Write-path overhead: esp_sync with three backends against no esp_sync.

Usage: python3 benchmarks/write_path.py [--full] [--reps 3] [--orders N]
       [--writes N] [--bulk N]

Three workloads, each run on a fresh copy of a database with esp_sync and its
three demo backends ("with") and of one with only sale_stock, account, mail
and queue_job ("base"), repetitions interleaved (base, with, with, base...):

- create and confirm N sale orders of 3 lines, one transaction each;
- N partner writes changing a mapped field (the name), one transaction each;
- one ``write()`` on M partners (the phone), one transaction.

Prints time (min, median), SQL statements per record and queue jobs per
transaction for both, and exits 1 when esp_sync costs more than 1.05x the
baseline time or its extra statements grow with the number of records.
Default sizes run in a few minutes on 2 cores; ``--full`` uses the issue's
(1,000 orders, 10,000 writes, 5,000 partners). No HTTP is made: the queue
job runner is not started, the dispatchers only pile up (one per backend and
channel, deduplicated by their identity key).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

TIME_TARGET = 1.05
SETUP_PARTNERS = 300


def setup(env, args):
    """Customers with an email, a storable product; the same in both databases."""
    partners = env["res.partner"].create(
        [
            {
                "name": f"Bench customer {i}",
                "email": f"bench{i}@example.com",
                "customer_rank": 1,
            }
            for i in range(max(SETUP_PARTNERS, args.writes, args.bulk))
        ]
    )
    products = env["product.product"].create(
        [{"name": f"Bench product {i}", "list_price": 10 + i} for i in range(3)]
    )
    env.cr.commit()
    return partners.ids, products.ids


def workload_orders(env, args, partner_ids, product_ids):
    orders = env["sale.order"]
    for i in range(args.orders):
        order = orders.create(
            {
                "partner_id": partner_ids[i % SETUP_PARTNERS],
                "order_line": [
                    (0, 0, {"product_id": pid, "product_uom_qty": 1 + i % 3})
                    for pid in product_ids
                ],
            }
        )
        order.action_confirm()
        env.cr.commit()
    return args.orders, args.orders


def workload_writes(env, args, partner_ids, _product_ids):
    partners = env["res.partner"].browse(partner_ids)
    for i in range(args.writes):
        partners[i % len(partners)].write({"name": f"Bench renamed {i}"})
        env.cr.commit()
    return args.writes, args.writes


def make_bulk(size):
    def workload_bulk(env, args, partner_ids, _product_ids):
        partners = env["res.partner"].browse(partner_ids[:size])
        partners.write({"phone": "+1 555 0100"})
        env.cr.commit()
        return size, 1

    return workload_bulk


def measure(kind, db, workload, args, profiler=None):
    """Time one workload on a fresh copy; statements and jobs it caused."""
    c.copy_database(kind, db)
    try:
        with c.registry_env(db) as su_env:
            partner_ids, product_ids = setup(su_env, args)
        with c.registry_env(db, uid=2) as env:  # the admin user, not superuser
            c.QueryCounter()
            env.cr.execute("DELETE FROM queue_job")
            env.cr.commit()
            queries = c.QueryCounter.now()
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            records, transactions = workload(env, args, partner_ids, product_ids)
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - start
            queries = c.QueryCounter.now() - queries
            jobs = c.count_jobs(env.cr)
            idle_jobs = probe_jobs(env, workload, args, partner_ids, product_ids)
    finally:
        c.release(db)
        c.drop_database(db)
    return {
        "time": elapsed,
        "queries": queries / records,
        "queries_total": queries,
        "jobs": jobs / transactions,
        "idle_jobs": idle_jobs,
    }


def probe_jobs(env, workload, args, partner_ids, product_ids):
    """Jobs one transaction creates when the queue is idle (none pending)."""
    env.cr.execute("DELETE FROM queue_job")
    env.cr.commit()
    small = argparse.Namespace(**{**vars(args), "orders": 1, "writes": 1})
    if workload.__name__ == "workload_bulk":
        workload = make_bulk(10)
    workload(env, small, partner_ids[::-1], product_ids)
    return c.count_jobs(env.cr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--orders", type=int)
    parser.add_argument("--writes", type=int)
    parser.add_argument("--bulk", type=int)
    parser.add_argument("--only", choices=["orders", "writes", "bulk"], nargs="*")
    parser.add_argument(
        "--profile",
        choices=["orders", "writes", "bulk"],
        help="run that workload once with esp_sync under cProfile, print the top",
    )
    args = parser.parse_args()
    sizes = (1000, 10000, 5000) if args.full else (200, 1000, 2000)
    args.orders = args.orders or sizes[0]
    args.writes = args.writes or sizes[1]
    args.bulk = args.bulk or sizes[2]
    say_sizes = f"{args.orders} orders, {args.writes} writes, bulk {args.bulk}"
    c.start(f"write_path: {say_sizes}, {args.reps} reps")
    bulk_small = max(args.bulk // 10, 1)
    workloads = [
        ("orders", f"create+confirm {args.orders} orders", workload_orders),
        ("writes", f"{args.writes} partner writes", workload_writes),
        ("bulk", f"write() on {args.bulk} partners", make_bulk(args.bulk)),
        ("bulk", f"write() on {bulk_small} partners", make_bulk(bulk_small)),
    ]
    if args.profile:
        chosen = {key: workload for key, _label, workload in workloads[:3]}
        return profile(chosen[args.profile], args)
    results = {}
    for key, label, workload in workloads:
        if args.only and key not in args.only:
            continue
        for rep in range(args.reps):
            order = ("base", "with") if rep % 2 == 0 else ("with", "base")
            for kind in order:
                figures = measure(kind, c.dbname(f"espbench_wp_{kind}"), workload, args)
                results.setdefault((label, kind), []).append(figures)
                print(
                    f"  {label} [{kind}] rep {rep + 1}: {figures['time']:.2f}s "
                    f"{figures['queries']:.1f} q/rec {figures['jobs']:.2f} jobs/tx",
                    flush=True,
                )
    return report(results, [w[1] for w in workloads], args)


def profile(workload, args):
    """cProfile of one run with esp_sync: where the extra time goes."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    figures = measure("with", c.dbname("espbench_wp_prof"), workload, args, profiler)
    path = c.WORK / f"write_path_{args.profile}.prof"
    profiler.dump_stats(path)
    print(f"{figures['time']:.2f}s, {figures['queries']:.1f} q/rec; profile {path}")
    stats = pstats.Stats(profiler).sort_stats("cumulative")
    stats.print_stats("esp_sync", 30)
    return 0


def report(results, labels, args):
    rows, misses, extras = [], [], {}
    for label in labels:
        if (label, "with") not in results:
            continue
        base, with_ = results[(label, "base")], results[(label, "with")]
        b_min, b_med = c.summary([r["time"] for r in base])
        w_min, w_med = c.summary([r["time"] for r in with_])
        ratio = w_med / b_med
        bq = c.summary([r["queries"] for r in base])[0]
        wq = c.summary([r["queries"] for r in with_])[0]
        extras[label] = (
            c.summary([r["queries_total"] for r in with_])[0]
            - (c.summary([r["queries_total"] for r in base])[0])
        )
        rows.append(
            [
                label,
                f"{b_min:.2f} / {b_med:.2f}",
                f"{w_min:.2f} / {w_med:.2f}",
                f"{ratio:.2f}x (min {w_min / b_min:.2f}x)",
                f"{bq:.1f}",
                f"{wq:.1f}",
                f"{with_[0]['jobs']:.3f} ({with_[0]['idle_jobs']} idle)",
            ]
        )
        if ratio > TIME_TARGET:
            misses.append(f"{label}: {ratio:.2f}x > {TIME_TARGET}x")
    print()
    c.print_table(
        [
            "workload",
            "base s min/med",
            "esp_sync s min/med",
            "ratio (median)",
            "base q/rec",
            "esp q/rec",
            "jobs/tx (idle queue)",
        ],
        rows,
    )
    big = [label for label in extras if label.startswith("write() on")]
    if len(big) == 2:
        grown = extras[big[0]] - extras[big[1]]
        print(
            f"\nextra statements of esp_sync: {extras[big[0]]:.0f} for "
            f"{args.bulk} partners, {extras[big[1]]:.0f} for {max(args.bulk // 10, 1)}"
        )
        if grown > 20:
            misses.append(
                f"bulk write: extra statements grow with the records (+{grown:.0f})"
            )
    return c.verdict(misses, "All write-path targets met.")


if __name__ == "__main__":
    sys.exit(main())
