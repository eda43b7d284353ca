"""Scoring: points from what contacts do (event rules) and who they are (matches rules), kept
on the contact in the award's own transaction, with expiry and recompute (docs/scoring.md)."""
