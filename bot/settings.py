"""Settings from the environment, with embedded defaults (README: "Configuration")."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'helpdesk.sqlite3'}"
DEFAULT_CHAT_URL = "http://127.0.0.1:5005"
DEFAULT_RETENTION_DAYS = 30
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
            live_chat_always_open=_live_hours(env.get("LIVE_CHAT_HOURS")),
            live_agent_timeout=_positive(env.get("LIVE_AGENT_TIMEOUT_SECONDS"), 30.0,
                                         "LIVE_AGENT_TIMEOUT_SECONDS"),
        )


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
    path = VAR / "secret_key"
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


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
