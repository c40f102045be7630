"""The ``/_sandbox`` control API (JSON), mirroring the Python helpers.

``GET health``, ``GET requests?provider=&since=``, ``DELETE requests``,
``GET state/{provider}?account=``, ``POST reset[/{provider}]``,
``GET|POST config``, ``POST actions/{provider}/{name}`` (JSON params),
``GET webhooks``, ``POST clock`` (``{"advance": seconds}``).
"""

import json

from .core import Response


def handle(sandbox, request):
    """Answer one ``/_sandbox/...`` request."""
    parts = [part for part in request.path.split("/") if part]
    method = request.method
    try:
        params = json.loads(request.body) if request.body else {}
    except ValueError as exc:
        return Response(400, {"error": f"malformed JSON: {exc}"})
    if not isinstance(params, dict):
        return Response(400, {"error": "expected a JSON object"})
    try:
        return _route(sandbox, request, method, parts, params)
    except KeyError as exc:
        return Response(404, {"error": str(exc.args[0] if exc.args else exc)})
    except (TypeError, ValueError) as exc:
        return Response(400, {"error": str(exc)})


def _route(sandbox, request, method, parts, params):
    head = parts[0] if parts else ""
    if head == "health" and method == "GET":
        return Response(200, {"status": "ok", "providers": sorted(sandbox.apps)})
    if head == "requests" and method == "GET":
        since = int(request.arg("since", 0) or 0)
        return Response(200, sandbox.requests(request.arg("provider"), since))
    if head == "requests" and method == "DELETE":
        sandbox.clear_requests()
        return Response(200, {"cleared": True})
    if head == "state" and method == "GET" and len(parts) == 2:
        return Response(200, sandbox.state(parts[1], request.arg("account")))
    if head == "reset" and method == "POST":
        sandbox.reset(parts[1] if len(parts) > 1 else None)
        return Response(200, {"reset": parts[1] if len(parts) > 1 else "all"})
    if head == "config" and method == "GET":
        return Response(200, sandbox.describe_config())
    if head == "config" and method == "POST":
        return Response(200, sandbox.configure(**params))
    if head == "actions" and method == "POST" and len(parts) == 3:
        return Response(200, sandbox.action(parts[1], parts[2], **params))
    if head == "webhooks" and method == "GET":
        return Response(200, sandbox.webhooks())
    if head == "clock" and method == "POST":
        return Response(200, {"now": sandbox.advance(params.get("advance", 0))})
    return Response(404, {"error": f"no sandbox route {method} /{'/'.join(parts)}"})
