"""The help pages: the two documents rendered from knowledge/, with the chat."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Placeholder until the pages exist."""
