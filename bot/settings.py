"""Settings from the environment, with embedded defaults (README: "Configuration")."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
# The answers, replies, ticket kinds and districts (`knowledge/` of the checkout by default).
KNOWLEDGE_DIR = Path(os.environ.get("KNOWLEDGE_DIR") or ROOT / "knowledge")
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'helpdesk.sqlite3'}"
DEFAULT_CHAT_URL = "http://127.0.0.1:5005"
DEFAULT_RETENTION_DAYS = 30
DEFAULT_RECOVERY_ATTEMPTS_PER_HOUR = 1000
DEFAULT_MAIL_PER_HOUR = 1000
DEFAULT_CHAT_MESSAGE_MAX_CHARS = 2000
PRIVATE_FILE = 0o600  # database files and files holding secrets
PRIVATE_DIRECTORY = 0o700


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 8025
    starttls: bool = False
    ssl: bool = False
    user: str = ""
    password: str = ""
    sender: str = "ESE and MassONE help desk <helpdesk@example.org>"
    timeout: float = 10.0


@dataclass(frozen=True)
class InboundMailSettings:
    """Replies by e-mail: the address they go to (plus-addressed per ticket, e.g.
    helpdesk+HD-2026-000123@example.org), the SMTP listener that takes them, the size limit."""

    address: str = parseaddr(SmtpSettings.sender)[1]
    host: str = "127.0.0.1"
    port: int = 8026
    max_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        local, at, domain = self.address.rpartition("@")
        if not (local and at and domain) or "+" in local:
            raise ValueError(
                f"INBOUND_MAIL_ADDRESS {self.address!r} must be a plain address like "
                f"helpdesk@example.org (no '+': replies come to helpdesk+<reference>@...)"
            )
        if self.max_bytes < 1024:
            raise ValueError("INBOUND_MAIL_MAX_BYTES must be at least 1024")


DEFAULT_SITE_NAME = "ESE Security Portal and MassONE help desk"
DEFAULT_BRAND_COLOR = "#0b4f8a"
LOGO_TYPES = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg",
              ".jpeg": "image/jpeg", ".webp": "image/webp", ".gif": "image/gif"}
_HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Branding:
    """How the help pages look: the agency's name, logo, main colour and footer links.

    The colour must keep white text readable on it (WCAG AA, contrast at least 4.5:1): it is
    the background of the header, the chat's title bar and the buttons.
    """

    site_name: str = DEFAULT_SITE_NAME
    agency: str = ""  # "Massachusetts Department of Elementary and Secondary Education"
    logo_file: str = ""  # a PNG, SVG, JPEG, WebP or GIF shown in the header
    color: str = DEFAULT_BRAND_COLOR
    footer_links: tuple[tuple[str, str], ...] = ()  # (title, URL) after the site's own

    def __post_init__(self) -> None:
        if not _HEX_COLOR.fullmatch(self.color):
            raise ValueError(f"BRAND_COLOR {self.color!r} must be a colour like #0b4f8a")
        if contrast_with_white(self.color) < 4.5:
            raise ValueError(
                f"BRAND_COLOR {self.color} is too light: white text on it has a contrast of "
                f"{contrast_with_white(self.color):.1f}:1, at least 4.5:1 is needed (WCAG AA)")
        if self.logo_file:
            logo = Path(self.logo_file)
            if logo.suffix.lower() not in LOGO_TYPES or not logo.is_file():
                raise ValueError(f"BRAND_LOGO_FILE {self.logo_file!r} must be an existing "
                                 f"{', '.join(sorted(LOGO_TYPES))} file")
        for title, url in self.footer_links:
            if not title or not re.fullmatch(r"(?:https?://[^\s]+|/[^\s]*)", url):
                raise ValueError(f"BRAND_FOOTER_LINKS: {title!r} needs an http(s) URL or a "
                                 f"path, not {url!r}")

    @property
    def owner(self) -> str:
        """Who runs the help desk, as a sentence names it."""
        return self.agency or "the help desk"

    def shade(self, towards: int, share: float) -> str:
        """The brand colour mixed with black (0) or white (255), `share` of the way."""
        red, green, blue = (int(self.color[i:i + 2], 16) for i in (1, 3, 5))
        mixed = (round(c + (towards - c) * share) for c in (red, green, blue))
        return "#" + "".join(f"{c:02x}" for c in mixed)


def contrast_with_white(color: str) -> float:
    """The WCAG contrast ratio of white on `color` ("#rrggbb")."""
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(int(color[i:i + 2], 16)) for i in (1, 3, 5))
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    return 1.05 / (luminance + 0.05)


def _footer_links(value: str | None) -> tuple[tuple[str, str], ...]:
    """"Title=URL; Title=URL" as (title, URL) pairs."""
    links = []
    for item in (value or "").split(";"):
        if item.strip():
            title, _, url = item.partition("=")
            links.append((title.strip(), url.strip()))
    return tuple(links)


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_base_url: str
    secret_key: bytes
    smtp: SmtpSettings
    chat_url: str = DEFAULT_CHAT_URL  # the Rasa server as browsers reach it (the chat widget)
    inbound: InboundMailSettings = field(default_factory=InboundMailSettings)
    retention_days: int = DEFAULT_RETENTION_DAYS  # conversations older than this are purged
    # Proxies whose X-Forwarded-For is believed (addresses or networks); none by default.
    trusted_proxies: tuple[str, ...] = ()
    require_second_factor: bool = False  # every console agent must use a second factor
    # Global ceilings: recovery attempts, and mails the bot queues, per hour (all users).
    recovery_attempts_per_hour: int = DEFAULT_RECOVERY_ATTEMPTS_PER_HOUR
    mail_per_hour: int = DEFAULT_MAIL_PER_HOUR
    brand: Branding = field(default_factory=Branding)
    live_chat_always_open: bool = False  # LIVE_CHAT_HOURS=always: live chat outside desk hours
    live_agent_timeout: float = 30.0  # seconds without a heartbeat before an agent counts as gone

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        sender = env.get("MAIL_FROM") or SmtpSettings.sender
        return cls(
            database_url=env.get("DATABASE_URL") or DEFAULT_DATABASE_URL,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:8000").rstrip("/"),
            secret_key=_secret_key(env.get("SECRET_KEY")),
            smtp=SmtpSettings(
                host=env.get("SMTP_HOST") or SmtpSettings.host,
                port=int(env.get("SMTP_PORT") or SmtpSettings.port),
                starttls=_flag(env.get("SMTP_STARTTLS")),
                ssl=_flag(env.get("SMTP_SSL")),
                user=env.get("SMTP_USER", ""),
                password=env.get("SMTP_PASSWORD", ""),
                sender=sender,
            ),
            chat_url=(env.get("RASA_PUBLIC_URL") or DEFAULT_CHAT_URL).rstrip("/"),
            inbound=InboundMailSettings(
                address=(env.get("INBOUND_MAIL_ADDRESS") or parseaddr(sender)[1]).strip(),
                host=env.get("INBOUND_SMTP_HOST") or InboundMailSettings.host,
                port=int(env.get("INBOUND_SMTP_PORT") or InboundMailSettings.port),
                max_bytes=int(env.get("INBOUND_MAIL_MAX_BYTES") or InboundMailSettings.max_bytes),
            ),
            retention_days=int(env.get("CONVERSATION_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS),
            trusted_proxies=_networks(env.get("TRUSTED_PROXIES")),
            require_second_factor=_flag(env.get("CONSOLE_REQUIRE_SECOND_FACTOR")),
            recovery_attempts_per_hour=int(env.get("RECOVERY_ATTEMPTS_PER_HOUR")
                                           or DEFAULT_RECOVERY_ATTEMPTS_PER_HOUR),
            mail_per_hour=int(env.get("MAIL_PER_HOUR") or DEFAULT_MAIL_PER_HOUR),
            brand=Branding(
                site_name=(env.get("BRAND_SITE_NAME") or DEFAULT_SITE_NAME).strip(),
                agency=env.get("BRAND_AGENCY", "").strip(),
                logo_file=env.get("BRAND_LOGO_FILE", "").strip(),
                color=(env.get("BRAND_COLOR") or DEFAULT_BRAND_COLOR).strip(),
                footer_links=_footer_links(env.get("BRAND_FOOTER_LINKS")),
            ),
            live_chat_always_open=_live_hours(env.get("LIVE_CHAT_HOURS")),
            live_agent_timeout=_positive(env.get("LIVE_AGENT_TIMEOUT_SECONDS"), 30.0,
                                         "LIVE_AGENT_TIMEOUT_SECONDS"),
        )


def chat_message_max_chars() -> int:
    """CHAT_MESSAGE_MAX_CHARS: the longest chat message the bot reads (the Rasa server's
    channels answer a longer one with a short plain reply, before the NLU sees it)."""
    value = int(os.environ.get("CHAT_MESSAGE_MAX_CHARS") or DEFAULT_CHAT_MESSAGE_MAX_CHARS)
    if value < 100:
        raise ValueError("CHAT_MESSAGE_MAX_CHARS must be at least 100")
    return value


ACTION_SECRET_HEADER = "X-Action-Secret"  # the Rasa servers' proof to the action server


def action_server_secret() -> str:
    """ACTION_SERVER_SECRET: what the Rasa servers send in ACTION_SECRET_HEADER; the action
    server refuses every other caller. Required by the action server; `make run` and `make
    cluster` make one when none is set."""
    secret = os.environ.get("ACTION_SERVER_SECRET", "")
    if len(secret) < 16:
        raise ValueError("ACTION_SERVER_SECRET must be set, at least 16 characters (e.g. "
                         "`python -c \"import secrets; print(secrets.token_urlsafe(32))\"`)")
    return secret


def action_server_interface() -> str:
    """ACTION_SERVER_INTERFACE: the address the action server listens on (loopback by
    default; a private interface when the Rasa servers run on other machines)."""
    return os.environ.get("ACTION_SERVER_INTERFACE") or "127.0.0.1"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _live_hours(value: str | None) -> bool:
    """LIVE_CHAT_HOURS: "business" (the desk's hours, the default) or "always"."""
    text = (value or "business").strip().lower()
    if text not in ("business", "always"):
        raise ValueError(f"LIVE_CHAT_HOURS must be 'business' or 'always', not {value!r}")
    return text == "always"


def _positive(value: str | None, default: float, name: str) -> float:
    number = float(value) if value else default
    if number <= 0:
        raise ValueError(f"{name} must be a positive number of seconds")
    return number


def _networks(value: str | None) -> tuple[str, ...]:
    """Comma-separated addresses or networks ("10.0.0.5, 10.1.0.0/16"), checked and normalised;
    a mistyped one stops the process with its name rather than trusting something else."""
    networks = []
    for item in (value or "").split(","):
        if item.strip():
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ValueError(f"TRUSTED_PROXIES: {item.strip()!r} is not an IP address or "
                                 "network") from None
    return tuple(networks)


def _secret_key(value: str | None) -> bytes:
    """SECRET_KEY, or in the embedded default a random key kept in var/secret_key."""
    if value:
        return value.encode()
    return kept_secret(VAR / "secret_key").encode()


def kept_secret(path: Path) -> str:
    """A random secret kept in `path` (0600), made at first use: the embedded defaults' keys
    (`make run`), so that they stay the same from one run to the next."""
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip()


def private_directory(path: Path) -> None:
    """Create `path` (and its parents) if missing; a new folder is for this user only."""
    path.mkdir(mode=PRIVATE_DIRECTORY, parents=True, exist_ok=True)


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path`, readable and writable by this user only (mode 0600) from the
    moment the file exists: a secret never sits in a world-readable file, even briefly."""
    private_directory(path.parent)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(handle, PRIVATE_FILE)  # an existing file keeps its old mode otherwise
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)


def make_private(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing; tighten an existing file of ours that
    others may read (a database file created before this rule)."""
    private_directory(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(PRIVATE_FILE)
