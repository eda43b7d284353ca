"""Segments: filters on contacts (API.md "Segments"): checking one against the workspace
(`rules`), deciding whether a contact matches it (`evaluate`, the one evaluator search, count
and everything else use), and searching and counting by it (`search`)."""
