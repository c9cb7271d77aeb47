"""The web application: routes, error pages, security headers, and `python -m bot.web`.

Every response carries strict security headers (no referrer, no caching, no framing, a tight
Content-Security-Policy unless a page sets its own). Run with `python -m bot.web [--port 8000]`;
it listens on 127.0.0.1 only (put a TLS-terminating proxy in front of it, reachable at
PUBLIC_BASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from bot.db import make_engine, session_factory, upgrade
from bot.recovery.service import RecoveryService
from bot.settings import Settings
from bot.web import (
    console,
    console_desk,
    console_knowledge,
    console_live,
    console_security,
    help_pages,
    reset,
    site_pages,
)
from bot.web.common import (
    DEFAULT_PORT,
    HOST,
    MAX_BODY_BYTES,
    SECURITY_HEADERS,
    SERVICE_KEY,
    SESSIONS_KEY,
    SETTINGS_KEY,
)
from bot.web.reset import message_page, not_found_page, too_large_page
from bot.web.templating import add_static_route, use_brand

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn aiohttp's bare error responses (404, 405, ...) and crashes into plain pages."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if error.status == 404:
            return not_found_page()
        if error.status == 413:
            return too_large_page()
        page = message_page(error.status, error.reason, "This request cannot be handled here.")
        if "Allow" in error.headers:
            page.headers["Allow"] = error.headers["Allow"]
        return page
    except Exception as error:  # a plain page, not a traceback that may hold secrets
        # Only the class name: SQL parameters or messages could carry hashes or other secrets.
        log.error("reset page failed: %s", type(error).__name__)
        return message_page(
            500, "Something went wrong",
            "Sorry, this page could not be handled. Please try again in a few minutes.",
            "If it keeps happening, ask the help-desk assistant for a new password reset link.",
        )


async def _security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    """Add the security headers to every response, unless the page set its own (a help page's
    Content-Security-Policy allows its script and the chat server)."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


class RouteAccessLogger(AbstractAccessLogger):
    """Access log that names the route ("/reset/{token}"), never the path with the token."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "(no route)"
        match_info = getattr(request, "match_info", None)
        resource = match_info.route.resource if match_info is not None else None
        if resource is not None:
            route = resource.canonical
        self.logger.info("%s %s %s %.3fs", request.method, route, response.status, time)


def create_app(service: RecoveryService, settings: Settings | None = None) -> web.Application:
    """The web application: help pages, reset links for `service`, the agents' console."""
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[error_pages])
    app[SERVICE_KEY] = service
    app[SESSIONS_KEY] = service.sessions
    app[SETTINGS_KEY] = settings or Settings.from_env()
    use_brand(app[SETTINGS_KEY].brand)
    add_static_route(app)
    reset.add_routes(app)
    help_pages.add_routes(app)
    site_pages.add_routes(app)
    console.add_routes(app)
    console_security.add_routes(app)
    console_desk.add_routes(app)
    console_knowledge.add_routes(app)
    console_live.add_routes(app)
    app.on_response_prepare.append(_security_headers)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """An AppRunner whose access log keeps tokens out."""
    return web.AppRunner(app, access_log_class=RouteAccessLogger)


async def serve(app: web.Application, port: int, host: str = HOST) -> None:
    """Serve `app` on host:port until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = make_runner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info("web app on http://%s:%d/", host, port)
        await stop.wait()
        log.info("stopping")
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """`python -m bot.web [--port N]`: migrate the database, then serve the web app."""
    parser = argparse.ArgumentParser(prog="python -m bot.web", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on {HOST} (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    service = RecoveryService(session_factory(engine), settings.public_base_url,
                              settings.secret_key)
    try:
        asyncio.run(serve(create_app(service, settings), args.port))
    finally:
        engine.dispose()
    return 0


