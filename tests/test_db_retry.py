"""`retry_on_disconnect` (and its async twin, which the tracker store uses): a database restart is
ridden out, other errors are not retried."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bot.db import retry_on_disconnect, retry_on_disconnect_async


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


def test_the_async_retry_rides_out_an_invalidated_connection_and_gives_up_in_time() -> None:
    calls = []

    async def operation() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DBAPIError("SELECT 1", {}, Exception("server closed the connection"),
                             connection_invalidated=True)
        return "done"

    assert asyncio.run(retry_on_disconnect_async(operation, seconds=5)) == "done"
    assert len(calls) == 3

    async def down() -> None:
        calls.append(1)
        raise refused()

    calls.clear()
    with pytest.raises(OperationalError):
        asyncio.run(retry_on_disconnect_async(down, seconds=0.5))
    assert 2 <= len(calls) <= 6

    async def duplicate() -> None:
        raise IntegrityError("INSERT", {}, Exception("duplicate"))

    with pytest.raises(IntegrityError):
        asyncio.run(retry_on_disconnect_async(duplicate, seconds=5))
