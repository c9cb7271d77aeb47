"""Settings from the environment, with embedded defaults (README: "Configuration")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DEFAULT_DATABASE_URL = f"sqlite:///{VAR / 'helpdesk.sqlite3'}"
DEFAULT_CHAT_URL = "http://127.0.0.1:5005"


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
        )


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(value: str | None) -> bytes:
    """SECRET_KEY, or in the embedded default a random key kept in var/secret_key."""
    if value:
        return value.encode()
    path = VAR / "secret_key"
    if not path.exists():
        VAR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()
