"""What every part of the web app shares: application keys, limits and security headers."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot.recovery.service import RecoveryService
from bot.settings import Settings

MAX_BODY_BYTES = 16 * 1024
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SITE_NAME = "ESE Security Portal and MassONE help desk"
SERVICE_KEY = web.AppKey("service", RecoveryService)
SETTINGS_KEY = web.AppKey("settings", Settings)
SESSIONS_KEY = web.AppKey("sessions", sessionmaker)

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}
