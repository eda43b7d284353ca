"""`cohort`: the command-line client of a Cohort deployment (imports, exports, contacts)."""
