"""Password hashing (argon2id) and the new-password policy of NIST SP 800-63B.

The policy is deliberately short: a length range, a list of common and breached passwords,
no user name or e-mail name, and no trivial patterns. There are no composition rules (no
required digits, symbols or capitals); spaces and any Unicode characters are allowed.
Passwords are normalised with Unicode NFKC before they are checked or hashed, so the same
password typed on different keyboards or input methods is treated the same.
"""

from __future__ import annotations

import string
import unicodedata
from functools import lru_cache
from importlib import resources
from itertools import pairwise

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 256
MIN_IDENTIFIER_LENGTH = 3
COMMON_PASSWORDS_FILE = "common_passwords.txt"

_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106) defaults


def normalise(password: str) -> str:
    """Return the password in Unicode NFKC form, as it is checked and hashed."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    """Hash a password with argon2id; the result is a self-describing `$argon2id$...` string."""
    return _HASHER.hash(normalise(password))


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether the password matches the stored hash; False for a mismatch or an invalid hash."""
    try:
        return _HASHER.verify(stored_hash, normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with other parameters (or is invalid) and should be redone.

    Call after a successful `verify_password`, and store `hash_password(password)` if True.
    """
    try:
        return _HASHER.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The refused common passwords, lower case, read once from `common_passwords.txt`."""
    text = resources.files(__package__).joinpath(COMMON_PASSWORDS_FILE).read_text("utf-8")
    entries = (line.strip() for line in text.splitlines())
    return frozenset(
        normalise(entry).casefold() for entry in entries if entry and not entry.startswith("#")
    )


def _is_repeated_character(text: str) -> bool:
    return len(set(text)) == 1


def _is_sequence(text: str) -> bool:
    """An ascending or descending run of digits ("12345678", "0987") or letters ("abcdefgh")."""
    if len(text) < 2:
        return False
    if all(char in string.digits for char in text):
        steps = {(int(b) - int(a)) % 10 for a, b in pairwise(text)}
        return steps in ({1}, {9})
    if all(char in string.ascii_lowercase for char in text):
        steps = {ord(b) - ord(a) for a, b in pairwise(text)}
        return steps in ({1}, {-1})
    return False


def _identifier(value: str | None) -> str | None:
    """A user name or e-mail local part, folded for comparison; None if under 3 characters."""
    if value is None:
        return None
    folded = normalise(value).strip().casefold()
    return folded if len(folded) >= MIN_IDENTIFIER_LENGTH else None


def password_problems(
    password: str, *, user_name: str | None = None, email: str | None = None
) -> list[str]:
    """Everything wrong with a proposed new password, as sentences; empty when it is fine."""
    normalised = normalise(password)
    folded = normalised.casefold()
    problems: list[str] = []

    if len(normalised) < MIN_LENGTH:
        problems.append(f"Your password is too short: it needs at least {MIN_LENGTH} characters.")
    if len(normalised) > MAX_LENGTH:
        problems.append(f"Your password is too long: it can have at most {MAX_LENGTH} characters.")
    if folded in common_passwords():
        problems.append(
            "This password is too common and is one of the first that attackers try. "
            "Please choose a different one."
        )
    if normalised and _is_repeated_character(folded):
        problems.append("Your password cannot be just one character repeated.")
    elif _is_sequence(folded):
        problems.append(
            "Your password cannot be a simple sequence of numbers or letters, "
            "like 12345678 or abcdefgh."
        )

    name = _identifier(user_name)
    if name is not None and name in folded:
        problems.append("Your password cannot contain your user name.")
    local_part = _identifier(email.rpartition("@")[0] or email) if email is not None else None
    if local_part is not None and local_part in folded:
        problems.append("Your password cannot contain your e-mail address (the part before the @).")

    return problems
