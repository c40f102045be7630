"""Start the real things the benchmarks measure: the sandbox and Odoo.

Standard library only on this side; Odoo runs in its own runtime (found by
``tools/esp_runtime.py``, never installed here). Every process started here
listens on 127.0.0.1 and is stopped by :func:`stop`.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from esp_runtime import ensure_postgres, find_odoo_python, free_port  # noqa: E402

CHANNELS = "root:6,root.esp_sync.urgent:3,root.esp_sync.bulk:3"


class Runtime:
    """The Odoo runtime and an addons path holding this checkout as esp_sync."""

    def __init__(self):
        found = find_odoo_python()
        if not found:
            raise SystemExit("No Odoo 18 runtime found (see DEVELOPERS.md).")
        if not ensure_postgres():
            raise SystemExit("PostgreSQL is not reachable.")
        self.python, self.version, self.source = found
        self.addons = Path(tempfile.mkdtemp(prefix="esp_sync_bench_addons_"))
        (self.addons / "esp_sync").symlink_to(ROOT)
        self.addons_path = f"{self.addons},{self.source / 'addons'}"

    def odoo(self, db, *args):
        return [
            self.python,
            "-m",
            "odoo",
            "-d",
            db,
            "--addons-path",
            self.addons_path,
            "--db-filter",
            f"^{db}$",
            *args,
        ]

    def install(self, db, log):
        """A fresh database with esp_sync and its demo data."""
        subprocess.run(["dropdb", "--if-exists", db], check=False)
        with open(log, "a") as out:
            subprocess.run(
                self.odoo(db, "-i", "esp_sync", "--stop-after-init"),
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                cwd=tempfile.gettempdir(),
            )

    def start_server(self, db, port, log, workers=0):
        """Odoo with the queue_job runner and the demo's channels."""
        env = dict(os.environ, ODOO_QUEUE_JOB_CHANNELS=CHANNELS)
        args = [
            "--http-port",
            str(port),
            "--load",
            "base,web,queue_job",
            "--workers",
            str(workers),
            "--max-cron-threads",
            "1",
            "--log-level",
            "warn",
        ]
        if workers:
            # Multi-process mode: the gevent port must be free too.
            args += ["--gevent-port", str(free_port()), "--limit-time-real", "600"]
        out = open(log, "a")
        process = subprocess.Popen(
            self.odoo(db, *args),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tempfile.gettempdir(),
            start_new_session=True,
        )
        process.log_handle = out
        if not wait_for(f"http://127.0.0.1:{port}/web/health", 90):
            stop(process)
            raise SystemExit(f"Odoo did not start; see {log}")
        return process


def start_sandbox(runtime, port, log, seed=7):
    out = open(log, "a")
    process = subprocess.Popen(
        [runtime.python, "-m", "sandbox", "--port", str(port), "--seed", str(seed)],
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log_handle = out
    if not wait_for(f"http://127.0.0.1:{port}/_sandbox/health", 30):
        stop(process)
        raise SystemExit(f"The sandbox did not start; see {log}")
    return process


def point_backends_at(db, sandbox_port):
    """Demo backends follow the sandbox's port; real-time streams everywhere."""
    sql = (
        "UPDATE esp_backend SET base_url = regexp_replace(base_url, "
        "'^http://127\\.0\\.0\\.1:[0-9]+/', "
        f"'http://127.0.0.1:{int(sandbox_port)}/'), active = true, "
        "profile_mode = 'realtime', consent_mode = 'realtime', "
        "order_mode = 'realtime', fulfilment_mode = 'realtime', "
        "refund_mode = 'realtime', paused_until = NULL, "
        "dotdigital_api_endpoint = NULL "
        "WHERE base_url LIKE 'http://127.0.0.1:%'"
    )
    subprocess.run(["psql", "-q", "-d", db, "-c", sql], check=True)


def stop(process, sig=signal.SIGTERM, timeout=30):
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
    handle = getattr(process, "log_handle", None)
    if handle:
        handle.close()


def wait_for(url, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.3)
    return False


def http_json(url, payload=None, method=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if data is not None else "GET"),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


class Rpc:
    """JSON-RPC to Odoo (XML-RPC cannot carry the None that wizards return)."""

    def __init__(self, port, db, login="admin", password="admin"):
        self.url = f"http://127.0.0.1:{port}/jsonrpc"
        self.db, self.password = db, password
        self.uid = self.call("common", "login", db, login, password)
        if not self.uid:
            raise SystemExit(f"Cannot log in to {db} as {login}")

    def call(self, service, method, *args, retry_seconds=90):
        """One call; a server that is down (restarting) is waited for."""
        deadline = time.time() + retry_seconds
        while True:
            try:
                return self._call(service, method, *args)
            except (ConnectionError, urllib.error.URLError) as err:
                if time.time() > deadline:
                    raise
                if isinstance(err, urllib.error.HTTPError):
                    raise
                time.sleep(1)

    def _call(self, service, method, *args):
        answer = http_json(
            self.url,
            {
                "jsonrpc": "2.0",
                "method": "call",
                "params": {"service": service, "method": method, "args": args},
                "id": 1,
            },
        )
        if answer.get("error"):
            error = answer["error"].get("data", {}).get("message") or answer["error"]
            raise RuntimeError(f"{method}: {error}")
        return answer["result"]

    def __call__(self, model, method, *args, **kwargs):
        return self.call(
            "object",
            "execute_kw",
            self.db,
            self.uid,
            self.password,
            model,
            method,
            list(args),
            kwargs,
        )
