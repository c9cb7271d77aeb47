"""Conversations with the real model, over the real REST channel, with the real action server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import ARTIFACTS, Chat, buttons, payloads, texts

from bot.knowledge.entries import KnowledgeBase
from bot.ops.serve import ROOT, Stack


def test_faq_answer_with_its_source(chat: Chat) -> None:
    replies = chat.say("does massone cost anything?")
    assert "no charge" in texts(replies)
    [payload] = payloads(replies)
    assert payload["faq_id"] == "massone_cost"
    assert (payload["document"], payload["section"]) == ("MassONE FAQ", "Accounts")


def test_comparing_the_two_logins_is_never_muddled(chat: Chat) -> None:
    replies = chat.say("Is my MassONE login the same as my portal login?")
    assert not buttons(replies)
    assert payloads(replies)[0]["faq_id"] == "massone_vs_ese_login"
    assert "two separate applications" in texts(replies)


def test_the_bot_asks_which_system_and_remembers_the_answer(chat: Chat) -> None:
    replies = chat.say("i forgot my password")
    choices = buttons(replies)
    assert {b["title"] for b in choices} == {"ESE Security Portal (ELAR, MDCS, SIMS...)", "MassONE"}
    assert not payloads(replies)

    massone = next(b for b in choices if b["title"] == "MassONE")
    replies = chat.say(massone["payload"])
    assert payloads(replies)[0]["faq_id"] == "forgot_password"
    assert "Forgot your password?" in texts(replies)

    # Remembered: the help desk question now answers for MassONE without asking again.
    replies = chat.say("what is the help desk phone number")
    assert not buttons(replies)
    assert payloads(replies)[0]["faq_id"] == "massone_helpdesk_contact"
    assert "781-338-3020" in texts(replies)


def test_naming_the_system_in_the_question_skips_the_question(chat: Chat) -> None:
    replies = chat.say("I forgot my ELAR password")
    assert not buttons(replies)
    payload = payloads(replies)[0]
    assert (payload["faq_id"], payload["system"]) == ("forgot_password", "ese_portal")


@pytest.mark.parametrize(
    "message",
    ["what's on the lunch menu tomorrow", "how much do teachers get paid in boston",
     "I forgot my gmail password", "what's the weather going to be like"],
)
def test_out_of_scope_gets_an_honest_answer(chat: Chat, message: str) -> None:
    replies = chat.say(message)
    assert "not something I can help with" in texts(replies)
    assert len(texts(replies)) < 200  # short on a phone
    assert not payloads(replies)
    # A second miss in a row offers a person.
    again = chat.say("what's the capital of peru")
    assert "massonehelp@doe.mass.edu" in texts(again)
    assert buttons(again)[-1]["payload"] == "/human_handoff"


@pytest.mark.parametrize(
    ("message", "expected"),
    [("hello", "Hi!"), ("thanks so much", "You're welcome"), ("are you a bot?", "I'm a bot"),
     ("bye", "Goodbye")],
)
def test_small_talk(chat: Chat, message: str, expected: str) -> None:
    assert expected in texts(chat.say(message))


def test_every_canonical_question_finds_its_answer(stack: Stack, kb: KnowledgeBase) -> None:
    """The model parses the contract's names: each FAQ's own question selects that FAQ."""
    missed = []
    for faq_id in kb.faq_ids():
        body = json.dumps({"text": kb.entries[faq_id].question}).encode()
        request = urllib.request.Request(stack.api_url("/model/parse"), data=body)
        with urllib.request.urlopen(request, timeout=30) as response:
            parse = json.loads(response.read())
        key = parse["response_selector"]["faq"]["response"]["intent_response_key"]
        if (parse["intent"]["name"], key) != ("faq", f"faq/{faq_id}"):
            missed.append((faq_id, parse["intent"]["name"], key))
    assert not missed


def test_story_suite_passes(stack: Stack) -> None:
    """`rasa test --stories tests/stories --fail-on-prediction-errors` against the action server.

    `--nlu tests/nlu` also writes Rasa's own report on the held-out split to tests/artifacts.
    """
    out = ARTIFACTS / "rasa-test"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rasa"), "test", "--no-plot",
         "--stories", "tests/stories", "--nlu", "tests/nlu", "--fail-on-prediction-errors",
         "--model", str(stack.model), "--endpoints", str(stack.endpoints), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, **stack.env},
    )
    failed = out / "failed_test_stories.yml"
    assert result.returncode == 0, result.stderr[-3000:]
    assert "None of the test stories failed" in failed.read_text()
