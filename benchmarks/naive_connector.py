"""Naive baseline: an ESP call made synchronously inside write() and confirm.

Usage: python3 benchmarks/naive_connector.py [--reps 3] [--orders 50]
       [--writes 200] [--bulk 500] [--esp-delay-ms 0]

The design most Odoo connectors use, as a throwaway addon generated into a
temporary directory at run time (never committed): ``res.partner.write``
and ``sale.order.action_confirm`` POST each record to the three ESPs of the
sandbox (started here, validation and rate limits off) before returning;
``--esp-delay-ms 100`` makes the sandbox answer as late as a real ESP does
(loopback answers in about a millisecond, which flatters the naive design).
The write-path workloads of ``write_path.py`` then run on a database with
it ("naive"), one with esp_sync ("with") and one with neither ("base"),
repetitions interleaved. Prints the time ratio of each against the base;
exits 1 when esp_sync is not faster than the naive connector.
"""

import argparse
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c
import write_path as wp

NAIVE = "espbench_tpl_naive"

MANIFEST = """{
    "name": "Naive ESP connector (benchmark only)",
    "version": "18.0.1.0.0",
    "license": "LGPL-3",
    "depends": ["sale_stock", "account", "mail", "queue_job"],
    "installable": True,
}
"""

MODELS = """
import requests

from odoo import models

PATHS = ("klaviyo/api/profile-import", "mailchimp/3.0/lists/x/members",
         "dotdigital/contacts/v3/import")


def post_all(env, payloads):
    url = env["ir.config_parameter"].sudo().get_param("esp_naive.url")
    if not url:
        return
    for payload in payloads:
        for path in PATHS:
            requests.post(f"{url}/{path}", json=payload, timeout=10)


class ResPartner(models.Model):
    _inherit = "res.partner"

    def write(self, vals):
        result = super().write(vals)
        post_all(self.env, [{"email": p.email, "name": p.name} for p in self])
        return result


class SaleOrder(models.Model):
    _inherit = "sale.order"

    def action_confirm(self):
        result = super().action_confirm()
        post_all(self.env, [
            {"order": o.name, "email": o.partner_id.email,
             "total": o.amount_total,
             "lines": [(line.product_id.name, line.product_uom_qty)
                       for line in o.order_line]}
            for o in self
        ])
        return result
"""


def generate_addon():
    root = c.WORK / "naive_addons"
    addon = root / "esp_naive"
    (addon / "models").mkdir(parents=True, exist_ok=True)
    (addon / "__manifest__.py").write_text(MANIFEST)
    (addon / "__init__.py").write_text("from . import models\n")
    (addon / "models" / "__init__.py").write_text("from . import naive\n")
    (addon / "models" / "naive.py").write_text(textwrap.dedent(MODELS))
    c.EXTRA_ADDONS.append(str(root))
    c.TEMPLATES["naive"] = NAIVE


def ensure_naive_template():
    installed = "SELECT state FROM ir_module_module WHERE name = 'esp_naive'"
    if c.database_exists(NAIVE):
        if c.psql(installed, NAIVE) == "installed":
            return
        c.drop_database(NAIVE)
    c.say(f"Building template {NAIVE} (base modules + the naive addon)")
    c.subprocess.run(["createdb", "-T", c.TEMPLATES["base"], NAIVE], check=True)
    cmd = c.odoo_cmd(NAIVE, False, "-i", "esp_naive", "--stop-after-init")
    c.subprocess.run([*cmd, "--log-level=warn"], check=True)
    if c.psql(installed, NAIVE) != "installed":
        sys.exit("The naive addon did not install.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--orders", type=int, default=50)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=500)
    parser.add_argument(
        "--esp-delay-ms",
        type=int,
        default=0,
        help="answer every ESP request this late (a real ESP's round trip)",
    )
    args = parser.parse_args()
    generate_addon()
    c.start(
        f"naive_connector: {args.orders} orders, {args.writes} writes, bulk "
        f"{args.bulk}, {args.reps} reps, ESP delay {args.esp_delay_ms} ms"
    )
    ensure_naive_template()
    sandbox = c.Sandbox(rate_limits=False, validate=False)
    if args.esp_delay_ms:
        rules = [
            {"provider": provider, "endpoint": "*", "delay_ms": args.esp_delay_ms}
            for provider in ("klaviyo", "mailchimp", "dotdigital")
        ]
        sandbox.api("POST", "config", {"faults": rules})
    original_setup = wp.setup

    def setup(env, setup_args):
        if "esp_naive" in env["ir.module.module"]._installed():
            env["ir.config_parameter"].set_param("esp_naive.url", sandbox.url)
        return original_setup(env, setup_args)

    wp.setup = setup
    workloads = [
        (f"create+confirm {args.orders} orders", wp.workload_orders),
        (f"{args.writes} partner writes", wp.workload_writes),
        (f"write() on {args.bulk} partners", wp.make_bulk(args.bulk)),
    ]
    kinds = ["base", "naive", "with"]
    results = {}
    try:
        for label, workload in workloads:
            for rep in range(args.reps):
                order = kinds[rep % 3 :] + kinds[: rep % 3]
                for kind in order:
                    sandbox.clear()
                    figures = wp.measure(
                        kind, c.dbname(f"espbench_nv_{kind}"), workload, args
                    )
                    results.setdefault((label, kind), []).append(figures["time"])
                    calls = len(sandbox.requests())
                    print(
                        f"  {label} [{kind}] {figures['time']:.2f}s, "
                        f"{calls} ESP calls in the user's transactions "
                        "(probe included)",
                        flush=True,
                    )
    finally:
        sandbox.stop()
    rows, misses = [], []
    for label, _workload in workloads:
        base = c.summary(results[(label, "base")])
        naive = c.summary(results[(label, "naive")])
        with_ = c.summary(results[(label, "with")])
        rows.append(
            [
                label,
                f"{base[0]:.2f} / {base[1]:.2f}",
                f"{naive[0]:.2f} / {naive[1]:.2f} ({naive[1] / base[1]:.2f}x)",
                f"{with_[0]:.2f} / {with_[1]:.2f} ({with_[1] / base[1]:.2f}x)",
            ]
        )
        if with_[1] >= naive[1]:
            misses.append(f"{label}: esp_sync not faster than the naive connector")
    print()
    c.print_table(
        ["workload (s min / median)", "base", "naive (ratio)", "esp_sync (ratio)"],
        rows,
    )
    return c.verdict(
        misses, "esp_sync is ahead of the naive connector on every workload."
    )


if __name__ == "__main__":
    sys.exit(main())
