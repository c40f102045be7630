"""``backfill.py --rate-limited``: the backfill under the published limits.

The theoretical minimum of one ESP's backfill is the larger of two bounds:

- the limits: the requests the backfill needs (its own endpoints: crons
  beside it are listed, not counted), grouped as the sandbox counts
  them (per endpoint: method and path template), each group of ``N``
  requests under a fixed window of ``L`` requests per ``W`` seconds (the
  published limit times ``--rate-scale``, at least 1) cannot end before its
  ``ceil(N / L)``-th window opens: ``(floor(t0 / W) + ceil(N / L) - 1) * W -
  t0`` seconds after the start ``t0`` (windows are aligned on the clock, as
  the ESPs' and the sandbox's are); the largest over groups and windows;
- the work: the same backfill's elapsed time with the limits off, measured
  in the same run (no pacing can make Odoo build the chunks faster), plus
  the waits the windows force on that run's own requests, each kept at its
  time and moved to the first window with room, later ones moved with it
  (the backfill is one chain of jobs; ``forced_waits``).

Needed requests are the accepted ones of the rate-limited run (a 429 is a
request the backfill did not need), crons beside it included (the consent
poll reads the profiles the backfill creates). The 429 share of the target is
that of the backfill's own requests (bulk calls, their status reads, the
store); the share over every request is printed beside it. Mailchimp
publishes no window, only 10 connections at a time, which one backfill job
never reaches: its bound is the work alone.
"""

import math
import sys
from collections import Counter, defaultdict

import _common as c

RATIO_TARGET = 1.15
THROTTLED_TARGET = 0.01


def published_limits(provider, method, template, path):
    """``[(limit, seconds)]`` the sandbox applies to one endpoint."""
    sys.path.insert(0, str(c.ROOT))
    from sandbox import specs
    from sandbox.ratelimit import parse_rate

    if provider == "klaviyo":
        op = specs.operation("klaviyo", method, template) or {}
        raw = op.get("x-klaviyo-ratelimit") or {"burst": "75/s", "steady": "700/m"}
        return [parse_rate(value) for value in raw.values()]
    if provider == "dotdigital":
        from sandbox.dotdigital.app import _tier
        from sandbox.dotdigital.common import TIER_LIMITS

        class Request:
            pass

        request = Request()
        request.path, request.method = path, method
        return [(TIER_LIMITS[_tier(request)], 60)]
    return []


def is_backfill_request(entry):
    """Whether the backfill itself made the request (bulk calls, their
    status reads, the store it marks as syncing), not a cron beside it."""
    where = entry.get("template") or entry["path"]
    return any(word in where for word in ("bulk", "import", "batches", "stores"))


def limits_bound(entries, provider, start, scale):
    """``(seconds, lines)``: the limits' lower bound and how it was computed."""
    needed, throttled = Counter(), Counter()
    paths = {}
    for entry in entries:
        key = (entry["method"], entry.get("template") or entry["path"])
        if entry.get("status") == 429:
            throttled[key] += 1
        else:
            needed[key] += 1
            paths[key] = entry["path"]
    bound, lines = 0.0, []
    for (method, template), count in sorted(needed.items()):
        own = is_backfill_request({"template": template, "path": template})
        lines.append(
            f"  {provider} {method} {template}: {count} requests"
            f" ({throttled[(method, template)]} more answered 429)"
            + ("" if own else ", a cron's: not in the backfill's bound")
        )
        if not own:
            continue
        for limit, seconds in published_limits(
            provider, method, template, paths[(method, template)]
        ):
            scaled = max(1, int(limit * scale))
            windows = math.ceil(count / scaled)
            first = math.floor(start / seconds)
            seconds_needed = max(0.0, (first + windows - 1) * seconds - start)
            bound = max(bound, seconds_needed)
            lines.append(
                f"    {limit}/{seconds}s x {scale} = {scaled}/{seconds}s ->"
                f" {windows} windows -> {seconds_needed:.0f}s"
            )
    return bound, lines


