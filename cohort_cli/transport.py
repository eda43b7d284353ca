"""HTTP for the CLI: one `send` call, so tests can hand the client another transport (the
Chalice test app) instead of the network. The default uses only the standard library."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class Transport(Protocol):
    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes] | None = None,
    ) -> Reply: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # The client follows redirects itself: a presigned S3 URL must not get the API key.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibTransport:
    def __init__(self, timeout: float = 60.0) -> None:
        self._opener = urllib.request.build_opener(_NoRedirects())
        self._timeout = timeout

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | Iterable[bytes] | None = None,
    ) -> Reply:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # type: ignore[arg-type]
        try:
            with self._opener.open(request, timeout=self._timeout) as answer:
                return Reply(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.read(), dict(error.headers or {}))
