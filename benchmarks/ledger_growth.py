"""Ledger growth: capture, health, lists, dispatch and vacuum at 10k and 1M rows.

Usage: python3 benchmarks/ledger_growth.py [--small 10000] [--large 1000000]
       [--reps 7]

Two copies of the esp_sync database get synthetic ``esp_sync_event`` rows
(``generate_series``: three backends, every event type, 180 days, 1% pending,
0.2% failed with one open exception per 1,000 rows), then each operation is
timed on both, repetitions interleaved; every operation that writes runs in a
transaction rolled back afterwards, so each repetition sees the same ledger:

- capture of one order confirmation (``order_placed`` + the customer's
  profile), whose lookup of the record's previous order events must not
  grow with the ledger;
- the backend health counters (``esp.backend._compute_health``);
- the exception list (open exceptions, first page and count) and the event
  list (first page);
- the dispatcher's due-groups query (``esp.sync.delivery._esp_due_groups``);
- the vacuum cron (``esp.sync.event._cron_vacuum``).

The small ledger is the baseline: exits 1 when an operation other than the
vacuum takes more than 3x (and 20 ms more than) its time on the small
ledger, or the vacuum leaves order events behind it unaccounted.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

GROWTH_LIMIT = 3.0
SLACK = 0.020
ORDERS = 20

SYNTHETIC = """
INSERT INTO esp_sync_exception (backend_id, company_id, provider, res_model,
       res_id, record_name, stream, category, code, message, first_seen,
       last_seen, count, state, create_uid, write_uid, create_date, write_date)
SELECT b.id, b.company_id, b.provider, 'res.partner', 1000000 + g,
       'Synthetic ' || g, 'profile', 'data', 'invalid_email', 'Bad email',
       now() - interval '1 day', now() - (g || ' seconds')::interval, 1,
       CASE WHEN g %% 3 = 0 THEN 'resolved' ELSE 'open' END, 1, 1, now(), now()
  FROM generate_series(1, %(exceptions)s) g
  JOIN esp_backend b ON b.id = (SELECT min(id) FROM esp_backend);

WITH types AS (
  SELECT ARRAY['profile', 'consent', 'profile', 'order_placed',
               'order_fulfilled', 'profile', 'order_refunded', 'catalog',
               'order_cancelled', 'email_change']::varchar[] AS t,
         ARRAY['profile', 'consent', 'profile', 'order', 'fulfilment',
               'profile', 'refund', 'catalog', 'order', 'profile']::varchar[] AS s
), backends AS (
  SELECT array_agg(id ORDER BY id) AS ids FROM esp_backend
), ex AS (
  SELECT array_agg(id ORDER BY id) AS ids FROM esp_sync_exception
), rows AS (
  SELECT g, types.t[1 + g %% 10] AS event_type, types.s[1 + g %% 10] AS stream,
         backends.ids[1 + g %% 3] AS backend_id, ex.ids AS exceptions
    FROM generate_series(1, %(rows)s) g, types, backends, ex
)
INSERT INTO esp_sync_event (backend_id, company_id, event_type, stream,
       res_model, res_id, record_name, group_ref, sequence, idempotency_key,
       occurred_at, mode, priority, state, due_at, sent_at, attempts,
       exception_id, create_uid, write_uid, create_date, write_date)
SELECT r.backend_id, 1, r.event_type, r.stream,
       CASE WHEN r.stream IN ('profile', 'consent') THEN 'res.partner'
            WHEN r.stream = 'catalog' THEN 'product.template'
            ELSE 'sale.order' END,
       1000000 + g / 7,
       'Synthetic ' || g,
       CASE WHEN r.stream IN ('profile', 'consent') THEN 'res.partner,'
            WHEN r.stream = 'catalog' THEN 'product.template,'
            ELSE 'sale.order,' END || (1000000 + g / 7)
            || CASE WHEN r.event_type = 'consent' THEN ':consent' ELSE '' END,
       10, 'synthetic:' || g,
       now() - ((g %% 180) || ' days')::interval - ((g %% 86400) || ' s')::interval,
       'realtime', CASE WHEN r.event_type IN ('consent', 'order_placed')
                        THEN 5 ELSE 50 END,
       CASE WHEN g %% 100 = 0 THEN 'pending'
            WHEN g %% 500 = 1 THEN 'failed'
            WHEN g %% 50 = 2 THEN 'skipped' ELSE 'sent' END,
       CASE WHEN g %% 100 = 0 THEN now() + interval '1 hour' END,
       CASE WHEN g %% 100 <> 0 THEN now() - ((g %% 180) || ' days')::interval END,
       0,
       CASE WHEN g %% 500 = 1
            THEN r.exceptions[1 + (g / 500) %% array_length(r.exceptions, 1)] END,
       1, 1, now(), now()
  FROM rows r;
