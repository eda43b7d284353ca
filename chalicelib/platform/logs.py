"""Structured JSON logs (Powertools). The service name differs from the Chalice app name on
purpose: with the same name every line would print twice (see shared NOTES)."""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger(service="cohort-backend")
