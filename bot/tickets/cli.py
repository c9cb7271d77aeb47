"""`helpdesk tickets list [--status S] [--kind K] [--limit N]` and `helpdesk tickets show REF`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.db import make_engine, session_factory, upgrade
from bot.knowledge.entries import load_knowledge
from bot.mail.outbox import as_utc
from bot.models import TICKET_KINDS, TICKET_STATUSES, Ticket, TicketEvent
from bot.tickets.service import (
    SEPARATOR,
    TicketService,
    format_reference,
    kind_title,
    labelled_facts,
    parse_reference,
    reference_of,
    shown,
)
from bot.tickets.transcript import mask_text, strip_controls

EXPECTED_FORM = "a reference looks like HD-2026-000123 (HD, the year, the number)"


def add_commands(topics: argparse._SubParsersAction) -> None:
    """Add the `tickets` topic to the `helpdesk` command."""
    tickets = topics.add_parser("tickets", help="help-desk tickets")
    commands = tickets.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the newest tickets")
    listing.add_argument("--status", choices=TICKET_STATUSES)
    listing.add_argument("--kind", choices=TICKET_KINDS)
    listing.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    listing.set_defaults(handler=list_command)
    show = commands.add_parser("show", help="one ticket with its facts, transcript and events")
    show.add_argument("reference", help="e.g. HD-2026-000123")
    show.set_defaults(handler=show_command)


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return number


def _service(database_url: str) -> tuple[TicketService, Engine]:
    """The service on a migrated database, and its engine (for the caller to dispose of)."""
    upgrade(database_url)
    engine = make_engine(database_url)
    return TicketService(session_factory(engine)), engine


def _minute(moment: datetime | None) -> str:
    return "-" if moment is None else f"{as_utc(moment):%Y-%m-%d %H:%M}"


def _system(system: str | None) -> str:
    return f"{system} ({load_knowledge().system_name(system)})" if system else "-"


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as left-aligned columns two spaces apart."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def list_command(args: argparse.Namespace, database_url: str) -> int:
    service, engine = _service(database_url)
    try:
        tickets = service.list_tickets(status=args.status, kind=args.kind, limit=args.limit)
    finally:
        engine.dispose()
    if not tickets:
        print("no tickets")
        return 0
    rows = [("REFERENCE", "CREATED (UTC)", "KIND", "SYSTEM", "STATUS", "CONTACT")]
    rows += [
        (reference_of(ticket), _minute(ticket.created_at), ticket.kind, ticket.system or "-",
         ticket.status, strip_controls(ticket.contact_email))
        for ticket in tickets
    ]
    print("\n".join(_table(rows)))
    return 0


def show_command(args: argparse.Namespace, database_url: str) -> int:
    parsed = parse_reference(args.reference)
    if parsed is None:
        print(f"error: {strip_controls(args.reference)!r} is not a ticket reference: "
              f"{EXPECTED_FORM}", file=sys.stderr)
        return 2
    service, engine = _service(database_url)
    try:
        found = service.get(args.reference)
    finally:
        engine.dispose()
    if found is None:
        print(f"no ticket {format_reference(*parsed)}", file=sys.stderr)
        return 1
    print("\n".join(ticket_lines(*found)))
    return 0


def ticket_lines(ticket: Ticket, events: list[TicketEvent]) -> list[str]:
    """A ticket as text for a terminal: user-typed text is stripped of control characters."""
    facts: dict[str, str] = json.loads(ticket.facts)
    transcript: list[dict[str, str]] = json.loads(ticket.transcript)
    lines = [
        reference_of(ticket),
        f"Kind:     {ticket.kind} ({kind_title(ticket.kind)})",
        f"System:   {_system(ticket.system)}",
        f"Status:   {ticket.status}",
        f"Created:  {_minute(ticket.created_at)} UTC",
        f"Updated:  {_minute(ticket.updated_at)} UTC",
    ]
    if ticket.resolved_at is not None:
        lines.append(f"Resolved: {_minute(ticket.resolved_at)} UTC")
    lines += [f"Contact:  {strip_controls(ticket.contact_email)}", "", "Facts:"]
    lines += [f"  {label}: {strip_controls(shown(value))}"
              for label, value in labelled_facts(ticket.kind, facts)]
    lines += ["", "Transcript:"]
    for entry in transcript:
        if entry.get("from") == SEPARATOR:
            lines.append(f"  --- {strip_controls(entry.get('text', ''))} ---")
        else:
            lines.append(f"  {entry.get('from')}: {mask_text(entry.get('text', ''))}")
    if not transcript:
        lines.append("  (none)")
    lines += ["", "Events:"]
    lines += [f"  {_minute(event.created_at)}  {strip_controls(event.actor)}  "
              f"{_event_text(ticket.kind, event)}" for event in events]
    return lines


def _event_text(kind: str, event: TicketEvent) -> str:
    """The action, with the labels of the facts a "facts_added" event changed."""
    if event.action != "facts_added":
        return event.action
    changed = json.loads(event.detail or "{}").get("changed") or {}
    labels = [label for label, _value in labelled_facts(kind, changed)]
    return f"{event.action}: {', '.join(labels) if labels else 'no fact changed'}"
