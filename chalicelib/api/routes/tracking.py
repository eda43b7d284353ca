"""The public links inside emails: the open pixel, click redirects, and unsubscribe
(`/t/o/{token}`, `/t/c/{token}`, `/u/{token}`; API.md "Links inside emails"). No API key:
the signed token is the credential, and a bad one answers 404 changing nothing."""

from __future__ import annotations

from urllib.parse import quote

from chalice.app import Blueprint, Response

from chalicelib.api.http import route
from chalicelib.platform.errors import NotFound

bp = Blueprint(__name__)

# A transparent 1x1 GIF.
PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)
_NO_STORE = {"Cache-Control": "no-store, max-age=0"}
_HTML = "text/html; charset=utf-8"


# Any content type: these are opened by mail clients and browsers, never by API clients.
ANY = ("*/*",)


@route(
    bp,
    "/t/o/{token}",
    "GET",
    summary="Open pixel (1x1 GIF); counts the open once",
    public=True,
    content_types=ANY,
    response_content_type="image/gif",
)
def open_pixel(token: str) -> Response:
    from chalicelib.deliverability import tracking

    tracking.opened(token)
    return Response(body=PIXEL, status_code=200, headers={"Content-Type": "image/gif", **_NO_STORE})


@route(
    bp,
    "/t/c/{token}",
    "GET",
    summary="Click: counts it once, 302 to the link of the email",
    public=True,
    status=302,
    content_types=ANY,
)
def click_link(token: str) -> Response:
    from chalicelib.deliverability import tracking

    url = tracking.clicked(token)
    # HTTP headers are ASCII: a link with accents or spaces goes out percent-encoded (what a
    # browser sends for it anyway); its reserved characters and existing escapes stay.
    location = quote(url, safe=":/?#[]@!$&'()*+,;=%~")
    return Response(body="", status_code=302, headers={"Location": location, **_NO_STORE})


@route(
    bp,
    "/u/{token}",
    "GET",
    summary="Unsubscribe page with a confirm button (a GET never unsubscribes)",
    public=True,
    content_types=ANY,
    response_content_type="text/html",
)
def unsubscribe_page(token: str) -> Response:
    from chalicelib.deliverability import unsubscribe

    try:
        unsubscribe.check(token)
    except NotFound:
        return _html(unsubscribe.not_found_page(), 404)
    return _html(unsubscribe.confirm_page(token), 200)


@route(
    bp,
    "/u/{token}",
    "POST",
    summary="One-click unsubscribe (RFC 8058) and the page's confirm button",
    public=True,
    content_types=ANY,
    response_content_type="text/html",
)
def unsubscribe_now(token: str) -> Response:
    from chalicelib.deliverability import unsubscribe

    try:
        unsubscribe.unsubscribe(token)
    except NotFound:
        return _html(unsubscribe.not_found_page(), 404)
    return _html(unsubscribe.done_page(), 200)


def _html(text: str, status: int) -> Response:
    return Response(body=text, status_code=status, headers={"Content-Type": _HTML, **_NO_STORE})
