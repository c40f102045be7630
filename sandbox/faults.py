"""Seeded fault injection per provider and endpoint.

A rule applies to requests whose provider and endpoint match it::

    {"provider": "klaviyo", "endpoint": "POST /api/events",
     "p_429": 0.1, "p_5xx": 0.05, "delay_ms": 200,
     "p_drop_after_apply": 0.02, "fail_next": 2, "status": 503,
     "outages": [{"start": 0, "end": 30}]}

``endpoint`` is ``"METHOD /template"``, a template, or a glob (``"*"``);
``outages`` are seconds from the moment the rule is configured. Draws come
from one ``random.Random`` per rule and endpoint seeded from the sandbox
seed, so a given seed and request sequence always gives the same faults.
"""

import fnmatch
import random
import threading
from dataclasses import dataclass

SERVER_ERRORS = (500, 502, 503)


@dataclass
class Fault:
    """What to do to one request (``status`` set: answer with that error)."""

    status: int = 0
    reason: str = ""
    delay_ms: int = 0
    drop_after_apply: bool = False
    retry_after: int = 0


class FaultInjector:
    """Holds the rules and decides, per request, which fault applies."""

    def __init__(self, clock, seed=0):
        self.clock = clock
        self.seed = seed
        self.rules = []
        self._rngs = {}
        self._lock = threading.Lock()

    def configure(self, rules, seed=None):
        """Replace the rules (``[]`` clears them); optionally reseed."""
        now = self.clock()
        with self._lock:
            if seed is not None:
                self.seed = seed
            self.rules = []
            for raw in rules or []:
                rule = dict(raw)
                outages = list(rule.pop("outages", []))
                if "outage" in rule:
                    outages.append(rule.pop("outage"))
                rule["_outages"] = [
                    (now + float(o.get("start", 0)), now + float(o["end"]))
                    for o in outages
                ]
                rule["_left"] = int(rule.get("fail_next", 0))
                self.rules.append(rule)
            self._rngs = {}

    def describe(self):
        """The rules as configured (JSON-able)."""
        with self._lock:
            return [
                {k: v for k, v in rule.items() if not k.startswith("_")}
                for rule in self.rules
            ]

    def decide(self, provider, method, template):
        """The :class:`Fault` for one request (empty when none applies)."""
        endpoint = f"{method.upper()} {template}"
        fault = Fault()
        with self._lock:
            for index, rule in enumerate(self.rules):
                if not _matches(rule, provider, endpoint, template):
                    continue
                rng = self._rng(index, provider, endpoint)
                self._apply(rule, rng, fault)
        return fault

    def _rng(self, index, provider, endpoint):
        key = (index, provider, endpoint)
        if key not in self._rngs:
            self._rngs[key] = random.Random(
                f"{self.seed}:{index}:{provider}:{endpoint}"
            )
        return self._rngs[key]

    def _apply(self, rule, rng, fault):
        now = self.clock()
        # Draw every probability each time so the sequence is stable per seed.
        draws = [rng.random() for _ in range(3)]
        status_pick = rng.choice(rule.get("statuses") or SERVER_ERRORS)
        fault.delay_ms = max(fault.delay_ms, int(rule.get("delay_ms", 0)))
        if fault.status:
            return
        for start, end in rule["_outages"]:
            if start <= now < end:
                fault.status = int(rule.get("outage_status", 503))
                fault.reason = "outage"
                fault.retry_after = max(1, int(end - now))
                return
        if rule["_left"] > 0:
            rule["_left"] -= 1
            fault.status = int(rule.get("status", 503))
            fault.reason = "fail_next"
            fault.retry_after = int(rule.get("retry_after", 1))
            return
        if draws[0] < float(rule.get("p_429", 0)):
            fault.status, fault.reason = 429, "p_429"
            fault.retry_after = int(rule.get("retry_after", 1))
        elif draws[1] < float(rule.get("p_5xx", 0)):
            fault.status, fault.reason = status_pick, "p_5xx"
        elif draws[2] < float(rule.get("p_drop_after_apply", 0)):
            fault.drop_after_apply = True
            fault.reason = "drop_after_apply"


def _matches(rule, provider, endpoint, template):
    if not fnmatch.fnmatchcase(provider, rule.get("provider", "*")):
        return False
    pattern = rule.get("endpoint", "*")
    return fnmatch.fnmatchcase(endpoint, pattern) or fnmatch.fnmatchcase(
        template, pattern
    )
