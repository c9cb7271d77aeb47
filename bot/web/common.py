"""What every part of the web app shares: application keys, limits, security headers, and the
client's address."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web
from sqlalchemy.orm import sessionmaker

from bot.recovery.service import RecoveryService
from bot.settings import Settings

MAX_BODY_BYTES = 16 * 1024
HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SERVICE_KEY = web.AppKey("service", RecoveryService)
SETTINGS_KEY = web.AppKey("settings", Settings)
SESSIONS_KEY = web.AppKey("sessions", sessionmaker)

SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy) for proxy in proxies)


def _address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: web.Request) -> str:
    """The address of the client that sent `request`, for rate limits and the audit log.

    The connection's peer, unless it is one of `TRUSTED_PROXIES`: then the nearest address in
    X-Forwarded-For that is not a trusted proxy (each proxy appends the address it received
    the request from; what a client wrote further left is not believed). "" when unknown.
    """
    proxies = _networks(request.app[SETTINGS_KEY].trusted_proxies)
    peer = _address(request.remote or "")
    if peer is None:
        return ""

    def trusted(address: Address) -> bool:
        return any(address in network for network in proxies)

    client = peer
    if trusted(peer):
        hops = [hop for header in request.headers.getall("X-Forwarded-For", [])
                for hop in header.split(",")]
        for hop in reversed(hops):
            address = _address(hop)
            if address is None:
                break  # garbage from outside: the last good hop is the answer
            client = address
            if not trusted(address):
                break
    return str(client)
