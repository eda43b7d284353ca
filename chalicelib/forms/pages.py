"""The HTML of the public form: the form itself, the thank-you page and the error pages.

Plain HTML that works with no JavaScript (none is served: the pages' Content-Security-Policy
forbids scripts): a label for every field, autocomplete tokens so browsers fill the fields,
errors listed at the top and next to each field (aria-describedby), every value escaped.
No maxlength attributes: a browser cuts a pasted value at maxlength without a word, while the
server answers a value too long with a message next to the field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",  # error pages echo what the visitor typed
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True)
class Field:
    name: str  # as posted, and as the API's error details name it
    label: str
    input_type: str
    autocomplete: str


FIELDS = (
    Field("email", "Email", "email", "email"),
    Field("phone", "Phone", "tel", "tel"),
    Field("firstName", "First name", "text", "given-name"),
    Field("lastName", "Last name", "text", "family-name"),
    Field("company", "Company", "text", "organization"),
    Field("title", "Job title", "text", "organization-title"),
)
LABELS = {field.name: field.label for field in FIELDS}
HONEYPOT = "website"

_STYLE = """
body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;padding:1rem;color:#1a1a1a;background:#fff}
main{max-width:32rem;margin:0 auto}
.field{margin:0 0 1rem}
label{display:block;font-weight:600}
input{box-sizing:border-box;width:100%;padding:.5rem;font-size:1rem;
  border:1px solid #595959;border-radius:4px}
input[aria-invalid=true]{border:2px solid #b00020}
.error{color:#b00020;margin:.25rem 0 0}
.errors{border:2px solid #b00020;padding:.5rem 1rem;margin:0 0 1rem}
.errors h2{font-size:1.1rem;margin:.25rem 0}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:4px;border:0;
  background:#0b57d0;color:#fff;cursor:pointer}
button:focus,input:focus,a:focus{outline:3px solid #f9a825;outline-offset:2px}
.hp{position:absolute;left:-10000px;top:auto;width:1px;height:1px;overflow:hidden}
"""


def _document(title: str, body: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _input(field: Field, value: str, error: str | None) -> str:
    input_id = f"f-{field.name}"
    attributes = (
        f'id="{input_id}" name="{field.name}" type="{field.input_type}" '
        f'autocomplete="{field.autocomplete}" value="{escape(value)}"'
    )
    message = ""
    if error:
        attributes += f' aria-invalid="true" aria-describedby="{input_id}-error"'
        message = f'<p class="error" id="{input_id}-error">{escape(error)}</p>\n'
    label = f'<label for="{input_id}">{escape(field.label)}</label>'
    return f'<div class="field">\n{label}\n<input {attributes}>\n{message}</div>\n'


def form_page(
    title: str,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    general: Sequence[str] = (),
    consent_text: str | None = None,
) -> str:
    """The form; after a refused post, with the visitor's values and what was wrong."""
    values = values or {}
    errors = errors or {}
    parts = [f"<h1>{escape(title)}</h1>\n"]
    listed = [
        f'<li><a href="#f-{escape(name)}">{escape(LABELS[name])}: {escape(message)}</a></li>'
        for name, message in errors.items()
        if name in LABELS
    ] + [f"<li>{escape(message)}</li>" for message in general]
    if listed:
        parts.append(
            '<div class="errors" role="alert" tabindex="-1" id="errors">\n'
            "<h2>Please correct the following</h2>\n<ul>\n" + "\n".join(listed) + "\n</ul>\n</div>\n"
        )
    parts.append('<p id="form-hint">Give your email address or your phone number, or both.</p>\n')
    # novalidate: browsers refuse addresses with non-ASCII before the @ that the server
    # accepts; the server checks every field and answers next to it.
    parts.append('<form method="post" accept-charset="UTF-8" novalidate aria-describedby="form-hint">\n')
    parts.extend(_input(field, values.get(field.name, ""), errors.get(field.name)) for field in FIELDS)
    # The honeypot: off-screen and out of the tab order, so people leave it empty and bots
    # filling every field give themselves away. Its label says so for screen readers that
    # reach it anyway.
    parts.append(
        '<div class="hp" aria-hidden="true">\n'
        f'<label for="f-{HONEYPOT}">Leave this field empty</label>\n'
        f'<input id="f-{HONEYPOT}" name="{HONEYPOT}" type="text" tabindex="-1" autocomplete="off" value="">\n'
        "</div>\n"
    )
    if consent_text:  # what the visitor agrees to by sending: recorded with the consent
        parts.append(f'<p class="consent" id="consent-text">{escape(consent_text)}</p>\n')
    parts.append('<button type="submit">Send</button>\n</form>\n')
    # "Error:" first in the title: the first thing a screen reader says of the new page.
    return _document(f"Error: {title}" if listed else title, "".join(parts))


def thank_you_page(title: str, confirm: bool = False) -> str:
    said = (
        "Please check your inbox: we sent you an email with a link to confirm your address."
        if confirm
        else "Your details were received."
    )
    return _document(f"Thank you - {title}", f'<h1>Thank you</h1>\n<p role="status">{said}</p>\n')


def confirm_page() -> str:
    """The page of a confirmation link: a button that posts to the same address. Opening the
    link confirms nothing (mail scanners open links); only the button does."""
    body = (
        "<h1>Confirm your subscription</h1>\n"
        "<p>Press the button to confirm that you want to receive our emails.</p>\n"
        '<form method="post" action="">\n<button type="submit">Confirm</button>\n</form>\n'
    )
    return _document("Confirm your subscription", body)


def confirmed_page() -> str:
    return _document(
        "Subscription confirmed",
        '<h1>Subscription confirmed</h1>\n<p role="status">Thank you: your address is confirmed.</p>\n',
    )


def message_page(title: str, message: str) -> str:
    """A page for what the visitor cannot fix in the form (unknown form, body too large...)."""
    return _document(title, f"<h1>{escape(title)}</h1>\n<p>{escape(message)}</p>\n")
