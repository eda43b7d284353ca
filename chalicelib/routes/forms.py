"""Routes of /api/v1/forms and the public form pages /f/{formId} (see ../shared/API.md)."""

from __future__ import annotations

from chalice.app import Blueprint

bp = Blueprint(__name__)
