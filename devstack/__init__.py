"""The local stack: moto in server mode, the HTTP API and every event source of app.py."""
