"""The HTTP conventions every route shares: registration (with its OpenAPI description), the
middleware that authenticates and shapes errors, and body/query parsing into pydantic models.

pydantic is imported only when a body is parsed: importing app must stay cheap (cold start),
so routes name their schemas as strings ("contacts.ContactCreate" = chalicelib.schemas.contacts
.ContactCreate) and views import the classes they parse with inside the view.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union, cast

from chalice.app import Blueprint, CaseInsensitiveMapping, MultiDict, Request, Response

from chalicelib.platform.errors import (
    ApiError,
    Forbidden,
    InvalidRequest,
    PayloadTooLarge,
    Unauthorized,
    error_response,
)
from chalicelib.platform.logs import logger
from chalicelib.schemas.validation import validate
from chalicelib.workspaces import keys

if TYPE_CHECKING:
    from pydantic import BaseModel

JSON = "application/json"
MAX_JSON_BYTES = 1_048_576
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})  # refused to a read key

ModelT = TypeVar("ModelT", bound="BaseModel")
# A schema class, or its name under chalicelib.schemas ("module.Class"), resolved on use.
ModelRef = Union["type[BaseModel]", str]


@dataclass(frozen=True)
class RouteDoc:
    """One operation as the OpenAPI document shows it."""

    path: str
    method: str
    summary: str
    tag: str
    public: bool
    body: ModelRef | None
    query: ModelRef | None
    response: ModelRef | None
    status: int
    content_types: tuple[str, ...]
    response_content_type: str = JSON
    # Error statuses this route answers beyond those its kind always declares (openapi.py).
    errors: tuple[int, ...] = ()
    # Success answers beside `status` (a form post: 200 when updated or as a page, 303 redirect).
    also: tuple[int, ...] = ()


def resolve_model(ref: ModelRef) -> type[BaseModel]:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.rpartition(".")
    model: type[BaseModel] = getattr(importlib.import_module(f"chalicelib.schemas.{module}"), name)
    return model


ROUTES: dict[tuple[str, str], RouteDoc] = {}


def route(
    blueprint: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    body: ModelRef | None = None,
    query: ModelRef | None = None,
    response: ModelRef | None = None,
    status: int = 200,
    public: bool = False,
    content_types: tuple[str, ...] = (JSON,),
    response_content_type: str = JSON,
    errors: tuple[int, ...] = (),
    also: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on a blueprint and describe it for /openapi.json in one place."""
    doc = RouteDoc(
        path=path,
        method=method,
        summary=summary,
        tag=blueprint._import_name.rsplit(".", 1)[-1],
        public=public,
        body=body,
        query=query,
        response=response,
        status=status,
        content_types=content_types,
        response_content_type=response_content_type,
        errors=errors,
        also=also,
    )
    ROUTES[(path, method)] = doc
    return blueprint.route(path, methods=[method], content_types=list(content_types))


# ---- middleware -------------------------------------------------------------------------


def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Authenticate, run the view, and give every failure the API's error shape."""
    logger.append_keys(request_id=request.context.get("requestId"), path=request.path, method=request.method)
    try:
        doc = ROUTES.get((request.path, request.method))
        if doc is None or not doc.public:
            _authenticate(request)
        if doc is not None and doc.response_content_type.startswith("image/"):
            _accept(request, doc.response_content_type)
        response = get_response(request)
    except ApiError as error:
        return error.response()
    finally:
        # The logger outlives the request in a warm container: later log lines are not this request's.
        logger.remove_keys(["request_id", "path", "method", "workspace_id"])
    return _normalise_chalice_error(response, doc)


def _authenticate(request: Request) -> None:
    header = request.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization: Bearer <apiKey> is required")
    principal = keys.resolve(token.strip())
    # Where an API Gateway authorizer would put it, so views read it the same way either way.
    request.context["authorizer"] = {
        "principalId": principal.workspace_id,
        "keyId": principal.key_id,
        "scope": principal.scope,
    }
    logger.append_keys(workspace_id=principal.workspace_id)
    if principal.scope != keys.FULL and request.method in WRITES:
        raise Forbidden(f"a {principal.scope} key cannot {request.method}: use a full key")


