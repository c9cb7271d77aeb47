"""Each field type of knowledge/tickets.yml: what is accepted, stored, and refused (and why)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.tickets.fields import FieldProblem, check_answer
from bot.tickets.kinds import RequestField, load_request_kinds

TODAY = dt.date(2026, 11, 26)


def field(type_: str, optional: bool = False) -> RequestField:
    return RequestField(name="x", type=type_, label="X", prompt="X?", optional=optional)


@pytest.mark.parametrize(
    ("type_", "typed", "stored"),
    [
        ("email", " Jane.Doe@Example.ORG ", "jane.doe@example.org"),
        ("email", "my email is jane@example.org.", "jane@example.org"),
        ("phone", "my number is 781 555 0100", "781-555-0100"),
        ("name", "my full name is Jon Smith", "Jon Smith"),
        ("school", "I work at Lincoln Elementary", "Lincoln Elementary"),
        ("date", "starting September 1st", f"{TODAY.year}-09-01"),
        ("phone", "(781) 555-0100", "781-555-0100"),
        ("phone", "+1 781.555.0100 ext. 12", "781-555-0100 ext 12"),
        ("phone", "7815550100 x7", "781-555-0100 ext 7"),
        ("name", "Mary-Jane O'Neil", "Mary-Jane O'Neil"),
        ("school", "Lincoln   Elementary\tSchool", "Lincoln Elementary School"),
        ("date", "09/01/2026", "2026-09-01"),
        ("date", "September 1, 2026", "2026-09-01"),
        ("date", "2025-02-03", "2025-02-03"),
        ("user_name", "jsmith.2", "jsmith.2"),
        ("reference", " hd-2026-123 ", "HD-2026-000123"),
        ("text", "It said: <b>error</b> 500", "It said: <b>error</b> 500"),
    ],
)
def test_accepted_answers_are_stored_cleanly(type_: str, typed: str, stored: str) -> None:
    assert check_answer(field(type_), typed, TODAY) == stored


@pytest.mark.parametrize(
    ("type_", "typed", "reason"),
    [
        ("email", "someone@example", "complete e-mail address"),
        ("email", "not an address", "complete e-mail address"),
        ("phone", "12345", "10-digit number"),
        ("phone", "call me maybe", "10-digit number"),
        ("phone", "781-555-0100 or 617-555-0100", "10-digit number"),
        ("email", "a@example.org or b@example.org", "complete e-mail address"),
        ("email", ".a..b@example.org", "two periods in a row"),
        ("email", "jane..doe@example.org", "two periods"),
        ("email", "jane@exa_mple.org", "complete e-mail address"),
        ("phone", "(000) 000-0000", "can't be a US phone number"),
        ("phone", "(023) 555-0100", "can't be a US phone number"),
        ("phone", "+44 20 7946 0958", "can't be a US phone number"),
        ("date", "sometime in 2026", "the day and the month"),
        ("name", "<script>alert(1)</script>", "doesn't look like a name"),
        ("name", "R2D2", "doesn't look like a name"),
        ("school", "<img src=x>", "school's name in words"),
        ("school", "12345", "school's name in words"),
        ("school", "S" * 121, "120 characters at most"),
        ("date", "09/01/1850", "too far from today"),
        ("date", "09/01/2030", "too far from today"),
        ("date", "whenever", "couldn't read that date"),
        ("user_name", "no spaces allowed", "2-64 letters"),
        ("reference", "42", "looks like HD-2026-000123"),
        ("text", "x", "say a little more"),
        ("text", "x" * 10_000, "I can take 1,000 at most"),
        ("text", "   ", "didn't get an answer"),
    ],
)
def test_refused_answers_say_why(type_: str, typed: str, reason: str) -> None:
    with pytest.raises(FieldProblem) as problem:
        check_answer(field(type_), typed, TODAY)
    assert reason in problem.value.reply


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("we're in Holden", "Wachusett"),
        ("I work in Lancaster", "Nashoba"),
        ("BPS", "Boston"),
        ("I teach at Newton North High School", "Newton"),
        ("Boxford Public Schools", "Boxford"),
    ],
)
def test_districts_as_people_name_them(typed: str, stored: str) -> None:
    assert check_answer(field("district"), typed, TODAY) == stored


@pytest.mark.parametrize(
    ("typed", "reason", "suggested"),
    [
        ("Oakridge Elementary",
         '"Oakridge Elementary" sounds like a school. Which district, or which city or town, '
         "is it in?", ()),
        ("I teach at Lincoln Elementary School", "sounds like a school", ("Lincoln",)),
        ("Boxford", '"Boxford" could mean more than one district. Which one is yours?',
         ("Boxford", "Masconomet")),
        ("Narnia", "I don't know a Massachusetts district called \"Narnia\"", ()),
        ("LPS", "I don't know a Massachusetts district called \"LPS\"", ()),
    ],
)
def test_unclear_districts_say_what_is_missing(typed: str, reason: str, suggested: tuple) -> None:
    with pytest.raises(FieldProblem) as problem:
        check_answer(field("district"), typed, TODAY)
    assert reason in problem.value.reply
    assert set(suggested) <= set(problem.value.suggestions)


@pytest.mark.parametrize("typed", ["I don't know", "idk", "Not sure.", "skip"])
def test_optional_fields_accept_not_knowing(typed: str) -> None:
    assert check_answer(field("user_name", optional=True), typed, TODAY) == ""


def test_not_knowing_is_no_answer_for_a_required_field() -> None:
    with pytest.raises(FieldProblem):
        check_answer(field("user_name"), "I don't know", TODAY)


def test_control_characters_are_removed() -> None:
    assert check_answer(field("text"), "line one\x00\x1b[31m\nline two", TODAY) == (
        "line one [31m line two"
    )


def test_every_kind_in_the_knowledge_ends_with_a_contact_or_is_a_lookup() -> None:
    for kind in load_request_kinds().values():
        names = [f.name for f in kind.fields]
        assert len(names) == len(set(names)), kind.id
        assert "contact_email" in names or not kind.ticket, kind.id


MERGE = load_request_kinds()["merge_duplicate_accounts"]
ACCOUNTS = {"first_account": "jsmith", "second_account": "jsmith2"}


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("jsmith", "jsmith"), ("keep JSMITH2", "jsmith2"), ("the first one", "jsmith"),
     ("the second account", "jsmith2"), ("2", "jsmith2"), ("the latter", "jsmith2"),
     ("the first account", "jsmith")],
)
def test_the_account_to_keep_is_one_of_the_two_named(typed: str, kept: str) -> None:
    keep = MERGE.field("keep_account")
    assert check_answer(keep, typed, TODAY, facts=ACCOUNTS) == kept


@pytest.mark.parametrize("typed", ["jsmith3", "both", "jsmith and jsmith2", "the newer one",
                                   "the first, jsmith2"])
def test_an_account_to_keep_that_is_not_one_of_the_two_is_refused(typed: str) -> None:
    with pytest.raises(FieldProblem) as problem:
        check_answer(MERGE.field("keep_account"), typed, TODAY, facts=ACCOUNTS)
    assert problem.value.reply == (
        'Please tell me which of the two accounts to keep: "jsmith" (the first) or "jsmith2" '
        "(the second)."
    )


@pytest.mark.parametrize("kind", ["transfer_account", "reactivate_account", "login_incorrect",
                                  "report_name_misspelled"])
def test_account_tickets_take_the_user_name_and_accept_not_knowing(kind: str) -> None:
    found = load_request_kinds()[kind]
    user_name = found.field("user_name")
    assert (user_name.type, user_name.optional) == ("user_name", True)
    assert check_answer(user_name, "I don't know", TODAY) == ""
    if user_name.offered_with:  # invited by the first question, not asked on its own
        assert "user name" in found.field(user_name.offered_with).prompt
        assert found.opening_facts() == {"user_name": ""}