ANALYZE esp_sync_event;
ANALYZE esp_sync_exception;
"""


def fill(db, rows):
    sql = SYNTHETIC % {
        "rows": rows,
        "exceptions": max(rows // 1000, 1),
    }
    start = time.perf_counter()
    c.psql(sql, db)
    return time.perf_counter() - start


def prepare_orders(env):
    """Confirmed orders whose Placed rows are rolled back before each capture."""
    partner = env["res.partner"].create(
        {"name": "Ledger customer", "email": "ledger@example.com", "customer_rank": 1}
    )
    product = env["product.product"].create({"name": "Ledger product"})
    orders = env["sale.order"].create(
        [
            {
                "partner_id": partner.id,
                "order_line": [(0, 0, {"product_id": product.id})],
            }
            for _i in range(ORDERS)
        ]
    )
    orders.with_context(esp_sync_no_capture=True).action_confirm()
    env.cr.commit()
    return orders


def timed(env, func):
    """Seconds of ``func(env)``, its writes rolled back."""
    env.invalidate_all()
    start = time.perf_counter()
    result = func(env)
    env.flush_all()
    elapsed = time.perf_counter() - start
    env.cr.rollback()
    env.invalidate_all()
    return elapsed, result


def operations(orders):
    def capture(env):
        order = env["sale.order"].browse(orders[capture.n % len(orders)])
        capture.n += 1
        order._esp_capture("order_placed")
        order._esp_capture_partner_profile()

    capture.n = 0

    def health(env):
        backends = env["esp.backend"].search([])
        backends.invalidate_recordset()
        backends._compute_health()
        return backends.mapped("pending_count")

    def exception_list(env):
        exceptions = env["esp.sync.exception"]
        domain = [("state", "=", "open")]
        return len(exceptions.search(domain, limit=80)), exceptions.search_count(domain)

    def event_list(env):
        return len(env["esp.sync.event"].search([], limit=80))

    def due_groups(env):
        delivery = env["esp.sync.delivery"]
        backend = env["esp.backend"].search([], limit=1)
        return len(delivery._esp_due_groups(backend, "bulk", set()))

    def vacuum(env):
        return env["esp.sync.event"]._cron_vacuum()

    return [
        ("capture of one order confirmation", capture),
        ("backend health counters", health),
        ("exception list (open, page + count)", exception_list),
        ("event list (first page)", event_list),
        ("dispatcher due groups", due_groups),
        ("vacuum cron (rolled back)", vacuum),
    ]


def main():
    args = c.parse_options(__doc__, small=10_000, large=1_000_000, reps=7)
    c.start(f"ledger_growth: {args.small} vs {args.large} rows")
    sizes = {"small": args.small, "large": args.large}
    dbs = {kind: c.dbname(f"espbench_ledger_{kind}") for kind in sizes}
    results, orders, vacuumed = {}, {}, {}
    try:
        for kind, db in dbs.items():
            c.copy_database("with", db)
            seconds = fill(db, sizes[kind])
            c.say(f"{sizes[kind]} synthetic rows in {db} ({seconds:.1f}s)")
            with c.registry_env(db, uid=2) as env:
                orders[kind] = prepare_orders(env).ids
        envs = {}
        stack = []
        for kind, db in dbs.items():
            manager = c.registry_env(db, uid=2)
            envs[kind] = manager.__enter__()
            stack.append(manager)
        ops = {kind: operations(orders[kind]) for kind in dbs}
        for rep in range(args.reps):
            order = ("small", "large") if rep % 2 == 0 else ("large", "small")
            for index in range(len(ops["small"])):
                for kind in order:
                    label, func = ops[kind][index]
                    elapsed, result = timed(envs[kind], func)
                    results.setdefault((label, kind), []).append(elapsed)
                    if label.startswith("vacuum"):
                        vacuumed[kind] = result
        ledger_left = {kind: vacuum_check(envs[kind]) for kind in dbs}
        for manager in stack:
            manager.__exit__(None, None, None)
    finally:
        for db in dbs.values():
            c.release(db)
            c.drop_database(db)
    return report(results, ops["small"], sizes, vacuumed, ledger_left)


def vacuum_check(env):
    """Run the vacuum for real: what remains, by kind (orders must all stay)."""
    env.cr.execute(
        "SELECT count(*) FILTER (WHERE stream IN ('order', 'fulfilment', 'refund')),"
        " count(*) FROM esp_sync_event"
    )
    orders_before, total_before = env.cr.fetchone()
    env["esp.sync.event"]._cron_vacuum()
    env.cr.execute(
        "SELECT count(*) FILTER (WHERE stream IN ('order', 'fulfilment', 'refund')),"
        " count(*) FROM esp_sync_event"
    )
    orders_after, total_after = env.cr.fetchone()
    env.cr.rollback()
    return orders_before, orders_after, total_before, total_after


def report(results, ops, sizes, vacuumed, ledger_left):
    rows, misses = [], []
    for label, _func in ops:
        small = results[(label, "small")]
        large = results[(label, "large")]
        s_min, s_med = c.summary(small)
        l_min, l_med = c.summary(large)
        rows.append(
            [
                label,
                f"{s_min * 1000:.1f} / {s_med * 1000:.1f}",
                f"{l_min * 1000:.1f} / {l_med * 1000:.1f}",
                f"{l_med / s_med:.1f}x",
            ]
        )
        if (
            not label.startswith("vacuum")
            and l_med > GROWTH_LIMIT * s_med
            and l_med - s_med > SLACK
        ):
            misses.append(f"{label}: {l_med / s_med:.1f}x slower at {sizes['large']}")
    print()
    c.print_table(
        [
            "operation",
            f"{sizes['small']} rows ms min/med",
            f"{sizes['large']} rows ms min/med",
            "growth (median)",
        ],
        rows,
    )
    print()
    for kind, (ob, oa, tb, ta) in ledger_left.items():
        print(
            f"vacuum on {sizes[kind]} rows: {tb} -> {ta} rows "
            f"({vacuumed.get(kind)} deleted); order rows {ob} -> {oa}"
        )
        if oa != ob:
            misses.append(f"vacuum deleted {ob - oa} order rows")
    return c.verdict(misses, "All ledger-growth targets met.")


if __name__ == "__main__":
    sys.exit(main())
