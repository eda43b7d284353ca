"""What each Lambda of app.py dispatches (chalicelib.events.dispatch): the top layer, beside
chalicelib.api, which is what the HTTP function dispatches."""
