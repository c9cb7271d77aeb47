"""`helpdesk agents create USERNAME [--name NAME] [--role agent|admin] [--password-stdin]`,
`helpdesk agents list`, `helpdesk agents deactivate USERNAME` and `helpdesk agents
reset-second-factor USERNAME`; `ensure_demo_agent` for `helpdesk demo load`."""

from __future__ import annotations

import argparse
import getpass
import secrets
import sys
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.console.agents import ADMIN, AgentError, AgentService
from bot.console.second_factor import SecondFactorService
from bot.db import make_engine, session_factory, upgrade
from bot.mail.outbox import as_utc
from bot.models import AGENT_ROLES
from bot.settings import Settings

DEMO_AGENT = "demo-agent"


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `agents` topic to the `helpdesk` command."""
    agents = topics.add_parser("agents", help="help-desk agents who sign in to the console")
    commands = agents.add_subparsers(dest="command", required=True)
    create = commands.add_parser(
        "create", help="create an agent (the password is asked twice, or read from stdin)"
    )
    create.add_argument("username", help="3-64 characters: a-z, 0-9, '.', '_', '-'")
    create.add_argument("--name", help="the display name (default: the username)")
    create.add_argument("--role", choices=AGENT_ROLES, default="agent",
                        help="admins may also add unanswered questions to the FAQ data")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    create.set_defaults(handler=create_command)
    listing = commands.add_parser("list", help="every agent")
    listing.set_defaults(handler=list_command)
    deactivate = commands.add_parser("deactivate", help="stop an agent from signing in")
    deactivate.add_argument("username")
    deactivate.set_defaults(handler=deactivate_command)
    reset = commands.add_parser(
        "reset-second-factor",
        help="remove an agent's second factor and recovery codes (a lost phone) and end their "
        "sessions; they set one up again from the console",
    )
    reset.add_argument("username")
    reset.set_defaults(handler=reset_second_factor_command)


def _service(database_url: str) -> tuple[AgentService, Engine]:
    """The service on a migrated database, and its engine (for the caller to dispose of)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    return AgentService(session_factory(engine)), engine


def _read_password(from_stdin: bool) -> str | None:
    """The new password from stdin's first line, or typed twice; None if they differ."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        return None
    return password


def create_command(args: argparse.Namespace, database_url: str) -> int:
    password = _read_password(args.password_stdin)
    if password is None:
        print("error: the two passwords are not the same; nothing was created", file=sys.stderr)
        return 1
    service, engine = _service(database_url)
    try:
        agent = service.create(args.username, password, display_name=args.name, role=args.role)
    except AgentError as error:
        for problem in error.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"created agent {agent.username} ({agent.display_name}), role {agent.role}")
    return 0


def _minute(moment: datetime | None) -> str:
    return "-" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M}"


def list_command(args: argparse.Namespace, database_url: str) -> int:
    service, engine = _service(database_url)
    try:
        agents = service.list_agents()
    finally:
        engine.dispose()
    if not agents:
        print("no agents: create one with `helpdesk agents create USERNAME`")
        return 0
    rows = [("USERNAME", "NAME", "ROLE", "ACTIVE", "CREATED (UTC)", "LAST SIGN-IN (UTC)")]
    rows += [
        (agent.username, agent.display_name, agent.role, "yes" if agent.active else "no",
         _minute(agent.created_at), _minute(agent.last_sign_in_at))
        for agent in agents
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
    return 0


def deactivate_command(args: argparse.Namespace, database_url: str) -> int:
    service, engine = _service(database_url)
    try:
        found = service.deactivate(args.username)
    finally:
        engine.dispose()
    if not found:
        print(f"error: no agent {args.username!r}", file=sys.stderr)
        return 1
    print(f"deactivated agent {args.username}; their sessions are ended")
    return 0


def reset_second_factor_command(args: argparse.Namespace, database_url: str) -> int:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        factors = SecondFactorService(session_factory(engine), Settings.from_env().secret_key)
        found = factors.reset(args.username)
    finally:
        engine.dispose()
    if not found:
        print(f"error: no agent {args.username!r}", file=sys.stderr)
        return 1
    print(f"reset the second factor of {args.username}; their sessions are ended. At their "
          "next sign-in they set one up again (the console asks for it when it is required).")
    return 0


def ensure_demo_agent(database_url: str) -> tuple[str, str] | None:
    """Create the admin `demo-agent` with a random password the first time and return
    (username, password) for the caller to show once; None when it already exists.

    The password is stored only as its argon2id hash.
    """
    service, engine = _service(database_url)
    try:
        if service.get(DEMO_AGENT) is not None:
            return None
        password = secrets.token_urlsafe(15)
        try:
            service.create(DEMO_AGENT, password, display_name="Demo agent", role=ADMIN)
        except AgentError:  # created meanwhile by a concurrent run
            return None
    finally:
        engine.dispose()
    return DEMO_AGENT, password