def _accept(request: Request, content_type: str) -> None:
    """Chalice refuses (400) a binary answer unless the Accept header names its type, but
    mail clients and their image proxies load pixels with `image/*` or no Accept at all."""
    accept = request.headers.get("accept") or ""
    if content_type not in accept and "*/*" not in accept:
        headers = {**request.headers, "accept": f"{content_type}, {accept}".rstrip(", ")}
        request.headers = CaseInsensitiveMapping(headers)


def workspace_id(request: Request) -> str:
    principal: str = request.context["authorizer"]["principalId"]
    return principal


def require_full_key(request: Request) -> None:
    """403 unless the request's key has the `full` scope (managing keys and webhooks)."""
    if request.context["authorizer"].get("scope") != keys.FULL:
        raise Forbidden("only a full key can do this")


# Chalice's own answers -> (status, code, message); API.md makes a wrong content type a 400.
_CHALICE_ERRORS = {
    400: (400, "invalid_request", None),
    405: (405, "method_not_allowed", None),
    415: (400, "invalid_request", "unsupported content type; send application/json"),
    500: (500, "internal_error", "an internal error occurred; it has been logged"),
}


def _normalise_chalice_error(response: Response, doc: RouteDoc | None = None) -> Response:
    """Chalice answers some failures itself ({"Code", "Message"}); give them our shape."""
    body = response.body
    if isinstance(body, dict) and "Code" in body and response.status_code in _CHALICE_ERRORS:
        status, code, message = _CHALICE_ERRORS[response.status_code]
        if response.status_code == 415 and doc is not None:
            # A route taking more than JSON (imports take a CSV too) names all it takes.
            message = f"unsupported content type; send {' or '.join(doc.content_types)}"
        if status == 500:
            logger.error("unhandled error", extra={"chalice": body})
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
        return error_response(status, code, message or str(body.get("Message")), None, headers)
    return response


# ---- parsing ----------------------------------------------------------------------------


def read_json(request: Request, max_bytes: int = MAX_JSON_BYTES) -> Any:
    raw = cast(bytes, request.raw_body)  # chalice types raw_body str | bytes: always bytes
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the body is larger than {max_bytes} bytes")
    if not raw or not raw.strip():
        raise InvalidRequest("a JSON body is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("the body is not valid JSON") from None
    except RecursionError:
        # json nests by recursion: a body of thousands of `[` would otherwise be a 500
        raise InvalidRequest("the body is nested too deeply") from None
    if _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(data):
        raise InvalidRequest("the body has a \\u escape of half a UTF-16 pair, which is no character")
    return data


# JSON lets `\ud800` stand alone; it names no character, UTF-8 (DynamoDB's strings, the CSV
# exports, email) cannot carry it, so it is refused here rather than failing a write later.
# Only an escape can make one (UTF-8 bytes cannot), so bodies without such an escape skip the walk.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: Any) -> bool:
    pending = [value]  # a loop, not recursion: the body may nest as deep as json allowed
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            pending += node.keys()
            pending += node.values()
        elif isinstance(node, list):
            pending += node
    return False


def parse_body(request: Request, model: type[ModelT], max_bytes: int = MAX_JSON_BYTES) -> ModelT:
    data = read_json(request, max_bytes)
    if not isinstance(data, dict):
        raise InvalidRequest("the body must be a JSON object")
    return validate(model, data)


def parse_query(request: Request, model: type[ModelT]) -> ModelT:
    params: MultiDict | dict[str, Any] = request.query_params or {}
    data: dict[str, Any] = {}
    for name in params:
        values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        data[name] = values if len(values) > 1 else values[0]
    return validate(model, data)


# ---- answers ----------------------------------------------------------------------------


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    if hasattr(body, "model_dump"):
        body = body.model_dump(mode="json", by_alias=True)
    return Response(body=body, status_code=status, headers={"Content-Type": JSON, **(headers or {})})
