#!/usr/bin/env python3
"""Soak esp_sync on a real Odoo server: concurrency, faults, crashes.

    python3 benchmarks/soak.py --short          # ~50 lifecycles, 25 flips (CI)
    python3 benchmarks/soak.py --full           # 1,000 lifecycles, 500 flips
    python3 benchmarks/soak.py --workers 2      # Odoo's multi-process mode
    python3 benchmarks/soak.py --crash          # SIGKILL Odoo mid-delivery

Starts its own sandbox (seeded faults: 429s, 5xx, connections dropped after
the write was applied, one outage) and its own Odoo server with the
queue_job runner on a fresh database (or ``--db`` of an installed one),
drives order lifecycles and consent flips from concurrent clients on
overlapping customers, waits for the queue to drain, then compares the
ESPs with Odoo. Exits 1 on any lost, duplicated or out-of-order event,
consent mismatch, failed job, stuck row or open exception.
"""

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import (
    Rpc,
    Runtime,
    free_port,
    http_json,
    point_backends_at,
    start_sandbox,
    stop,
)
from soak_oracle import Oracle
from soak_workload import Workload

SIZES = {"short": (50, 25, 30), "full": (1000, 500, 200)}


def fault_rules(outage_start, outage_seconds):
    """20% 429, 5% 5xx, 2% dropped after apply, one outage, on every ESP."""
    return [
        {
            "provider": "*",
            "endpoint": "*",
            "p_429": 0.2,
            "p_5xx": 0.05,
            "p_drop_after_apply": 0.02,
            "retry_after": 1,
            "outages": [{"start": outage_start, "end": outage_start + outage_seconds}],
        }
    ]


def drain(rpc, timeout, say):
    """Wait until no ledger row is pending and no esp_sync job is alive.

    A job retrying within the next minute (a consent poll answered 429 under
    the faults) is alive: the oracle must not read Odoo before it commits.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        soon = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 60))
        pending = rpc(
            "esp.sync.event",
            "search_count",
            [("state", "=", "pending"), ("backend_id.active", "=", True)],
        )
        jobs = rpc(
            "queue.job",
            "search_count",
            [
                ("state", "in", ("pending", "enqueued", "started")),
                ("func_string", "like", "esp.backend"),
                "|",
                ("eta", "=", False),
                ("eta", "<=", soon),
            ],
        )
        if not pending and not jobs:
            return True
        say(f"draining: {pending} row(s) pending, {jobs} job(s) alive")
        time.sleep(5)
    return False


def trigger_consent_poll(rpc):
    cron = rpc(
        "ir.model.data",
        "search_read",
        [("module", "=", "esp_sync"), ("name", "=", "ir_cron_esp_poll_consent")],
        ["res_id"],
    )[0]["res_id"]
    rpc("ir.cron", "method_direct_trigger", [cron])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--short", action="store_true", help="the CI run (default)")
    size.add_argument("--full", action="store_true")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--crash", action="store_true", help="SIGKILL Odoo mid-run")
    parser.add_argument("--no-faults", action="store_true")
    parser.add_argument(
        "--outage", type=int, help="seconds of ESP outage (20 short, 60 full)"
    )
    parser.add_argument("--db", help="use this installed database (kept)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain-timeout", type=int, default=420)
    args = parser.parse_args()

    lifecycles, flips, pool = SIZES["full" if args.full else "short"]
    tag = uuid.uuid4().hex[:6]
    log = Path(tempfile.gettempdir()) / f"esp_sync_soak_{tag}.log"
    started = time.time()

    def say(message):
        print(f"[soak {time.time() - started:6.1f}s] {message}", flush=True)

    runtime = Runtime()
    db = args.db or f"esp_sync_soak_{tag}"
    if not args.db:
        say(f"installing esp_sync with demo data in {db} (log: {log})")
        runtime.install(db, log)
    sandbox_port, http_port = free_port(), free_port()
    sandbox = start_sandbox(runtime, sandbox_port, log, seed=args.seed)
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    point_backends_at(db, sandbox_port)
    server = runtime.start_server(db, http_port, log, workers=args.workers)
    processes = [sandbox, server]
    report = None
    try:
        rpc = Rpc(http_port, db)
        workload = Workload(
            lambda: Rpc(http_port, db),
            sandbox_url,
            args.seed,
            lifecycles,
            flips,
            args.clients,
        )
        workload.setup(pool, tag)
        if not args.no_faults:
            outage = (
                args.outage if args.outage is not None else (60 if args.full else 20)
            )
            http_json(
                f"{sandbox_url}/_sandbox/config", {"faults": fault_rules(10, outage)}
            )
            workload.outage = (time.time() + 10, time.time() + 10 + outage)
            say(f"faults on: 20% 429, 5% 5xx, 2% drops, {outage}s outage from t+10s")
        mode = f"--workers {args.workers}" if args.workers else "threaded"
        say(
            f"driving {lifecycles} lifecycles and {flips} consent flips from "
            f"{args.clients} clients ({mode})"
        )
        if args.crash:
            server = crash_midway(runtime, workload, server, db, http_port, log, say)
            processes[1] = server
        else:
            workload.run()
        say("workload done; pulling ESP-side unsubscribes")
        trigger_consent_poll(rpc)
        drained = drain(rpc, args.drain_timeout, say)
        recovery = {}
        if args.crash:
            # The backfill crash measures recovery, not pacing: faults off.
            http_json(f"{sandbox_url}/_sandbox/config", {"faults": []})
            server, recovery = crash_during_backfill(
                runtime, rpc, server, db, http_port, log, args.drain_timeout, say
            )
            processes[1] = server
            drained = drained and recovery.get("backfill") is not None
        http_json(f"{sandbox_url}/_sandbox/config", {"faults": []})
        if not drained:
            say("the queue did not drain in time")
        oracle = Oracle(rpc, sandbox_url, workload)
        report = oracle.check()
        if not report.clean:
            keep_evidence(oracle, db, say)
        for phase, seconds in recovery.items():
            report.figure(f"recovered after SIGKILL during {phase} (s)", seconds)
    finally:
        for process in processes:
            stop(process)
        runtime_cleanup(runtime)
        if not args.db and (report is None or report.clean):
            os.system(f"dropdb --if-exists {db} >/dev/null 2>&1")
        elif not args.db:
            say(f"database {db} kept for inspection (dropdb {db} when done)")
    print_report(report, drained, time.time() - started, log)
    return 0 if report.clean and drained else 1


def keep_evidence(oracle, db, say):
    """Write the consent mismatches' evidence beside the server log."""
    path = Path(tempfile.gettempdir()) / f"{db}.evidence.json"
    path.write_text(json.dumps(oracle.consent_evidence(), indent=1, default=str))
    say(f"consent evidence: {path}")


