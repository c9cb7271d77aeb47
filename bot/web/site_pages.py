"""The agency's look and its statements: `/brand.css` (the colours of BRAND_COLOR),
`/brand/logo` (BRAND_LOGO_FILE), the privacy notice (`/privacy`) and the accessibility
statement (`/accessibility`). The statements come without the chat: they open in a tab of
their own from it, and read on their own."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.settings import LOGO_TYPES, Settings
from bot.web.common import SETTINGS_KEY
from bot.web.templating import render


def brand_css(settings: Settings) -> str:
    """The custom properties site.css and chat.css take their colours from."""
    brand = settings.brand
    return (
        f":root {{ --brand: {brand.color}; --brand-dark: {brand.shade(0, .25)}; "
        f"--brand-light: {brand.shade(255, .88)}; }}\n"
    )


async def brand_stylesheet(request: web.Request) -> web.Response:
    """GET /brand.css."""
    return web.Response(text=brand_css(request.app[SETTINGS_KEY]), content_type="text/css",
                        charset="utf-8")


async def logo(request: web.Request) -> web.StreamResponse:
    """GET /brand/logo: the agency's logo, or 404 when none is configured."""
    path = request.app[SETTINGS_KEY].brand.logo_file
    if not path:
        raise web.HTTPNotFound()
    file = Path(path)
    return web.Response(body=file.read_bytes(), content_type=LOGO_TYPES[file.suffix.lower()])


async def privacy(request: web.Request) -> web.Response:
    """GET /privacy: what the chat collects, why, for how long, and who sees it."""
    settings = request.app[SETTINGS_KEY]
    return render("privacy.html", title="Privacy notice", retention_days=settings.retention_days)


async def accessibility(request: web.Request) -> web.Response:
    """GET /accessibility: the accessibility statement."""
    return render("accessibility.html", title="Accessibility statement")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/brand.css", brand_stylesheet)
    app.router.add_get("/brand/logo", logo)
    app.router.add_get("/privacy", privacy)
    app.router.add_get("/accessibility", accessibility)
