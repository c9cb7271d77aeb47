"""Passwords typed into the chat: found and hidden before the message goes anywhere.

People paste their password to "prove" who they are ("my username is jdoe7 and my password is
Summer2024!", "password: hunter2", "pw is tiger99"). The chat channels
(`bot.rasa_plugins.incoming`) replace the value with PASSWORD_LABEL before the message reaches
the NLU, so the tracker, the ticket transcript, the unanswered-questions list and the logs never
see it, and tell the user to change that password. The tracker store's redaction applies the
same function again, for messages that came in another way.

A value is taken for a password only where a person names one ("password", "passwd", "pwd",
"pw", "passcode", "pin") and gives it with "is", "was", ":" or "="; after "is" and "was" the
word must not read as a description of the password ("my password is wrong", "is expired",
"is case sensitive"): a word with a digit, a symbol or a capital inside it is always a password,
a plain lower-case word only if it is not one of the words people use to describe one.
"""

from __future__ import annotations

import re

PASSWORD_LABEL = "[password]"
WARNING = (
    "It looks like you typed a password, so I've hidden it from this conversation. Never share "
    "a password with anyone, the help desk included: please change it as soon as you can "
    '(say "I forgot my password" if you cannot sign in to change it).'
)

_NAMED = r"(?:pass\s?words?|passwd|pwd|pw|pass\s?code|pin)"
_GIVEN = re.compile(
    rf"\b(?P<named>{_NAMED})\b(?P<link>\s*(?:(?:\bis\b|\bwas\b|\bshould\s+be\b|\bset\s+to\b)"
    rf"\s*[:=]?|[:=])\s*)"
    r"(?:[\"“'‘](?P<quoted>[^\"”'’\n]{1,100})[\"”'’]|(?P<value>[^\s\"'“”‘’]+))",
    re.IGNORECASE,
)
# Words that describe a password rather than give one ("my password is not working").
_DESCRIBING = frozenset("""
    a an the my your his her our their its this that it same different new old current temporary
    temp default not no never still just only also already always now again too very really
    definitely probably supposed meant being getting wrong incorrect invalid correct right ok
    okay fine good bad weak strong short long expired locked lost forgotten missing blank empty
    case sensitive required needed broken stuck disabled valid accepted rejected working
    changed reset different gone unknown unclear here there what which who how why when where
    in on at for of to from with without about like as and or but so because if by
    mine yours hers ours theirs wrong-ish all any some none one too-short
    """.split())
_PASSWORDISH = re.compile(r"\d|[^\w]|_|.[A-Z]")


def _is_secret(value: str, link: str) -> bool:
    if PASSWORD_LABEL in value or value.startswith("["):
        return False
    word = value.rstrip(".,!?;)")
    if not word:
        return False
    if ":" in link or "=" in link:
        return True
    if _PASSWORDISH.search(word):
        return True
    lower = word.lower()
    return lower not in _DESCRIBING and not lower.endswith(("ed", "ing", "ly"))


def hide_passwords(text: str) -> tuple[str, bool]:
    """`text` with every password given in it replaced by PASSWORD_LABEL, and whether any was."""
    found = False

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        if match.group("quoted") is not None:  # "open sesame": whatever is quoted
            found = True
            return match.group("named") + match.group("link") + PASSWORD_LABEL
        value = match.group("value")
        if not _is_secret(value, match.group("link")):
            return match.group(0)
        found = True
        # A sentence's full stop or comma stays; anything else may be part of the password.
        trailing = value[-1] if len(value) > 1 and value[-1] in ".," else ""
        return match.group("named") + match.group("link") + PASSWORD_LABEL + trailing

    hidden = _GIVEN.sub(replace, text)
    return hidden, found
