"""The naive backfill (``backfill.py --naive``): what most connectors do.

A loop over the customers and the confirmed orders that POSTs each record to
each of the three ESPs, one request at a time, waiting for each answer (the
paths and payloads of ``naive_connector.py``; a kept-alive session, which
flatters it). Timed on the same database and sandbox as the product's
backfill of the same run, so the two figures sit side by side.
"""

import time

import requests

PATHS = (
    "klaviyo/api/profile-import",
    "mailchimp/3.0/lists/x/members",
    "dotdigital/contacts/v3/import",
)


def naive_backfill(env, sandbox_url):
    """Seconds and requests to send every customer and order, one by one."""
    partners = env["res.partner"].search([("customer_rank", ">", 0)])
    orders = env["sale.order"].search([("state", "=", "sale")])
    session = requests.Session()
    sent = 0
    started = time.perf_counter()
    for partner in partners:
        payload = {"email": partner.email, "name": partner.name}
        for path in PATHS:
            session.post(f"{sandbox_url}/{path}", json=payload, timeout=10)
            sent += 1
    for order in orders:
        payload = {
            "order": order.name,
            "email": order.partner_id.email,
            "total": order.amount_total,
            "lines": [
                (line.product_id.name, line.product_uom_qty)
                for line in order.order_line
            ],
        }
        for path in PATHS:
            session.post(f"{sandbox_url}/{path}", json=payload, timeout=10)
            sent += 1
    return {
        "seconds": time.perf_counter() - started,
        "partners": len(partners),
        "orders": len(orders),
        "requests": sent,
    }