def crash_midway(runtime, workload, server, db, port, log, say):
    """Run the workload, SIGKILL Odoo while it delivers, restart, measure."""
    import threading

    thread = threading.Thread(target=workload.run, daemon=True)
    thread.start()
    time.sleep(15)
    say("SIGKILL Odoo while it delivers")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    killed = time.time()
    server = runtime.start_server(db, port, log)
    say(f"Odoo restarted {time.time() - killed:.1f}s after the kill")
    thread.join()
    return server


def crash_during_backfill(runtime, rpc, server, db, port, log, timeout, say):
    """Start a backfill of every backend, SIGKILL Odoo, restart, let it finish."""
    backends = rpc("esp.backend", "search", [("active", "=", True)])
    for backend in backends:
        wizard = rpc(
            "esp.backfill.wizard", "create", {"backend_id": backend, "scope": "all"}
        )
        rpc("esp.backfill.wizard", "action_start", [wizard])
    time.sleep(3)
    say("SIGKILL Odoo during the backfills")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait()
    killed = time.time()
    server = runtime.start_server(db, port, log)
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = rpc("esp.backfill", "search_read", [], ["state"])
        if all(run["state"] in ("done", "failed", "cancelled") for run in runs):
            break
        time.sleep(5)
    finished = drain(rpc, max(deadline - time.time(), 30), say)
    runs = rpc("esp.backfill", "search_read", [], ["state", "backend_id"])
    say("backfills: " + ", ".join(f"{r['backend_id'][1]} {r['state']}" for r in runs))
    done = finished and all(run["state"] == "done" for run in runs)
    return server, {"backfill": round(time.time() - killed, 1) if done else None}


def runtime_cleanup(runtime):
    import shutil

    shutil.rmtree(runtime.addons, ignore_errors=True)


def print_report(report, drained, seconds, log):
    print("\n=== soak report")
    for name, value in report.figures.items():
        print(f"  {name:48} {value}")
    for name, value in report.problems.items():
        print(f"  {name:48} {value}{'   <-- FAIL' if value else ''}")
    if report.details:
        print("  examples:")
        for line in report.details[:40]:
            print(f"    {line}")
    print(f"  drained: {drained}; {seconds:.0f}s in all; log: {log}")
    print("soak: clean" if report.clean and drained else "soak: FAILED")


if __name__ == "__main__":
    sys.exit(main())
