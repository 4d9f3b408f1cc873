"""Routers: the JSON API, OpenRosa endpoints and HTML pages."""
