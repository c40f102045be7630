"""The HTML page at ``/``: what each emulated ESP holds, per account.

For every provider and account: the profiles (members, contacts) with
their consent state, and each one's event timeline. Read-only; refresh
the page to see new data. ``?provider=klaviyo`` shows one provider.
"""

import datetime
import html

from .core import Response

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{margin-top:1.6em;border-bottom:2px solid #ccc}
h3{font-size:1.05em;color:#555}
table{border-collapse:collapse;margin:.4em 0 1em;width:100%}
th,td{border:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4}.muted{color:#888}ol{margin:0;padding-left:1.2em}
.consent-subscribed{color:#070}.consent-unsubscribed,.consent-suppressed{color:#b00}
"""


def page(sandbox, request):
    """Render the page (or a 404 for anything but ``/``)."""
    if request.provider == "favicon.ico" or request.path not in ("/", ""):
        return Response(404, "not found", content_type="text/plain")
    wanted = request.arg("provider")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>ESP sandbox</title><style>",
        _STYLE,
        "</style></head><body><h1>ESP sandbox</h1>",
        f"<p class='muted'>{html.escape(sandbox.url)} &middot; validation "
        f"{'on' if sandbox.config.get('validate') else 'off'} &middot; rate limits "
        f"{'on' if sandbox.config.get('rate_limits') else 'off'} &middot; "
        f"{len(sandbox.requests())} requests logged</p>",
    ]
    for name, app in sorted(sandbox.apps.items()):
        if wanted and name != wanted:
            continue
        count = len(sandbox.requests(name))
        parts.append(
            f"<h2 id='{html.escape(name)}'>{html.escape(name)}</h2>"
            f"<p class='muted'>{count} requests &middot; base URL "
            f"{html.escape(sandbox.base_url(name))} &middot; "
            f"<a href='/_sandbox/state/{html.escape(name)}'>state (JSON)</a> "
            f"&middot; <a href='/_sandbox/requests?provider={html.escape(name)}'>"
            "request log (JSON)</a></p>"
        )
        try:
            rows = app.ui_rows()
        except Exception as exc:  # a provider's bug must not hide the others
            parts.append(f"<p>could not render: {html.escape(repr(exc))}</p>")
            continue
        if not rows:
            parts.append("<p class='muted'>no data yet</p>")
            continue
        parts.extend(_accounts(rows))
    parts.append("</body></html>")
    return Response(200, "".join(parts), content_type="text/html; charset=utf-8")


def _accounts(rows):
    by_account = {}
    for row in rows:
        by_account.setdefault(str(row.get("account", "")), []).append(row)
    for account, items in sorted(by_account.items()):
        yield f"<h3>account {html.escape(account)} ({len(items)})</h3>"
        yield "<table><tr><th>email</th><th>consent</th><th>events</th></tr>"
        for row in items:
            consent = str(row.get("consent", ""))
            css = "consent-" + consent.split()[0].lower() if consent else ""
            yield (
                f"<tr><td>{html.escape(str(row.get('email', '')))}</td>"
                f"<td class='{html.escape(css)}'>{html.escape(consent)}</td>"
                f"<td>{_timeline(row.get('events') or [])}</td></tr>"
            )
        yield "</table>"


def _timeline(events):
    if not events:
        return "<span class='muted'>none</span>"
    items = []
    for event in events:
        if isinstance(event, dict):
            when = event.get("time")
            if isinstance(when, int | float):
                when = datetime.datetime.fromtimestamp(
                    when, datetime.timezone.utc
                ).isoformat(timespec="seconds")
            text = f"{when or ''} {event.get('name', '')} {event.get('detail', '')}"
        else:
            text = str(event)
        items.append(f"<li>{html.escape(text.strip())}</li>")
    return "<ol>" + "".join(items) + "</ol>"
