"""`retry_on_disconnect`: a database restart is ridden out, other errors are not retried."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bot.db import retry_on_disconnect


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_a_short_outage_is_ridden_out() -> None:
    calls = []

    def operation() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise refused()
        return "done"

    assert retry_on_disconnect(operation, seconds=5) == "done"
    assert len(calls) == 3


def test_a_long_outage_raises_after_the_deadline() -> None:
    calls = []

    def operation() -> None:
        calls.append(1)
        raise refused()

    with pytest.raises(OperationalError):
        retry_on_disconnect(operation, seconds=0.5)
    assert 2 <= len(calls) <= 6


def test_other_errors_are_not_retried() -> None:
    calls = []

    def operation() -> None:
        calls.append(1)
        raise IntegrityError("INSERT", {}, Exception("duplicate"))

    with pytest.raises(IntegrityError):
        retry_on_disconnect(operation)
    assert calls == [1]
