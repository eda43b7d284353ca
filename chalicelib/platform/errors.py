"""The API's error shape: {"error": {"code", "message", "details"}}, one class per code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice.app import ChaliceUnhandledError, Response


class ApiError(ChaliceUnhandledError):
    """Raised anywhere below a route; the HTTP middleware turns it into the error response.

    It derives from ChaliceUnhandledError because Chalice re-raises only that kind out of a
    view to the middleware; any other exception becomes Chalice's own 500 body.
    """

    status = 500
    code = "internal_error"

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return error_response(self.status, self.code, self.message, self.details, headers)


class InvalidRequest(ApiError):
    status, code = 400, "invalid_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class PlanLimitReached(ApiError):
    status, code = 402, "plan_limit_reached"


class Forbidden(ApiError):
    status, code = 403, "forbidden"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class Gone(ApiError):
    status, code = 410, "gone"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class ValidationFailed(ApiError):
    status, code = 422, "validation_error"


def field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", [{"field": field, "message": message}])


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str | list[str]] | None = None,
) -> Response:
    return Response(
        body={"error": {"code": code, "message": message, "details": details or []}},
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
