"""The operators' web console at /console: server-rendered pages (Jinja2) over `Operations`,
with vendored static files and no request to any other host."""

from switchboard.console.pages import Console

__all__ = ["Console"]
