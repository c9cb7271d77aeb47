"""The recovery flows end to end: chat over REST, real database, real mail, the reset page."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from conftest import Chat, converse, mails_to, texts

from bot.knowledge.entries import load_knowledge
from bot.ops.serve import Stack

ADA = ["Ada", "Example", "03/14/1984", "ada.example@example.org"]


def test_user_name_is_emailed_never_shown(stack: Stack, chat: Chat) -> None:
    before = len(mails_to(stack, ADA[3], wait=0))
    intro = texts(chat.say("I forgot my ELAR user name"))
    assert "first name" in intro
    reply = converse(chat, *ADA)
    assert reply == load_knowledge().reply("username_sent")
    assert "ada.example" not in reply.replace("ada.example@", "")
    mails = mails_to(stack, ADA[3], after=before)
    assert len(mails) == before + 1
    assert "Your user name is: ada.example" in mails[-1].get_content()


@pytest.mark.parametrize(
    "details",
    [
        ["Ada", "Example", "03/14/1984", "someone.else@example.org"],  # partial: e-mail differs
        ["Zed", "Nobody", "01/01/1970", "zed@example.org"],  # nobody
    ],
)
def test_partial_and_no_match_get_the_same_reply(stack: Stack, chat: Chat, details) -> None:
    chat.say("I forgot my ESE security portal username")
    assert converse(chat, *details) == load_knowledge().reply("username_sent")
    assert mails_to(stack, details[3], wait=2) == []


def test_password_reset_through_the_emailed_link(stack: Stack, chat: Chat) -> None:
    address = "ben.example@example.org"
    before = len(mails_to(stack, address, wait=0))
    chat.say("I forgot my MassONE password")
    reply = converse(chat, "bexample1", "Ben", "Example", "November 2, 1979")
    assert reply == load_knowledge().reply("reset_sent", "massone")
    mails = mails_to(stack, address, after=before)
    body = mails[-1].get_content()
    assert "bexample1" not in body
    [link] = re.findall(r"http://127\.0\.0\.1:\d+/reset/\S+", body)
    assert link.startswith(f"http://127.0.0.1:{stack.web_port}/reset/")

    with urllib.request.urlopen(link, timeout=10) as page:
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "Choose a new password" in page.read().decode()
    form = urllib.parse.urlencode(
        {"password": "correct horse battery staple", "confirm": "correct horse battery staple"}
    ).encode()
    with urllib.request.urlopen(link, data=form, timeout=30) as page:
        assert "Your password was changed" in page.read().decode()
    notices = mails_to(stack, address, after=before + 1)
    assert "was changed" in notices[-1]["Subject"]
    with pytest.raises(urllib.error.HTTPError) as used:
        urllib.request.urlopen(link, timeout=10)
    assert used.value.code == 410


def test_stop_in_the_middle_sends_nothing(stack: Stack, chat: Chat) -> None:
    chat.say("I forgot my ELAR user name")
    chat.say("Ada")
    assert texts(chat.say("never mind")) == load_knowledge().reply("flow_stopped")
    assert "no charge" in texts(chat.say("does massone cost anything?"))


def test_a_question_in_the_middle_then_back_to_the_form(stack: Stack, chat: Chat) -> None:
    chat.say("I forgot my ELAR user name")
    chat.say("Ada")
    replies = texts(chat.say("does massone cost anything?"))
    assert "no charge" in replies and "last name" in replies
    assert converse(chat, "Example", "03/14/1984", ADA[3]) == load_knowledge().reply(
        "username_sent"
    )


@pytest.mark.parametrize(
    ("answer", "reply"),
    [("01/01/1850", "implausible_birth_date"), ("last tuesday", "invalid_birth_date"),
     ("1984", "invalid_birth_date")],
)
def test_bad_dates_are_explained_and_asked_again(chat: Chat, answer: str, reply: str) -> None:
    chat.say("I forgot my ELAR user name")
    chat.say("Ada")
    chat.say("Example")
    replies = texts(chat.say(answer))
    assert load_knowledge().reply(reply) in replies
    assert "date of birth" in replies


def test_bad_names_and_addresses_are_refused(chat: Chat) -> None:
    chat.say("I forgot my ELAR user name")
    assert load_knowledge().reply("invalid_name") in texts(chat.say("<script>x</script>"))
    assert load_knowledge().reply("invalid_name") in texts(chat.say("A" * 300))
    # Over the chat's length limit the channel answers before the form sees it.
    assert "too long" in texts(chat.say("A" * 10_000))
    converse(chat, "Ada", "Example", "03/14/1984")
    assert load_knowledge().reply("invalid_email") in texts(chat.say("ada.example@"))


def test_too_many_attempts_in_one_conversation(chat: Chat) -> None:
    kb = load_knowledge()
    for _ in range(3):
        chat.say("I forgot my ELAR user name")
        assert converse(chat, "Zed", "Nobody", "01/01/1970", "z@example.org") == kb.reply(
            "username_sent"
        )
    chat.say("I forgot my ELAR user name")
    assert converse(chat, *ADA) == kb.reply("rate_limited")


def test_massone_user_names_go_to_the_help_desk(chat: Chat) -> None:
    replies = texts(chat.say("I forgot my MassONE username"))
    assert "cannot be recovered online" in replies and "781-338-3020" in replies
    assert "first name" not in replies


