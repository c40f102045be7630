"""In-process profile of backfill steps: where a chunk's time goes.

Used by ``backfill.py --profile ESP``: on a populated database, starts one
``esp.backfill`` (profiles, then orders) for the backend of ``ESP`` and runs
its steps in this process (no runner: the next step is called directly, the
sandbox answers the HTTP), each under cProfile, counting SQL statements.
Prints per phase the records, seconds and statements per record, then the
top functions by cumulative time.
"""

import cProfile
import io
import pstats
import time

import _common as c


def profile_steps(env, provider, max_steps=40, top=25):
    """Run the backfill of ``provider``'s backend step by step; print figures."""
    counter = c.QueryCounter()
    backend = env["esp.backend"].search([("provider", "=", provider)], limit=1)
    run = env["esp.backfill"].create({"backend_id": backend.id, "scope": "all"})
    run.action_start()
    env.cr.commit()
    profiler = cProfile.Profile()
    phases = {}
    for _step in range(max_steps):
        phase, sent_before = run.phase, run.sent_count
        before, started = counter.now(), time.perf_counter()
        profiler.enable()
        message = run._esp_step()
        env.cr.commit()
        profiler.disable()
        elapsed, statements = time.perf_counter() - started, counter.now() - before
        figures = phases.setdefault(phase, [0, 0.0, 0, 0])
        figures[0] += run.sent_count - sent_before
        figures[1] += elapsed
        figures[2] += statements
        figures[3] += 1
        c.say(f"{phase} step: {message} ({elapsed:.2f}s, {statements} statements)")
        if run.state != "running" or (
            run.phase == phase and run.sent_count == sent_before and phase == "orders"
        ):
            break
    rows = [
        [
            phase,
            steps,
            records,
            f"{seconds:.2f}",
            f"{records / seconds:.0f}" if seconds else "-",
            statements,
            f"{statements / records:.2f}" if records else "-",
        ]
        for phase, (records, seconds, statements, steps) in phases.items()
    ]
    print()
    c.print_table(
        ["phase", "steps", "records", "s", "records/s", "SQL", "SQL/record"], rows
    )
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    print(out.getvalue())
    return phases
