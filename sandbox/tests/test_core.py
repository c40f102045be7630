"""Server pipeline with a toy provider: routing, errors, log, limits."""

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from sandbox import Sandbox
from sandbox.core import (
    Headers,
    MethodNotAllowed,
    ProviderApp,
    Response,
    RouteNotFound,
    Router,
)


class ToyApp(ProviderApp):
    name = "toy"
    max_body = 1000

    def routes(self):
        return [
            ("GET", "/items/{id}", self.get_item),
            ("GET", "/items/special", self.special),
            ("POST", "/items", self.add_item),
            ("GET", "/boom", self.boom),
        ]

    def authenticate(self, request):
        if request.headers.get("X-Crash"):
            raise RuntimeError("authenticate bug")
        key = request.headers.get("Authorization", "")
        if not key.startswith("toy-"):
            return self.error(401, "bad key", code="auth")
        return key

    def error(self, status, detail, field=None, code=None, title=None):
        return Response(status, {"toy_error": detail, "code": code, "field": field})

    def get_item(self, request):
        return {"id": request.path_params["id"], "account": request.account}

    def special(self, request):
        return {"special": True}

    def add_item(self, request):
        with self.lock:
            self.account_state(request.account).setdefault("items", []).append(
                request.json
            )
        return Response(201, request.json)

    def boom(self, request):
        raise RuntimeError("handler bug")


@pytest.fixture(scope="module")
def toy():
    with Sandbox(port=0, providers=[ToyApp]) as sandbox:
        yield sandbox


AUTH = {"Authorization": "toy-1"}


def test_router_prefers_literal_paths():
    router = Router([("GET", "/a/{id}", "param"), ("GET", "/a/b", "literal")])
    assert router.match("GET", "/a/b")[1] == "literal"
    assert router.match("GET", "/a/c") == ("/a/{id}", "param", {"id": "c"})
    with pytest.raises(MethodNotAllowed):
        router.match("POST", "/a/c")
    with pytest.raises(RouteNotFound):
        router.match("GET", "/zzz")


def test_router_percent_decodes_parameters():
    router = Router([("GET", "/c/{kind}/{value}", "contact")])
    assert router.match("GET", "/c/email/user%2Btag@example.com")[2] == {
        "kind": "email",
        "value": "user+tag@example.com",
    }
    # An encoded slash stays inside its segment; "+" is not a space in a path.
    assert router.match("GET", "/c/id/a%2Fb+c")[2]["value"] == "a/b+c"


def test_headers_are_case_insensitive():
    headers = Headers({"Content-Type": "x"})
    assert headers["content-type"] == "x" and headers.get("CONTENT-TYPE") == "x"


def test_route_and_account(toy):
    answer = requests.get(f"{toy.url}/toy/items/7", headers=AUTH, timeout=5)
    assert answer.json() == {"id": "7", "account": "toy-1"}
    answer = requests.get(f"{toy.url}/toy/items/special", headers=AUTH, timeout=5)
    assert answer.json() == {"special": True}


def test_auth_failure_in_provider_shape(toy):
    answer = requests.get(f"{toy.url}/toy/items/7", timeout=5)
    assert answer.status_code == 401
    assert answer.json()["toy_error"] == "bad key"


def test_unknown_path_and_wrong_method(toy):
    answer = requests.get(f"{toy.url}/toy/nowhere", headers=AUTH, timeout=5)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    answer = requests.delete(f"{toy.url}/toy/items", headers=AUTH, timeout=5)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    answer = requests.get(f"{toy.url}/nobody/x", timeout=5)
    assert answer.status_code == 404


def test_malformed_json(toy):
    answer = requests.post(
        f"{toy.url}/toy/items",
        data=b"{not json",
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["toy_error"].startswith("Malformed JSON")


def test_handler_bug_is_a_500_in_provider_shape(toy):
    answer = requests.get(f"{toy.url}/toy/boom", headers=AUTH, timeout=5)
    assert answer.status_code == 500
    assert answer.json()["code"] == "error"
    # the server survives
    assert requests.get(f"{toy.url}/_sandbox/health", timeout=5).ok


def test_oversized_body_is_413(toy):
    answer = requests.post(
        f"{toy.url}/toy/items", json={"x": "y" * 2000}, headers=AUTH, timeout=5
    )
    assert answer.status_code == 413
    assert "exceeds" in answer.json()["toy_error"]


def test_request_log_redacts_credentials(toy):
    toy.clear_requests()
    requests.post(f"{toy.url}/toy/items", json={"n": 1}, headers=AUTH, timeout=5)
    (entry,) = toy.requests("toy")
    assert entry["headers"]["authorization"] == "***"
    assert entry["body"] == {"n": 1}
    assert entry["status"] == 201 and entry["account"] == "toy-1"
    assert entry["template"] == "/items"
    assert toy.state("toy", "toy-1") == {"items": [{"n": 1}]}
    # since= filters by id
    assert toy.requests("toy", since=entry["id"]) == []


def test_chunked_body_is_read(toy):
    def chunks():
        yield b'{"n": '
        yield b"2}"

    answer = requests.post(
        f"{toy.url}/toy/items",
        data=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
        timeout=5,
    )
    assert answer.status_code == 201 and answer.json() == {"n": 2}


def test_chunked_body_over_limit_is_413(toy):
    def chunks():
        for _ in range(5):
            yield b"x" * 400

    answer = requests.post(
        f"{toy.url}/toy/items", data=chunks(), headers=AUTH, timeout=5
    )
    assert answer.status_code == 413


def test_any_bug_is_answered_with_500(toy):
    answer = requests.get(
        f"{toy.url}/toy/items/1", headers={**AUTH, "X-Crash": "1"}, timeout=5
    )
    assert answer.status_code == 500
    assert requests.get(f"{toy.url}/toy/items/1", headers=AUTH, timeout=5).ok


def test_invalid_content_length_is_400(toy):
    with socket.create_connection(("127.0.0.1", toy.port), timeout=5) as conn:
        conn.sendall(
            b"POST /toy/items HTTP/1.1\r\nHost: x\r\nAuthorization: toy-1\r\n"
            b"Content-Length: abc\r\n\r\n"
        )
        reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 400")
    assert "Invalid Content-Length" in reply


def test_command_line_serves_until_terminated():
    root = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", "0", "--no-rate-limits"],
        cwd=root,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line).group(0)
        health = requests.get(f"{url}/_sandbox/health", timeout=5).json()
        assert "klaviyo" in health["providers"]
        config = requests.get(f"{url}/_sandbox/config", timeout=5).json()
        assert config["rate_limits"] is False and config["validate"] is True
    finally:
        child.terminate()
        assert child.wait(10) == 0


def test_wrong_content_type_is_415_in_each_esp_shape(sb):
    klaviyo = requests.post(
        sb.base_url("klaviyo") + "/api/profile-import",
        data="email=ann@example.com",
        headers={
            "Authorization": "Klaviyo-API-Key pk_sandbox_ct",
            "revision": "2026-07-15",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=5,
    )
    assert klaviyo.status_code == 415
    assert klaviyo.json()["errors"][0]["status"] == 415
    mailchimp = requests.put(
        sb.base_url("mailchimp") + "/3.0/lists/aud00001/members/x",
        data="hello",
        auth=("any", "sandboxct-us1"),
        headers={"Content-Type": "text/plain"},
        timeout=5,
    )
    assert mailchimp.status_code == 415
    assert mailchimp.json()["status"] == 415
