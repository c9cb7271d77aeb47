"""A Redis lock store for several Rasa servers, without Rasa 3.6's race (RasaHQ/rasa#9213).

Named in the cluster's endpoints file
(`lock_store: type: bot.rasa_plugins.lock_store.AtomicRedisLockStore`);
tests/test_cluster.py shows the race on Rasa's own store and checks this one.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig
from redis.client import Pipeline

# How long (s) a Rasa server's ticket for a conversation's lock lasts (Rasa's default is 60). A
# server that dies while processing a message leaves its ticket behind, and the conversation's
# next message, on another server, waits until it expires: 60 s is past nginx's proxy timeout.
# Processing a message takes well under a second here, a few seconds under load.
TICKET_LOCK_LIFETIME = 20

_T = TypeVar("_T")


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's Redis lock store with every change to a conversation's lock made atomic.

    Rasa 3.6's RedisLockStore issues a ticket by reading the lock, adding the ticket and writing
    the lock back in separate commands. Two servers getting a message of the same conversation
    at the same moment can both read "no lock", both write ticket 0 and both process the
    conversation at once; the SQL tracker store then keeps the events of only one of them
    (RasaHQ/rasa#9213; tests/test_cluster.py). Here each read-modify-write is one Redis
    transaction (WATCH/MULTI/EXEC, retried if another server changed the lock meanwhile).

    Waiting is changed too: Rasa's lets a waiting ticket expire like the others, so a message
    queued within a second of one whose server then died expires together with it and is
    never served (its request hangs until the client gives up). Here a waiting ticket's
    lifetime restarts at every poll and again when its turn comes: only a dead server's ticket
    expires, `lock_lifetime` after it was last seen.

    Rasa loads it from the endpoints file
    (`lock_store: type: bot.rasa_plugins.lock_store.AtomicRedisLockStore`).
    """

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)
        self._lifetimes: dict[tuple[str, int], float] = {}  # (conversation, ticket) -> s

    def _change(self, conversation_id: str,
                change: Callable[[TicketLock | None], tuple[_T, TicketLock | None]]) -> _T:
        """Apply `change` (stored lock -> result, new lock) atomically; no lock deletes it."""
        key = self.key_prefix + conversation_id

        def attempt(pipe: Pipeline) -> _T:
            stored = pipe.get(key)  # watching `key`: runs now, and EXEC fails if it changes
            lock = TicketLock.from_dict(json.loads(stored)) if stored else None
            result, lock = change(lock)
            pipe.multi()
            if lock is None:
                pipe.delete(key)
            else:
                pipe.set(key, lock.dumps())
            return result

        return self.red.transaction(attempt, key, value_from_callable=True)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: TicketLock | None) -> tuple[int, TicketLock]:
            lock = lock or self.create_lock(conversation_id)
            return lock.issue_ticket(lock_lifetime), lock

        try:
            ticket = self._change(conversation_id, issue)
        except Exception as error:
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error
        self._lifetimes[conversation_id, ticket] = lock_lifetime
        return ticket

    async def _acquire_lock(self, conversation_id: str, ticket: int,
                            wait_time_in_seconds: float) -> TicketLock:
        lifetime = self._lifetimes.get((conversation_id, ticket), LOCK_LIFETIME)

        def poll(lock: TicketLock | None) -> tuple[TicketLock | bool | None, TicketLock | None]:
            """The lock if it is our turn, False if not yet, None if our ticket is gone."""
            if lock is None:
                return None, None
            lock.remove_expired_tickets()
            ours = next((t for t in lock.tickets if t.number == ticket), None)
            if ours is None:
                return None, lock
            ours.expires = time.time() + lifetime
            return (lock if lock.tickets[0] is ours else False), lock

        while True:
            turn = self._change(conversation_id, poll)
            if turn is None:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if turn:
                return turn
            await asyncio.sleep(wait_time_in_seconds)

    def update_lock(self, conversation_id: str) -> None:
        def prune(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is not None:
                lock.remove_expired_tickets()
            return None, lock

        self._change(conversation_id, prune)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        def finish(lock: TicketLock | None) -> tuple[None, TicketLock | None]:
            if lock is None:
                return None, None
            lock.remove_ticket_for(ticket_number)
            return None, lock if lock.is_someone_waiting() else None

        self._lifetimes.pop((conversation_id, ticket_number), None)
        self._change(conversation_id, finish)
