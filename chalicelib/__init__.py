"""Cohort's domain, persistence and schemas. app.py only routes into here."""
