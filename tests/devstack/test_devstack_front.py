"""The local stack's HTTP front (devstack/front.py): API Gateway's limits in the API's error
shape, and 100 concurrent keep-alive clients served without a dropped connection."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest
from chalice import Chalice

from devstack.front import serve


def _app() -> Chalice:
    app = Chalice("front-test", configure_logs=False)

    @app.route("/items", methods=["GET", "POST"])
    def items() -> dict[str, Any]:
        request = app.current_request
        if request.method == "POST":
            return {"echo": request.json_body, "size": len(request.raw_body)}
        return {"path": request.path, "who": (request.query_params or {}).get("who")}

    @app.route("/slow")
    def slow() -> dict[str, Any]:
        time.sleep(1.5)
        return {"slow": True}

    return app


def _config() -> Any:
    return SimpleNamespace(lambda_timeout=60, function_name="front-test", lambda_memory_size=128)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def front() -> Iterator[tuple[str, int]]:
    port = _port()
    server = serve(_app(), _config(), "127.0.0.1", port, timeout=0.5, max_body=1000)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield "127.0.0.1", port
    server.close()
    server.front.close()


def _request(address: tuple[str, int], method: str, path: str, body: bytes | None = None) -> Any:
    connection = http.client.HTTPConnection(*address, timeout=10)
    connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
    reply = connection.getresponse()
    data = reply.read()
    connection.close()
    return reply, data


def test_a_route_answers_with_its_query_and_body(front: tuple[str, int]) -> None:
    reply, data = _request(front, "GET", "/items?who=ann%20b")
    assert reply.status == 200 and json.loads(data) == {"path": "/items", "who": "ann b"}
    reply, data = _request(front, "POST", "/items", json.dumps({"a": 1}).encode())
    assert reply.status == 200 and json.loads(data) == {"echo": {"a": 1}, "size": 8}


@pytest.mark.parametrize("method", ["TRACE", "DELETE", "PUT", "PATCH"])
def test_a_method_the_route_lacks_is_405_with_allow_in_the_error_shape(
    front: tuple[str, int], method: str
) -> None:
    reply, data = _request(front, method, "/items")
    assert reply.status == 405
    assert reply.getheader("Allow") == "GET, POST"
    assert reply.getheader("Content-Type") == "application/json"
    error = json.loads(data)["error"]
    assert error["code"] == "method_not_allowed" and error["details"] == [] and method in error["message"]


def test_a_body_above_the_limit_is_413_payload_too_large(front: tuple[str, int]) -> None:
    reply, data = _request(front, "POST", "/items", b"x" * 1001)
    assert reply.status == 413
    assert json.loads(data)["error"]["code"] == "payload_too_large"
    reply, _ = _request(front, "POST", "/items", json.dumps("x" * 990).encode())
    assert reply.status == 200


def test_the_api_gateway_payload_limit_is_10_mb() -> None:
    from devstack import front as module

    assert module.MAX_BODY_BYTES == 10 * 1024 * 1024 and module.INTEGRATION_TIMEOUT_SECONDS == 29.0


def test_an_answer_later_than_the_integration_timeout_is_504(front: tuple[str, int]) -> None:
    reply, data = _request(front, "GET", "/slow")
    assert reply.status == 504
    assert json.loads(data)["error"]["code"] == "gateway_timeout"


def test_100_concurrent_keep_alive_clients_2000_requests_none_dropped(front: tuple[str, int]) -> None:
    def client(number: int) -> list[int]:
        connection = http.client.HTTPConnection(*front, timeout=30)
        statuses = []
        for i in range(20):  # one connection, kept alive, 20 requests
            body = json.dumps({"client": number, "i": i}).encode()
            connection.request("POST", "/items", body=body, headers={"Content-Type": "application/json"})
            reply = connection.getresponse()
            payload = json.loads(reply.read())
            assert payload["echo"] == {"client": number, "i": i}  # its own request, not another's
            statuses.append(reply.status)
        connection.close()
        return statuses

    start = threading.Barrier(100)

    def started(number: int) -> list[int]:
        start.wait()
        return client(number)

    with ThreadPoolExecutor(max_workers=100) as pool:
        results = list(pool.map(started, range(100)))
    statuses = [status for result in results for status in result]
    assert len(statuses) == 2000 and set(statuses) == {200}


def test_a_path_no_route_has_is_a_404_in_the_apis_shape(front: tuple[str, int]) -> None:
    # WHEN a client asks for a path the API does not have, with any method and any credential
    for method in ("GET", "POST", "DELETE"):
        connection = http.client.HTTPConnection(*front, timeout=5)
        connection.request(method, "/api/v1/nothing/here", headers={"Authorization": "Bearer x"})
        reply = connection.getresponse()
        # THEN it is the 404 the deployed stage answers, in the API's error shape
        assert reply.status == 404
        assert reply.getheader("Content-Type", "").startswith("application/json")
        assert json.loads(reply.read())["error"]["code"] == "not_found"
        connection.close()