def forced_waits(free_entries, provider, free_start, start, scale):
    """Seconds the windows force on the limits-off run's own requests.

    Each backfill request of ``provider`` keeps its time after the start of
    the limits-off run, moved by the waits before it (the backfill is one
    chain of jobs: a request that waits delays every later one), and waits
    for the first window with room, the windows aligned on the clock from
    the rate-limited run's start ``start``.
    """
    used, shift = Counter(), 0.0
    own = sorted(
        (e for e in free_entries if e["provider"] == provider),
        key=lambda e: e["time"],
    )
    for entry in own:
        if not is_backfill_request(entry) or entry.get("status") == 429:
            continue
        key = (entry["method"], entry.get("template") or entry["path"])
        windows = [
            (max(1, int(limit * scale)), seconds)
            for limit, seconds in published_limits(provider, *key, entry["path"])
        ]
        moment = start + (entry["time"] - free_start) + shift
        while True:
            full = [
                (math.floor(moment / seconds) + 1) * seconds
                for limit, seconds in windows
                if used[(key, seconds, math.floor(moment / seconds))] >= limit
            ]
            if not full:
                break
            shift += max(full) - moment
            moment = max(full)
        for _limit, seconds in windows:
            used[(key, seconds, math.floor(moment / seconds))] += 1
    return shift


def compare(args, run_backfills, phase_rates):
    """Both runs, the table, the misses (the script's exit status)."""
    base_box = c.Sandbox(rate_limits=False)
    try:
        base = run_backfills(args, c.dbname("espbench_backfill_free"), base_box)
    finally:
        base_box.stop()
    limited_box = c.Sandbox(rate_limits=True, rate_scale=args.rate_scale)
    try:
        limited = run_backfills(args, c.dbname("espbench_backfill_rl"), limited_box)
    finally:
        limited_box.stop()
    free, paced = phase_rates(base), phase_rates(limited)
    by_provider = defaultdict(list)
    for entry in limited["requests"]:
        by_provider[entry["provider"]].append(entry)
    rows, misses, formula = [], [], []
    for provider in sorted(paced):
        entries = by_provider[provider]
        bound, lines = limits_bound(
            entries, provider, limited["started"], args.rate_scale
        )
        formula += lines
        work = free.get(provider, {}).get("elapsed", 0.0)
        waits = forced_waits(
            base["requests"],
            provider,
            base["started"],
            limited["started"],
            args.rate_scale,
        )
        minimum = max(bound, work + waits)
        elapsed = paced[provider]["elapsed"]
        throttled = sum(1 for e in entries if e.get("status") == 429)
        own = [e for e in entries if is_backfill_request(e)]
        own_throttled = sum(1 for e in own if e.get("status") == 429)
        share = own_throttled / len(own) if own else 0.0
        ratio = elapsed / minimum if minimum else float("inf")
        rows.append(
            [
                provider,
                paced[provider]["state"],
                f"{work:.1f}",
                f"{waits:.1f}",
                f"{bound:.1f}",
                f"{elapsed:.1f}",
                f"{ratio:.2f}",
                f"{own_throttled}/{len(own)} ({100 * share:.1f}%)",
                f"{throttled}/{len(entries)}",
            ]
        )
        if paced[provider]["state"] != "done":
            misses.append(f"{provider}: backfill {paced[provider]['state']}")
        if ratio > RATIO_TARGET:
            misses.append(f"{provider}: {ratio:.2f}x the minimum > {RATIO_TARGET}x")
        if share >= THROTTLED_TARGET:
            misses.append(
                f"{provider}: {100 * share:.1f}% of the backfill's requests"
                " answered 429"
            )
    print(
        "\nminimum = max(limits bound, limits-off elapsed + the waits the"
        " windows force on the limits-off run's own requests);"
    )
    print("limits bound per endpoint = (floor(t0/W) + ceil(N/L) - 1) * W - t0:")
    print("\n".join(formula) or "  (no window applies)")
    print()
    c.print_table(
        [
            "ESP",
            "state",
            "limits off s",
            "forced waits s",
            "limits bound s",
            "rate-limited s",
            "elapsed/minimum",
            "429: backfill's requests",
            "429: all requests",
        ],
        rows,
    )
    return c.verdict(misses, "Rate-limited backfill targets met.")
