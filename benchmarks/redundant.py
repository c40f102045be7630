"""Redundant work: ESP calls and queue jobs that a change does not need.

Usage: python3 benchmarks/redundant.py [--writes 50] [--bulk 500]

On a fresh copy of the esp_sync database with its three demo backends aimed
at a sandbox started here, the dispatcher jobs run in-process after each
commit (``esp.backend._esp_dispatch``) and the sandbox's request log counts
the ESP calls. The baseline, measured in the same run, is what one profile
change costs per ESP; targets:

- 50 writes to one partner while its delivery is queued cost what 1 costs;
- re-saving a partner without a change (same name; an unmapped field) costs
  0 ESP calls;
- a bulk write touching no mapped field records no ledger row and enqueues
  no job.

Exits 1 when a target is missed.
"""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c

DB = c.dbname("espbench_redundant")


def deliver(env):
    """Run every backend's dispatchers now, as the queue job runner would."""
    env.cr.commit()
    for backend in env["esp.backend"].search([]):
        for channel in ("urgent", "bulk"):
            backend._esp_dispatch(channel)
    env.cr.commit()


def calls(sandbox):
    """ESP calls since the last clear, per provider; then clear."""
    counted = Counter(entry["provider"] for entry in sandbox.requests())
    sandbox.clear()
    return dict(counted)


def ledger_and_jobs(env):
    env.cr.execute("SELECT count(*) FROM esp_sync_event")
    rows = env.cr.fetchone()[0]
    return rows, c.count_jobs(env.cr)


def run(env, sandbox, args):
    partner_model = env["res.partner"]
    people = partner_model.create(
        [
            {
                "name": f"Redundant {i}",
                "email": f"redundant{i}@example.com",
                "customer_rank": 1,
            }
            for i in range(max(args.bulk, 3))
        ]
    )
    deliver(env)
    sandbox.clear()
    results = {}

    # Baseline: one profile change.
    one = people[0]
    one.write({"name": "Redundant renamed once"})
    env.cr.commit()
    deliver(env)
    results["1 write (baseline)"] = calls(sandbox)

    # 50 writes while the delivery is queued, then one delivery.
    many = people[1]
    for i in range(args.writes):
        many.write({"name": f"Redundant renamed {i}"})
        env.cr.commit()
    deliver(env)
    results[f"{args.writes} writes while queued"] = calls(sandbox)

    # Re-saves: the same name, then an unmapped field.
    one.write({"name": one.name})
    env.cr.commit()
    deliver(env)
    results["re-save, same name"] = calls(sandbox)
    one.write({"comment": "<p>not mapped</p>"})
    env.cr.commit()
    deliver(env)
    results["write of an unmapped field"] = calls(sandbox)

    # A bulk write touching no mapped field.
    env.cr.execute("DELETE FROM queue_job")
    env.cr.commit()
    before = ledger_and_jobs(env)
    people.write({"ref": "BULK-REF"})
    env.cr.commit()
    after = ledger_and_jobs(env)
    deliver(env)
    results[f"bulk write of an unmapped field on {len(people)}"] = calls(sandbox)
    bulk_rows, bulk_jobs = after[0] - before[0], after[1] - before[1]
    return results, bulk_rows, bulk_jobs


def main():
    args = c.parse_options(__doc__, writes=50, bulk=500)
    c.start(f"redundant: {args.writes} writes, bulk {args.bulk}")
    sandbox = c.Sandbox()
    c.copy_database("with", DB)
    try:
        with c.registry_env(DB) as env:
            c.point_backends(env, sandbox)
            env.cr.commit()
            results, bulk_rows, bulk_jobs = run(env, sandbox, args)
    finally:
        sandbox.stop()
        c.release(DB)
        c.drop_database(DB)
    providers = sorted({p for counted in results.values() for p in counted})
    rows = [
        [label, *(counted.get(p, 0) for p in providers)]
        for label, counted in results.items()
    ]
    print()
    c.print_table(["scenario (ESP calls)", *providers], rows)
    print(
        f"\nbulk write of an unmapped field: {bulk_rows} ledger rows, {bulk_jobs} jobs"
    )
    baseline = results["1 write (baseline)"]
    misses = []
    queued = results[f"{args.writes} writes while queued"]
    for provider in providers:
        if queued.get(provider, 0) > baseline.get(provider, 0):
            misses.append(
                f"{args.writes} writes cost {queued.get(provider, 0)} {provider} "
                f"calls, one write costs {baseline.get(provider, 0)}"
            )
    for label, counted in list(results.items())[2:]:
        if sum(counted.values()):
            misses.append(f"{label}: {sum(counted.values())} ESP calls (target 0)")
    if bulk_rows or bulk_jobs:
        misses.append(f"bulk unmapped write: {bulk_rows} rows, {bulk_jobs} jobs")
    return c.verdict(misses, "All redundant-work targets met.")


if __name__ == "__main__":
    sys.exit(main())
