"""PynamoDB models, one module per entity family, all on the one table (see chalicelib/platform/db.py)."""
