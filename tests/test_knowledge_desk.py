"""Keeping the knowledge current: answers edited in the console (stored with who, when and the
diff, refused when broken), applied by the knowledge loader at once, written back to the YAML by
`helpdesk knowledge export`, review dates and the signs that an answer is out of date. On SQLite
and PostgreSQL, against a copy of knowledge/."""

from __future__ import annotations

import datetime as dt
import difflib
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import Clock
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from bot import cli
from bot.console.agents import AgentInfo, AgentService
from bot.console.knowledge_desk import KnowledgeDesk, KnowledgeEditError, sentence_diff
from bot.db import make_engine, session_factory
from bot.knowledge.entries import KNOWLEDGE_DIR, Answer, KnowledgeBase, load_knowledge
from bot.knowledge.export import answer_lines, export_changes
from bot.knowledge.overrides import APPLIED, CONFLICT, IN_YAML, with_stored_edits
from bot.knowledge.staleness import stale_reasons
from bot.models import AuditEntry, KnowledgeChange

# Saturday 28 November 2026, 9:00 in Massachusetts.
NOW = dt.datetime(2026, 11, 28, 14, 0, tzinfo=dt.timezone.utc)
COST = "massone_cost"
NEW_COST = ("No. MassONE is free for educators and students; call {contact.massone_helpdesk.phone}"
            " with questions. It is a service of the Department of Elementary and Secondary "
            "Education.")


@dataclass
class Desk:
    sessions: sessionmaker
    directory: Path
    desk: KnowledgeDesk
    admin: AgentInfo
    agent: AgentInfo
    clock: Clock

    def bot_says(self, entry_id: str, system: str | None = None) -> str:
        answer = load_knowledge(self.directory, sessions=self.sessions).resolve(entry_id, system)
        assert isinstance(answer, Answer)
        return answer.text

    def yaml_says(self, entry_id: str, system: str | None = None) -> str:
        answer = load_knowledge(self.directory).resolve(entry_id, system)
        assert isinstance(answer, Answer)
        return answer.text

    def changes(self) -> list[KnowledgeChange]:
        with self.sessions() as session:
            return list(session.execute(select(KnowledgeChange).order_by(KnowledgeChange.id))
                        .scalars())

    def audit(self, action: str) -> list[AuditEntry]:
        with self.sessions() as session:
            return list(session.execute(select(AuditEntry).where(AuditEntry.action == action))
                        .scalars())


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


@pytest.fixture
def desk(database_url: str, knowledge_dir: Path) -> Iterator[Desk]:
    engine = make_engine(database_url)
    sessions = session_factory(engine)
    clock = Clock(NOW)
    agents = AgentService(sessions, clock=clock)
    admin = agents.create("alice", "correct horse battery staple", role="admin")
    agent = agents.create("bob", "another long passphrase")
    yield Desk(sessions, knowledge_dir, KnowledgeDesk(sessions, clock, knowledge_dir), admin,
               agent, clock)
    engine.dispose()


def test_an_edit_is_stored_with_who_when_and_the_diff_and_the_bot_gives_it_at_once(
    desk: Desk,
) -> None:
    before = desk.bot_says(COST)
    assert "no charge" in before
    change_id = desk.desk.edit(desk.admin, COST, "", f"  {NEW_COST}\n ", seen_edit=0)
    after = desk.bot_says(COST)
    assert after == NEW_COST.replace("{contact.massone_helpdesk.phone}", "781-338-3020")
    assert desk.yaml_says(COST) == before  # the YAML is untouched until exported
    [change] = desk.changes()
    assert change.id == change_id
    assert (change.entry_id, change.variant, change.action, change.edit_number) == (
        COST, "", "edited", 1)
    assert (change.agent_id, change.agent_name) == (desk.admin.id, "alice")
    assert change.created_at.replace(tzinfo=dt.timezone.utc) == NOW
    assert change.new_text == NEW_COST and change.old_text == change.file_text
    assert "-There is no charge for educators" in change.diff
    assert "+with questions." not in change.diff  # one sentence a line, not wrapped lines
    assert "+MassONE is free for educators and students; call " in change.diff
    [audited] = desk.audit("knowledge_edited")
    assert audited.agent_id == desk.admin.id and audited.target == f"{COST}:generic"
    assert json.loads(audited.detail) == {"change": change_id, "edit_number": 1}

    # A system's own variant is edited on its own; the other answers stay.
    desk.desk.edit(desk.admin, "credentials_case_sensitive", "massone",
                   "Yes: type MassONE usernames and passwords exactly as in your welcome email.",
                   seen_edit=0)
    assert desk.bot_says("credentials_case_sensitive", "massone").startswith("Yes: type")
    assert desk.bot_says("credentials_case_sensitive", "ese_portal") == desk.yaml_says(
        "credentials_case_sensitive", "ese_portal")


