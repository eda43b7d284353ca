"""Chalice blueprints, one per resource; app.py registers them all."""
