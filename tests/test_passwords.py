"""Password hashing and the NIST SP 800-63B new-password policy in `bot.recovery.passwords`."""

from __future__ import annotations

from importlib import resources

import pytest
from argon2 import PasswordHasher

from bot.recovery.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    common_passwords,
    hash_password,
    needs_rehash,
    password_problems,
    verify_password,
)

GOOD = "correct horse battery staple"


def only_problem(password: str, **identity: str) -> str:
    """The single problem found with a password; fails if there is not exactly one."""
    problems = password_problems(password, **identity)
    assert len(problems) == 1, problems
    return problems[0]


# --- hashing -------------------------------------------------------------------------------


def test_hash_round_trip() -> None:
    stored = hash_password(GOOD)
    assert stored.startswith("$argon2id$")
    assert GOOD not in stored
    assert verify_password(stored, GOOD)


def test_same_password_hashes_differently() -> None:
    assert hash_password(GOOD) != hash_password(GOOD)


def test_wrong_password_is_refused() -> None:
    stored = hash_password(GOOD)
    assert verify_password(stored, "correct horse battery stapler") is False
    assert verify_password(stored, "") is False


@pytest.mark.parametrize(
    "garbage", ["", "not a hash", "$argon2id$v=19$m=65536,t=3,p=4$xx$yy", "$2b$12$abcdef"]
)
def test_garbage_hash_returns_false(garbage: str) -> None:
    assert verify_password(garbage, GOOD) is False


def test_verification_uses_nfkc() -> None:
    stored = hash_password("ｃｏｒｒｅｃｔ ｈｏｒｓｅ ｂａｔｔｅｒｙ")
    assert verify_password(stored, "correct horse battery")


def test_rehash_flag() -> None:
    assert needs_rehash(hash_password(GOOD)) is False
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(GOOD)
    assert verify_password(weak, GOOD)
    assert needs_rehash(weak) is True
    assert needs_rehash("not a hash") is True


# --- policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        GOOD,
        "Tulips grow by the old mill in May",
        "gravelpudding",  # no digits, symbols or capitals: there is no composition rule
        "k" * 3 + "x" * 5,  # repeats inside a password are fine
        "x" * (MIN_LENGTH - 1) + "y",
        "é" * 4 + "ßünd",
        "z" * 100 + " " + "q" * (MAX_LENGTH - 101),  # exactly the maximum
    ],
)
def test_acceptable_passwords(password: str) -> None:
    assert password_problems(password) == []


def test_no_composition_rule() -> None:
    password = "mountainriverstone"
    assert not any(char.isdigit() or not char.isalpha() for char in password)
    assert password.islower()
    assert password_problems(password, user_name="jsmith", email="jsmith@example.org") == []


def test_long_passphrase_with_spaces_accepted() -> None:
    passphrase = "my cat sleeps on the warm laptop every single afternoon " * 3
    assert " " in passphrase and MIN_LENGTH < len(passphrase) <= MAX_LENGTH
    assert password_problems(passphrase) == []


@pytest.mark.parametrize("password", ["", "a7#", "Tr0ub4!"])
def test_too_short(password: str) -> None:
    problems = password_problems(password)
    assert any("too short" in p and str(MIN_LENGTH) in p for p in problems), problems


def test_too_long_names_the_limit() -> None:
    problem = only_problem("walrus " * 40)  # 280 characters
    assert "too long" in problem and str(MAX_LENGTH) in problem
    assert only_problem("w" * 100 + "z" * (MAX_LENGTH - 99)) == problem  # 257


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "PASSWORD1",
        "Passw0rd",
        "iloveyou",
        "qwertyuiop",
        "1qaz2wsx",
        "summer2024",
        "football",
        "trustno1",
        "letmein123",
        "Teacher123",
        "massone1",
    ],
)
def test_common_password_refused(password: str) -> None:
    assert "too common" in only_problem(password)


def test_full_width_common_password_refused() -> None:
    full_width = "ｐａｓｓｗｏｒｄ１２３"  # "password123" typed in full-width forms
    assert full_width != "password123"
    assert "too common" in only_problem(full_width)


@pytest.mark.parametrize("password", ["aaaaaaaa", "ZZZZZZZZZZZZ", "11111111111", "        "])
def test_repeated_character_refused(password: str) -> None:
    problems = password_problems(password)
    assert any("one character repeated" in p for p in problems), problems


def test_repeated_character_not_on_list() -> None:
    assert "one character repeated" in only_problem("~" * 12)


@pytest.mark.parametrize(
    "password", ["123456789012", "98765432", "abcdefghij", "ZYXWVUTSRQ", "lmnopqrstu", "34567890"]
)
def test_sequence_refused(password: str) -> None:
    problems = password_problems(password)
    assert any("sequence" in p for p in problems), problems


def test_sequence_not_on_list() -> None:
    assert "sequence" in only_problem("ghijklmnopq")


@pytest.mark.parametrize(
    "password", ["jsmith2024!", "My name is JSmith ok", "jsmith99", "ｊｓｍｉｔｈ-rules"]
)
def test_contains_user_name_refused(password: str) -> None:
    assert "user name" in only_problem(password, user_name="JSmith")


def test_equals_user_name_refused() -> None:
    assert "user name" in only_problem("Marguerite", user_name="marguerite")


def test_contains_email_local_part_refused() -> None:
    problem = only_problem("hello maria.lopez!", email="Maria.Lopez@school.example.org")
    assert "e-mail" in problem
    # The domain is not the problem: only the part before the @ is checked.
    assert password_problems("school example stuff", email="maria.lopez@school.example.org") == []


def test_short_identifiers_are_ignored() -> None:
    assert password_problems("bounce in the jolly jo", user_name="jo", email="jo@example.org") == []


def test_all_problems_reported_as_sentences() -> None:
    problems = password_problems("aaa", user_name="aaa")
    assert len(problems) == 3
    assert all(p[0].isupper() and p.endswith(".") for p in problems)


# --- the list ------------------------------------------------------------------------------


def test_common_password_list() -> None:
    text = resources.files("bot.recovery").joinpath("common_passwords.txt").read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("#") and "common" in lines[0].lower()
    entries = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert len(entries) >= 1000
    assert len(set(entries)) == len(entries)
    assert all(entry == entry.lower() for entry in entries)
    assert all(len(entry) >= MIN_LENGTH for entry in entries)
    assert len(common_passwords()) == len(entries)
    assert {"password", "12345678", "iloveyou", "passw0rd", "sunshine"} <= common_passwords()