@pytest.mark.parametrize(("text", "message"), [
    ("", "The answer is empty"),
    (" \n\t ", "The answer is empty"),
    ("Call {contact.massone_helpdesk.phon} today.",
     "Did you mean {contact.massone_helpdesk.phone}"),
    ("Call {contact.massone_helpdesk.phone today.", "has lost its pair"),
    ("See {link.massone} for more.", "is not a placeholder this knowledge has"),
    ("Call contact.massone_helpdesk.phone} today.", "has lost its pair"),
    ("Write to {email} today.", "is not a placeholder"),
    ("x" * 2001, "too long"),
])
def test_a_broken_or_empty_edit_is_refused_and_nothing_is_saved(
    desk: Desk, text: str, message: str
) -> None:
    before = desk.bot_says(COST)
    with pytest.raises(KnowledgeEditError, match=message) as refused:
        desk.desk.edit(desk.admin, COST, "", text, seen_edit=0)
    assert "Nothing was saved." in str(refused.value)
    assert desk.changes() == [] and desk.audit("knowledge_edited") == []
    assert desk.bot_says(COST) == before


def test_only_admins_edit_and_a_stale_form_or_no_change_saves_nothing(desk: Desk) -> None:
    with pytest.raises(PermissionError):
        desk.desk.edit(desk.agent, COST, "", NEW_COST, seen_edit=0)
    with pytest.raises(PermissionError):
        desk.desk.mark_reviewed(desk.agent, COST)
    with pytest.raises(KnowledgeEditError, match="no such answer"):
        desk.desk.edit(desk.admin, "no_such_entry", "", NEW_COST, seen_edit=0)
    with pytest.raises(KnowledgeEditError, match="no such answer"):
        desk.desk.edit(desk.admin, COST, "ese_portal", NEW_COST, seen_edit=0)
    yaml_text = load_knowledge(desk.directory).entries[COST].generic.template
    with pytest.raises(KnowledgeEditError, match="same as the answer the bot gives now"):
        desk.desk.edit(desk.admin, COST, "", yaml_text, seen_edit=0)
    desk.desk.edit(desk.admin, COST, "", NEW_COST, seen_edit=0)
    # Another admin's form, opened before that edit, still says 0.
    with pytest.raises(KnowledgeEditError, match="Someone else changed this answer"):
        desk.desk.edit(desk.admin, COST, "", "Free of charge.", seen_edit=0)
    assert len(desk.changes()) == 1
    desk.desk.edit(desk.admin, COST, "", "Free of charge.", seen_edit=1)
    assert desk.bot_says(COST) == "Free of charge."
    # Two saves racing past the check: the database gives the number to one of them only.
    with desk.sessions() as session, session.begin(), pytest.raises(IntegrityError):
        session.add(KnowledgeChange(entry_id=COST, variant="", action="edited", edit_number=2,
                                    new_text="x", agent_name="alice", created_at=NOW))
        session.flush()


