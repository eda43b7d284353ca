"""Test helpers: the API client wrapper and Lambda-shaped events."""
