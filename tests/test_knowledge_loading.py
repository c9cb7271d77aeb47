"""A slip in `knowledge/` never silences the bot: the problem is named with its file and line,
and the last knowledge that loaded keeps being served (issue 13, part 4)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main as helpdesk
from bot.knowledge.entries import KNOWLEDGE_DIR, KnowledgeBase, KnowledgeError, load_knowledge
from bot.ops.serve import ROOT, free_port
from bot.settings import ACTION_SECRET_HEADER

SECRET = "knowledge-test-action-secret"
INDENT_SLIP = ("    system: massone\n    question: What is MassONE?",
               "    system: massone\n   question: What is MassONE?")


@pytest.fixture
def knowledge(tmp_path: Path) -> Path:
    """A copy of knowledge/ to break."""
    copy = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, copy, ignore=shutil.ignore_patterns("documents"))
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns()))  # a new stamp even within one tick


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_yaml_slip_is_named_by_file_and_line(knowledge: Path) -> None:
    edit(knowledge / "massone.yml", *INDENT_SLIP)
    with pytest.raises(KnowledgeError) as error:
        KnowledgeBase(knowledge)
    line = line_of(knowledge / "massone.yml", "   question: What is MassONE?")
    assert error.value.path == knowledge / "massone.yml"
    assert abs(error.value.line - line) <= 1  # YAML reports where the parser gave up
    assert str(error.value).startswith(f"{knowledge / 'massone.yml'}, line {error.value.line}: ")
    assert "not valid YAML" in str(error.value)


@pytest.mark.parametrize(
    ("file", "old", "new", "key"),
    [
        ("massone.yml", "{link.massone_home}", "{link.nowhere}", "id: massone_about"),
        ("massone.yml", "id: massone_helpdesk_contact", "id: massone_about",
         "id: massone_about\n"),
        ("massone.yml", "    document: massone_faq\n    section: general\n",
         "    document: massone_faq\n    section: lunch\n", "id: massone_about"),
    ],
)
def test_a_broken_reference_is_named_by_the_line_of_its_entry(
    knowledge: Path, file: str, old: str, new: str, key: str
) -> None:
    edit(knowledge / file, old, new)
    with pytest.raises(KnowledgeError) as error:
        KnowledgeBase(knowledge)
    lines = [n for n, line in enumerate((knowledge / file).read_text().splitlines(keepends=True),
                                        1) if key.strip() in line]
    expected = lines[-1] if "duplicate" in error.value.message else lines[0]
    assert (error.value.path, error.value.line) == (knowledge / file, expected)


def test_the_last_knowledge_that_loaded_is_served_and_the_slip_logged_once(
    knowledge: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = load_knowledge(knowledge)
    edit(knowledge / "massone.yml", *INDENT_SLIP)
    with caplog.at_level(logging.ERROR, logger="bot.knowledge.entries"):
        assert load_knowledge(knowledge) is good
        assert load_knowledge(knowledge) is good
    errors = [record.getMessage() for record in caplog.records]
    assert len(errors) == 1 and "massone.yml, line " in errors[0]
    assert "keeps the last version that loaded" in errors[0]

    edit(knowledge / "massone.yml", INDENT_SLIP[1], INDENT_SLIP[0])
    edit(knowledge / "massone.yml", "MassONE (the Massachusetts", "MassONE (the Bay State's")
    reloaded = load_knowledge(knowledge)
    assert reloaded is not good
    assert "the Bay State's" in reloaded.resolve("massone_about", "massone").text


def test_a_first_load_that_fails_raises(knowledge: Path) -> None:
    (knowledge / "replies.yml").write_text("greeting: [unclosed\n", encoding="utf-8")
    with pytest.raises(KnowledgeError, match="replies.yml, line "):
        load_knowledge(knowledge)


def test_knowledge_check_for_editors(
    knowledge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert helpdesk(["knowledge", "check", "--dir", str(knowledge)]) == 0
    assert "answers and" in capsys.readouterr().out

    edit(knowledge / "massone.yml", "{link.massone_home}", "{link.nowhere}")
    assert helpdesk(["knowledge", "check", "--dir", str(knowledge)]) == 1
    line = line_of(knowledge / "massone.yml", "id: massone_about")
    first = capsys.readouterr().err.splitlines()[0]
    assert first == (f"{knowledge / 'massone.yml'}, line {line}: "
                     "massone_about: unknown link 'nowhere'")


# --- under a running action server ------------------------------------------------------------

@pytest.fixture
def action_server(
    knowledge: Path, sqlite_template: Path, tmp_path: Path
) -> Iterator[tuple[str, Path]]:
    """The action server, on a free port, answering from the copy `knowledge`; yields its
    webhook and its log file."""
    database = tmp_path / "actions.sqlite3"
    shutil.copyfile(sqlite_template, database)
    port = free_port()
    log = tmp_path / "actions.log"
    env = {**os.environ, "KNOWLEDGE_DIR": str(knowledge), "DATABASE_URL": f"sqlite:///{database}",
           "SECRET_KEY": "test-secret-key", "ACTION_SERVER_SECRET": SECRET,
           "PYTHONPATH": str(ROOT)}
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.ops.action_server", "--port", str(port)],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the action server did not start"
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/webhook", log
    finally:
        process.terminate()
        process.wait(timeout=30)


def ask_faq(webhook: str, faq_id: str) -> str:
    """What the action server answers to a confident FAQ prediction."""
    message = {
        "text": "a question", "entities": [], "intent": {"name": "faq", "confidence": 0.95},
        "response_selector": {
            "faq": {"response": {"intent_response_key": f"faq/{faq_id}", "confidence": 0.9}}},
    }
    tracker = {"sender_id": f"knowledge-{time.time_ns()}", "slots": {}, "latest_message": message,
               "events": [], "paused": False, "followup_action": None, "active_loop": {},
               "latest_action_name": "action_listen"}
    body = json.dumps({"next_action": "action_respond", "sender_id": tracker["sender_id"],
                       "tracker": tracker, "domain": {}, "version": "3.6.2"}).encode()
    request = urllib.request.Request(webhook, data=body,
                                     headers={"Content-Type": "application/json",
                                              ACTION_SECRET_HEADER: SECRET})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    return "\n".join(reply.get("text") or "" for reply in answer["responses"])


@pytest.mark.servers
def test_a_file_broken_under_a_running_action_server_leaves_the_answers(
    action_server: tuple[str, Path], knowledge: Path
) -> None:
    webhook, log = action_server
    assert "no charge" in ask_faq(webhook, "massone_cost")

    edit(knowledge / "massone.yml", "There is no charge", "MassONE costs nothing")
    assert "MassONE costs nothing" in ask_faq(webhook, "massone_cost")

    edit(knowledge / "massone.yml", *INDENT_SLIP)
    assert "MassONE costs nothing" in ask_faq(webhook, "massone_cost")
    assert f"{knowledge / 'massone.yml'}, line " in log.read_text()

    edit(knowledge / "massone.yml", INDENT_SLIP[1], INDENT_SLIP[0])
    edit(knowledge / "massone.yml", "MassONE costs nothing", "MassONE is free")
    assert "MassONE is free" in ask_faq(webhook, "massone_cost")