def test_the_yaml_wins_when_it_changed_since_and_export_writes_the_edits_back(
    desk: Desk, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    database_url: str,
) -> None:
    massone = desk.directory / "massone.yml"
    flows = desk.directory / "flows.yml"
    original, original_flows = massone.read_text(), flows.read_text()
    desk.desk.edit(desk.admin, COST, "", NEW_COST, seen_edit=0)
    desk.desk.edit(desk.admin, "massone_about", "", "MassONE is the Commonwealth's set of "
                   "web-based tools for PreK-12 teaching and learning: {link.massone_home}",
                   seen_edit=0)
    desk.desk.edit(desk.admin, "report_error", "ese_portal", "Email "
                   "{contact.ese_login_help.email} with what you were doing, the error message, "
                   "your browser and operating system. I can send the report for you now.",
                   seen_edit=0)
    desk.clock.advance(days=1)
    desk.desk.mark_reviewed(desk.admin, "massone_eligibility")

    # Someone changes massone_about in the YAML by hand: the YAML wins, the edit is a conflict.
    time.sleep(0.01)
    by_hand = original.replace("MassONE (the Massachusetts Online Network for Education) is",
                               "MassONE, the Massachusetts Online Network for Education, is")
    massone.write_text(by_hand)
    current = with_stored_edits(load_knowledge(desk.directory), desk.sessions)
    assert current.states[COST, ""].status == APPLIED
    assert current.states["massone_about", ""].status == CONFLICT
    assert desk.bot_says("massone_about", "massone").startswith("MassONE, the Massachusetts")

    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["knowledge", "export", "--dir", str(desk.directory)]) == 1  # a conflict
    out, err = capsys.readouterr()
    assert f"massone.yml: {COST}: answer (generic)" in out
    assert "flows.yml: report_error: answer (ese_portal)" in out
    assert "massone.yml: massone_eligibility: reviewed 2026-11-29" in out
    assert "Not written: massone_about (generic): The YAML text changed since" in err

    # Only the edited answer and the review dates changed; comments and layout stayed.
    written = massone.read_text()
    before_lines, after_lines = by_hand.splitlines(), written.splitlines()
    removed, added = [], []
    matcher = difflib.SequenceMatcher(None, before_lines, after_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += [line for line in before_lines[i1:i2] if "reviewed: " not in line]
            added += [line for line in after_lines[j1:j2] if "reviewed: " not in line]
    old_cost = load_knowledge(KNOWLEDGE_DIR).entries[COST].generic.template
    assert " ".join(line.strip() for line in removed) == old_cost
    assert added == answer_lines(4, NEW_COST)[1:]
    assert all(len(line) <= 100 for line in added)
    assert written.startswith("# MassONE answers, from the MassONE FAQ")
    data = yaml.safe_load(written)
    cost = next(entry for entry in data["entries"] if entry["id"] == COST)
    assert cost["answer"] == NEW_COST and cost["reviewed"] == dt.date(2026, 11, 28)
    assert flows.read_text().count("\n#") == original_flows.count("\n#")
    report_error = next(e for e in yaml.safe_load(flows.read_text())["entries"]
                        if e["id"] == "report_error")
    assert report_error["variants"]["ese_portal"]["answer"].startswith("Email {contact")
    assert report_error["variants"]["ese_portal"]["section"] == "create"
    KnowledgeBase(desk.directory)  # loads

    # Exported: the YAML holds the edit, nothing is left to apply or to write.
    current = with_stored_edits(load_knowledge(desk.directory), desk.sessions)
    assert current.states[COST, ""].status == IN_YAML
    assert desk.bot_says(COST) == desk.yaml_says(COST)
    report = export_changes(desk.sessions, desk.directory)
    assert report.written == [] and len(report.skipped) == 1


def test_the_review_page_lists_entries_by_review_date_with_reasons(desk: Desk) -> None:
    reviews = desk.desk.overview()
    assert len(reviews) == len(load_knowledge(desk.directory).entries)
    dates = [review.reviewed for review in reviews]
    never = dates.count(None)
    assert never > 0 and dates[:never] == [None] * never  # never reviewed first
    assert dates[never:] == sorted(dates[never:])
    browsers = next(review for review in reviews if review.id == "massone_browser_support")
    assert browsers.reviewed == dt.date(2007, 11, 27)
    reasons = [reason for _label, reason in browsers.reasons]
    assert any("Internet Explorer 6" in reason for reason in reasons)
    assert any("Netscape 4.7" in reason for reason in reasons)
    about = next(review for review in reviews if review.id == "massone_about")
    assert [reason for _label, reason in about.reasons] == [
        "links over plain http:// (http://massone.mass.edu/)"]
    clean = next(review for review in reviews if review.id == "massone_eligibility")
    assert clean.reasons == []

    desk.desk.mark_reviewed(desk.admin, "massone_browser_support")
    reviews = desk.desk.overview()
    assert reviews[-1].id == "massone_browser_support"
    assert reviews[-1].reviewed == dt.date(2026, 11, 28) and reviews[-1].reviewed_in_console
    [audited] = desk.audit("knowledge_reviewed")
    assert audited.target == "massone_browser_support"
    entry = desk.desk.entry("massone_browser_support")
    assert entry is not None and [c.action for c in entry.history] == ["reviewed"]


@pytest.mark.parametrize(("text", "reasons"), [
    ("Use Microsoft Internet Explorer version 6 or higher, or Netscape navigator version 4.7.",
     ["names Internet Explorer 6: Microsoft retired it in 2022",
      "names Netscape 4.7: discontinued in 2008"]),
    ("See http://massone.mass.edu/.", ["links over plain http:// (http://massone.mass.edu/)"]),
    ("See https://massone.mass.edu/ or call 781-338-3020 about HD-2026-000123.", []),
    ("The FAQ was last updated November 27, 2007.",
     ["mentions a date in the past (November 27, 2007)"]),
    ("Register by 09/01/2031, or since 2019 by phone.", ["mentions a past year (2019)"]),
    ("Reports for NCLB are due.", ["names NCLB (No Child Left Behind), replaced by ESSA in 2015"]),
])
def test_signs_of_age(text: str, reasons: list[str]) -> None:
    assert stale_reasons(text, today=dt.date(2026, 11, 28)) == reasons


def test_the_diff_has_one_sentence_a_line() -> None:
    diff = sentence_diff("One. Two is here. Three!", "One. Two is there. Three!")
    assert diff.splitlines()[2:] == ["@@ -1,3 +1,3 @@", " One.", "-Two is here.",
                                     "+Two is there.", " Three!"]
