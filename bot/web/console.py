"""The agents' console: sign-in, the ticket queue, tickets, dashboard."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Placeholder until the pages exist."""
