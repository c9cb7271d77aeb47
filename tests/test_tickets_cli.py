"""`helpdesk tickets list|show` (`bot.tickets.cli`), on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from bot import cli
from bot.db import make_engine, session_factory
from bot.models import Ticket
from bot.tickets.cli import add_commands
from bot.tickets.service import TicketRequest, TicketService, parse_reference

START = dt.datetime(2026, 3, 2, 15, 7, 42, tzinfo=dt.timezone.utc)
CONVERSATION = "c" * 64


def run(argv: list[str], database_url: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """`helpdesk ARGV` through bot.cli once every topic module exists, else the topic alone."""
    if all(importlib.util.find_spec(name) for name in cli.COMMAND_MODULES):
        monkeypatch.setenv("DATABASE_URL", database_url)
        monkeypatch.setenv("SECRET_KEY", "test-secret-key")
        return cli.main(argv)
    parser = argparse.ArgumentParser(prog="helpdesk")
    add_commands(parser.add_subparsers(dest="topic", required=True))
    args = parser.parse_args(argv)
    return args.handler(args, database_url)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def filed(database_url: str) -> Iterator[tuple[str, list[str]]]:
    """The database with three tickets (one resolved, one with added facts); their references,
    oldest first."""
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock()
    service = TicketService(sessions, clock=clock)
    references = []
    requests = [
        TicketRequest(
            kind="report_error", system="massone", contact_email="jane.doe@example.org",
            facts={"doing_what": "opening my class", "error_message": "", "browser": "Chrome",
                   "operating_system": "ChromeOS", "contact_email": "jane.doe@example.org"},
            transcript=[
                {"from": "user", "text": "I get an error in my class", "at": ""},
                {"from": "bot", "text": "What were you doing when the error happened?",
                 "at": ""},
            ],
        ),
        TicketRequest(
            kind="human_handoff", system=None, contact_email="bob@example.net",
            facts={"summary": "Please call me\x1b[2J", "contact_email": "bob@example.net"},
            transcript=[],
        ),
        TicketRequest(
            kind="reactivate_account", system="ese_portal", contact_email="m.jones@example.com",
            facts={"full_name": "Mary Jones", "school": "Lincoln School", "district": "Boston",
                   "contact_email": "m.jones@example.com"},
            transcript=[{"from": "user", "text": "reactivate please", "at": ""}],
        ),
    ]
    for request in requests:
        references.append(service.submit(CONVERSATION, request).reference or "")
        clock.now += dt.timedelta(hours=1)
    error_report = requests[0]
    service.submit(CONVERSATION, TicketRequest(  # more facts, from the same chat
        kind=error_report.kind, system=error_report.system,
        contact_email=error_report.contact_email,
        facts={**error_report.facts, "error_message": "Error 500"},
        transcript=[*error_report.transcript,  # the same chat's transcript, now longer
                    {"from": "user", "text": "it says Error 500", "at": ""}],
    ))
    with sessions.begin() as session:
        _year, third_id = parse_reference(references[2]) or (0, 0)
        session.execute(update(Ticket).where(Ticket.id == third_id)
                        .values(status="resolved", resolved_at=clock.now))
    yield database_url, references
    engine.dispose()


def test_list_prints_an_aligned_table_newest_first(
    filed: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, (first, second, third) = filed
    assert run(["tickets", "list"], url, monkeypatch) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == ["REFERENCE", "CREATED", "(UTC)", "KIND", "SYSTEM", "STATUS",
                                "CONTACT"]
    assert lines[1].split() == [third, "2026-03-02", "17:07", "reactivate_account",
                                "ese_portal", "resolved", "m.jones@example.com"]
    assert lines[2].split() == [second, "2026-03-02", "16:07", "human_handoff", "-", "open",
                                "bob@example.net"]
    assert lines[3].split() == [first, "2026-03-02", "15:07", "report_error", "massone",
                                "open", "jane.doe@example.org"]
    for header in ("KIND", "SYSTEM", "STATUS", "CONTACT"):  # the columns line up
        column = lines[0].index(header)
        assert all(line[column - 2:column] == "  " for line in lines)


def test_list_filters_and_limits(
    filed: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, (first, second, third) = filed
    assert run(["tickets", "list", "--status", "open"], url, monkeypatch) == 0
    out = capsys.readouterr().out
    assert first in out and second in out and third not in out
    assert run(["tickets", "list", "--kind", "report_error"], url, monkeypatch) == 0
    out = capsys.readouterr().out
    assert first in out and second not in out
    assert run(["tickets", "list", "--limit", "1"], url, monkeypatch) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert run(["tickets", "list", "--status", "waiting_on_user"], url, monkeypatch) == 0
    assert capsys.readouterr().out == "no tickets\n"


@pytest.mark.parametrize("argv", [
    ["tickets", "list", "--status", "closed"],
    ["tickets", "list", "--kind", "ticket_status"],
    ["tickets", "list", "--limit", "0"],
    ["tickets", "list", "--limit", "many"],
    ["tickets", "show"],
])
def test_bad_options_are_refused_by_argparse(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(argv, "sqlite:///unused.sqlite3", monkeypatch)
    assert exit_info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_list_on_an_empty_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["tickets", "list"], database_url, monkeypatch) == 0
    assert capsys.readouterr().out == "no tickets\n"


def test_show_prints_facts_transcript_and_events(
    filed: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, (first, _second, _third) = filed
    year, number = parse_reference(first) or (0, 0)
    assert run(["tickets", "show", f" hd {year} {number} "], url, monkeypatch) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == first
    for expected in (
        "Kind:     report_error (Error report)",
        "System:   massone (MassONE)",
        "Status:   open",
        "Created:  2026-03-02 15:07 UTC",
        "Updated:  2026-03-02 18:07 UTC",
        "Contact:  jane.doe@example.org",
        "  What they were doing: opening my class",
        "  Error message: Error 500",
        "  Browser: Chrome",
        "  Operating system: ChromeOS",
        "  Contact e-mail: jane.doe@example.org",
        "  user: I get an error in my class",
        "  bot: What were you doing when the error happened?",
        "  user: it says Error 500",
        "  2026-03-02 15:07  bot  created",
        "  2026-03-02 18:07  bot  facts_added: Error message",
    ):
        assert expected in lines, expected
    assert lines.index("Facts:") < lines.index("Transcript:") < lines.index("Events:")
    assert lines.count("  user: I get an error in my class") == 1  # the chat's longer part


def test_show_strips_control_characters_and_marks_missing_values(
    filed: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, (_first, second, third) = filed
    assert run(["tickets", "show", second], url, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "  Summary: Please call me[2J" in out
    assert "System:   -" in out
    assert "Transcript:\n  (none)" in out
    assert run(["tickets", "show", third], url, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Status:   resolved" in out and "Resolved: 2026-03-02 18:07 UTC" in out


def test_show_unknown_reference(
    filed: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, (first, _second, _third) = filed
    year, number = parse_reference(first) or (0, 0)
    assert run(["tickets", "show", f"hd-{year}-{number + 99}"], url, monkeypatch) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"no ticket HD-{year}-{number + 99:06d}\n"
    assert run(["tickets", "show", f"HD-{year - 1}-{number}"], url, monkeypatch) == 1
    assert capsys.readouterr().err.startswith("no ticket HD-")


@pytest.mark.parametrize("reference", ["HD-26-1", "ticket 12", "HD-2026-", "HD-2026-0"])
def test_show_malformed_reference(
    reference: str, database_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(["tickets", "show", reference], database_url, monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "HD-2026-000123" in captured.err and reference in captured.err
