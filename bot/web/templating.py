"""HTML pages from Jinja2 templates in bot/web/templates, autoescaped: whatever a user typed is
shown as text, never as markup."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.dates import long_date
from bot.settings import Branding

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["brand"] = Branding()
    env.filters["long_date"] = long_date
    return env


def use_brand(brand: Branding) -> None:
    """Pages from now on carry `brand` (the process serves one agency: BRAND_* settings)."""
    environment().globals["brand"] = brand


def render(
    template: str, *, status: int = 200, headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    """A complete HTML response from `template` with `context`."""
    html = environment().get_template(template).render(**context)
    return web.Response(
        text=html, status=status, content_type="text/html", charset="utf-8", headers=headers
    )


def add_static_route(app: web.Application) -> None:
    """/static/: the style sheets and scripts (no directory listing)."""
    app.router.add_static("/static/", STATIC, show_index=False, append_version=True)
