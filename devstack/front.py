"""The local stack's HTTP front: the Chalice app behind waitress, with API Gateway's limits.

Chalice's development server (`chalice local`) listens with a backlog of 5 and one thread a
connection: 20 concurrent clients already saw connections reset, and a method it has no
`do_<METHOD>` for (TRACE) got a 501 HTML page. Here waitress (a maintained pure-Python WSGI
server: keep-alive, a bounded thread pool, a listen backlog of 2048) accepts the connections
and this WSGI application plays API Gateway in front of the app:

- the request becomes API Gateway's proxy event through Chalice's own `LocalGateway` (the
  same conversion `chalice local` does: routing, authorizers, CORS preflight, binary types);
- a method a route lacks: 405 with `Allow` and the API's error shape (the app's middleware
  shapes Chalice's own 405; this only shapes what never reaches the app); a path no route
  has: 404 `not_found`, as the deployed stage's gateway response says;
- a body above API Gateway's 10 MB payload limit: 413 `payload_too_large`, before the app runs;
- an answer later than API Gateway's 29 s integration timeout: 504 `gateway_timeout` (the
  handler goes on running in its thread, as a Lambda outlives the gateway's timeout).

Chalice keeps the request of the call being served in `app.current_request`, one attribute for
the whole app (a Lambda container serves one request at a time). Served concurrently, it is
made per-thread here, so a view never reads another request's.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any
from urllib.parse import quote

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway REST API payload limit
INTEGRATION_TIMEOUT_SECONDS = 29.0  # API Gateway REST API integration timeout
THREADS = 16

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def per_thread_request(app: Any) -> None:
    """Give this Chalice app (and only it) a `current_request` and `lambda_context` per thread."""
    cls = type(app)
    if getattr(cls, "_devstack_per_thread", False):
        return
    local = threading.local()

    def attribute(name: str) -> property:
        return property(
            lambda _self: getattr(local, name, None), lambda _self, value: setattr(local, name, value)
        )

    app.__class__ = type(
        cls.__name__,
        (cls,),
        {
            "current_request": attribute("current_request"),
            "lambda_context": attribute("lambda_context"),
            "_devstack_per_thread": True,
        },
    )


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message, "details": []}}).encode()


class Front:
    """A WSGI application serving a Chalice app as API Gateway would."""

    def __init__(
        self,
        app: Any,
        config: Any,
        *,
        max_body: int = MAX_BODY_BYTES,
        timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        threads: int = THREADS,
    ) -> None:
        from chalice.local import LocalGateway

        per_thread_request(app)
        self.app = app
        self.gateway = LocalGateway(app, config)
        self.max_body = max_body
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="devstack-lambda")
        from chalice.local import RouteMatcher

        self._routes = RouteMatcher(list(app.routes))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self._serve(environ, start_response)
        except Exception:  # a bug here or in Chalice's gateway: said on stderr, answered in our shape
            traceback.print_exc(file=sys.stderr)
            body = error_body("internal_error", "an internal error occurred; it has been logged")
            return self._send(start_response, 500, {}, body)

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        headers = _headers(environ)
        length = environ.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > self.max_body:
            return self._send(start_response, 413, {}, error_body("payload_too_large", self._too_large()))
        body = environ["wsgi.input"].read(self.max_body + 1) if length != "0" else b""
        if len(body) > self.max_body:
            return self._send(start_response, 413, {}, error_body("payload_too_large", self._too_large()))
        path = _raw_path(environ)
        allowed = self._allowed(path)
        if allowed is None:
            # API Gateway's MISSING_AUTHENTICATION_TOKEN, answered as the deployed stage's
            # gateway response does (infra/package.py): 404 in the API's shape. Chalice's
            # local gateway would answer API Gateway's raw 403 {"message"}.
            return self._send(start_response, 404, {}, error_body("not_found", "No such route"))
        if method not in allowed and method != "OPTIONS":
            message = f"{method} is not allowed here; allowed: {', '.join(allowed)}"
            extra = {"Allow": ", ".join(allowed)}
            return self._send(start_response, 405, extra, error_body("method_not_allowed", message))
        future = self._pool.submit(self._handle, method, path, headers, body or None)
        try:
            status, reply_headers, reply_body = future.result(timeout=self.timeout)
        except FutureTimeout:
            message = f"the integration did not answer within {self.timeout:g} s (API Gateway's timeout)"
            return self._send(start_response, 504, {}, error_body("gateway_timeout", message))
        if method == "HEAD":
            reply_body = b""
        return self._send(start_response, status, reply_headers, reply_body)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _too_large(self) -> str:
        return f"the request body is larger than {self.max_body} bytes (API Gateway's limit)"

    def _allowed(self, path: str) -> list[str] | None:
        """The methods of the route this path matches; None when no route matches."""
        try:
            matched = self._routes.match_route(path)
        except ValueError:
            return None
        return sorted(self.app.routes[matched.route])

    def _handle(self, method: str, path: str, headers: dict[str, str], body: bytes | None) -> Any:
        from chalice.local import LocalGatewayException

        try:
            response = self.gateway.handle_request(method=method, path=path, headers=headers, body=body)
        except LocalGatewayException as error:
            return error.CODE, dict(error.headers), error.body or b""
        reply_headers: dict[str, Any] = dict(response.get("headers") or {})
        reply_headers.update(response.get("multiValueHeaders") or {})
        content = response.get("body")
        if response.get("isBase64Encoded") and content is not None:
            content = base64.b64decode(content)
        if content is None:
            content = b""
        elif isinstance(content, str):
            content = content.encode("utf-8")
        return response["statusCode"], reply_headers, content

    def _send(
        self, start_response: Callable[..., Any], status: int, headers: dict[str, Any], body: bytes
    ) -> list[bytes]:
        pairs: list[tuple[str, str]] = []
        content_type = None
        for name, value in headers.items():
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            if name.lower() == "content-type":
                content_type = str(value)
                continue
            for one in value if isinstance(value, list) else [value]:
                pairs.append((name, str(one)))
        pairs.append(("Content-Type", content_type or "application/json"))
        pairs.append(("Content-Length", str(len(body))))
        start_response(f"{status} {_STATUS_TEXT.get(status, 'Status')}", pairs)
        return [body]


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = value
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _raw_path(environ: dict[str, Any]) -> str:
    """The path as the client sent it, query string included (what Chalice's converter wants)."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return raw
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/;=,@:!$&'()*+~")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def serve(app: Any, config: Any, host: str, port: int, **options: Any) -> Any:
    """A waitress server for the app, not yet running: call `.run()` (blocks) and `.close()`."""
    from waitress.server import create_server

    front = Front(app, config, **options)
    server = create_server(
        front,
        host=host,
        port=port,
        threads=THREADS,
        backlog=2048,
        connection_limit=1000,
        channel_timeout=120,
        ident="cohort-devstack",
        clear_untrusted_proxy_headers=True,
    )
    server.front = front  # type: ignore[attr-defined]
    return server
