# pylint: disable=print-used
"""Measure the requests per second the sandbox sustains on loopback.

``python -m sandbox.bench [--seconds 3] [--clients 4]`` starts the sandbox in
a child process (so client and server do not share a GIL) once with spec
validation on and once off, drives Klaviyo ``POST /api/events`` and
``POST /api/profile-import`` from keep-alive sessions for a bounded time
each, and prints one line per run.
"""

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from .klaviyo.common import REVISION

ROOT = Path(__file__).resolve().parents[1]
HEADERS = {
    "Authorization": "Klaviyo-API-Key pk_sandbox_bench",
    "revision": REVISION,
    "Content-Type": "application/vnd.api+json",
}


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(validate):
    port = _free_port()
    cmd = [sys.executable, "-m", "sandbox", "--port", str(port), "--no-rate-limits"]
    if not validate:
        cmd.append("--no-validate")
    child = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/_sandbox/health", timeout=1).ok:
                return child, url
        except requests.ConnectionError:
            time.sleep(0.1)
    child.kill()
    raise SystemExit("sandbox did not start")


def _body(kind, worker, n):
    email = f"bench{worker}-{n % 500}@example.com"
    if kind == "profile-import":
        attributes = {"email": email, "first_name": "B", "properties": {"n": n}}
        return {"data": {"type": "profile", "attributes": attributes}}
    attributes = {
        "properties": {"OrderId": f"SO{worker}-{n}", "ItemNames": ["Mug"]},
        "value": 12.5,
        "unique_id": f"{worker}-{n}",
        "metric": {"data": {"type": "metric", "attributes": {"name": "Placed Order"}}},
        "profile": {"data": {"type": "profile", "attributes": {"email": email}}},
    }
    return {"data": {"type": "event", "attributes": attributes}}


def _drive(url, kind, seconds, clients):
    counts, errors = [0] * clients, [0] * clients
    stop = time.perf_counter() + seconds

    def worker(index):
        session = requests.Session()
        n = 0
        while time.perf_counter() < stop:
            answer = session.post(
                f"{url}/klaviyo/api/{kind}",
                data=json.dumps(_body(kind, index, n)),
                headers=HEADERS,
                timeout=10,
            )
            n += 1
            if answer.status_code < 300:
                counts[index] += 1
            else:
                errors[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return sum(counts) / elapsed, sum(errors)


def main(argv=None):
    """Run the bounded benchmark and print one line per run."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args(argv)
    seconds = max(0.5, min(args.seconds, 30.0))
    clients = max(1, min(args.clients, 32))
    print(f"sandbox loopback benchmark: {clients} clients, {seconds:.1f}s per run")
    for validate in (True, False):
        child, url = _start(validate)
        try:
            for kind in ("events", "profile-import"):
                rate, errors = _drive(url, kind, seconds, clients)
                label = "on " if validate else "off"
                print(
                    f"validation {label} POST /api/{kind:<15} {rate:8.0f} req/s"
                    f"  ({errors} errors)"
                )
        finally:
            child.terminate()
            child.wait(10)


if __name__ == "__main__":
    main()
