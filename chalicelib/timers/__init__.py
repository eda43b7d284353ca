"""Timers: messages due at a moment (chalicelib/timers/due.py)."""
