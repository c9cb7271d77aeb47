"""What the console reports, read-only: the dashboard's numbers, the partial identity matches
from the recovery flows, and the unanswered messages grouped by their normalised text."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from bot.mail.outbox import as_utc, utc_now
from bot.models import (
    TICKET_KINDS,
    TICKET_STATUSES,
    Account,
    Agent,
    Conversation,
    Rating,
    RecoveryAttempt,
    Ticket,
    UnansweredMessage,
)
from bot.tickets.service import kind_title

PAGE_SIZE = 50
PARTIAL = "partial"
# Recovery outcomes agents can act on: an account matched in part, a full match on an account
# that is not active, a record agreeing on everything but the date of birth.
FOR_AGENTS = (PARTIAL, "deactivated", "birth_date_differs")


def pages_for(total: int) -> int:
    return max(1, math.ceil(total / PAGE_SIZE))


# ------------------------------------------------------------------------- dashboard
@dataclass(frozen=True)
class Dashboard:
    since: datetime | None  # None: since the beginning
    conversations: int
    answered_alone: int  # answered from the documents, without a fallback or a ticket
    tickets_by_kind: list[tuple[str, str, int]]  # (kind, title, count), every kind
    tickets_by_status: list[tuple[str, int]]  # (status, count), every status
    resolved: int  # tickets resolved in the period
    median_resolution: timedelta | None
    helpful: int
    not_helpful: int

    @property
    def answered_share(self) -> float | None:
        return self.answered_alone / self.conversations if self.conversations else None

    @property
    def tickets(self) -> int:
        return sum(count for _kind, _title, count in self.tickets_by_kind)

    @property
    def ratings(self) -> int:
        return self.helpful + self.not_helpful

    @property
    def helpful_share(self) -> float | None:
        return self.helpful / self.ratings if self.ratings else None


# ------------------------------------------------------------------------- matches
@dataclass(frozen=True)
class AccountDetails:
    id: int
    system: str
    user_name: str
    first_name: str
    last_name: str
    birth_date: date
    email: str
    district: str
    school: str
    status: str


@dataclass(frozen=True)
class PartialMatch:
    id: int  # the recovery attempt's
    at: datetime
    kind: str  # username or password
    system: str
    account: AccountDetails | None  # None when the account was deleted since
    outcome: str = PARTIAL  # partial, deactivated or birth_date_differs


# ------------------------------------------------------------------------- unanswered
@dataclass(frozen=True)
class UnansweredGroup:
    normalised: str
    count: int
    first_seen: datetime
    last_seen: datetime
    sample: str  # the newest text of the group
    attached_faq_id: str | None = None
    attached_by: str | None = None  # the admin's display name


@dataclass(frozen=True)
class Listing:
    """One page of a listing."""

    items: list[Any]
    total: int
    page: int
    pages: int


class ConsoleReports:
    """The dashboard, the partial matches and the unanswered questions."""

    def __init__(
        self, sessions: sessionmaker, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = sessions
        self._clock = clock

    def dashboard(self, days: int | None = None) -> Dashboard:
        """The numbers for the last `days` days (everything when None): conversations by
        start, tickets by creation, resolutions by resolution time, ratings by last change."""
        since = as_utc(self._clock()) - timedelta(days=days) if days is not None else None

        def after(column: Any) -> list[Any]:
            return [column >= since] if since is not None else []

        with self._sessions() as session:
            conversations = session.execute(
                select(func.count()).select_from(Conversation)
                .where(*after(Conversation.started_at))
            ).scalar_one()
            answered_alone = session.execute(
                select(func.count()).select_from(Conversation).where(
                    *after(Conversation.started_at), Conversation.answers > 0,
                    Conversation.fallbacks == 0, Conversation.tickets == 0,
                )
            ).scalar_one()
            by_kind = dict(session.execute(
                select(Ticket.kind, func.count(Ticket.id)).where(*after(Ticket.created_at))
                .group_by(Ticket.kind)
            ).all())
            by_status = dict(session.execute(
                select(Ticket.status, func.count(Ticket.id)).where(*after(Ticket.created_at))
                .group_by(Ticket.status)
            ).all())
            resolutions = [
                as_utc(resolved) - as_utc(created)
                for created, resolved in session.execute(
                    select(Ticket.created_at, Ticket.resolved_at).where(
                        Ticket.resolved_at.is_not(None), *after(Ticket.resolved_at)
                    )
                ).all()
            ]
            ratings = dict(session.execute(
                select(Rating.helpful, func.count(Rating.id)).where(*after(Rating.updated_at))
                .group_by(Rating.helpful)
            ).all())
        kinds = [*TICKET_KINDS, *sorted(set(by_kind) - set(TICKET_KINDS))]
        statuses = [*TICKET_STATUSES, *sorted(set(by_status) - set(TICKET_STATUSES))]
        return Dashboard(
            since=since, conversations=conversations, answered_alone=answered_alone,
            tickets_by_kind=[(kind, kind_title(kind), by_kind.get(kind, 0)) for kind in kinds],
            tickets_by_status=[(status, by_status.get(status, 0)) for status in statuses],
            resolved=len(resolutions),
            median_resolution=statistics.median(resolutions) if resolutions else None,
            helpful=ratings.get(1, 0), not_helpful=ratings.get(0, 0),
        )

    def partial_matches(self, page: int = 1) -> Listing:
        """Recovery attempts that matched an account only in part, newest first, with that
        account's directory details."""
        where = RecoveryAttempt.outcome.in_(FOR_AGENTS)
        with self._sessions() as session:
            total = session.execute(
                select(func.count(RecoveryAttempt.id)).where(where)
            ).scalar_one()
            rows = session.execute(
                select(RecoveryAttempt, Account)
                .outerjoin(Account, Account.id == RecoveryAttempt.account_id)
                .where(where)
                .order_by(RecoveryAttempt.created_at.desc(), RecoveryAttempt.id.desc())
                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
            ).all()
            items = [
                PartialMatch(attempt.id, as_utc(attempt.created_at), attempt.kind, attempt.system,
                             _account(account) if account is not None else None,
                             attempt.outcome)
                for attempt, account in rows
            ]
        return Listing(items, total, page, pages_for(total))

    def unanswered(self, *, attached: bool = False, page: int = 1) -> Listing:
        """Unanswered messages grouped by normalised text, the largest groups first: those
        still to handle, or (`attached`) those an admin attached to an FAQ."""
        if attached:
            where = UnansweredMessage.attached_faq_id.is_not(None)
            keys: tuple[Any, ...] = (UnansweredMessage.normalised,
                                     UnansweredMessage.attached_faq_id)
        else:
            where = UnansweredMessage.attached_faq_id.is_(None)
            keys = (UnansweredMessage.normalised,)
        with self._sessions() as session:
            total = session.execute(
                select(func.count()).select_from(select(*keys).where(where).group_by(*keys)
                                                 .subquery())
            ).scalar_one()
            grouped = session.execute(
                select(*keys, func.count(UnansweredMessage.id),
                       func.min(UnansweredMessage.created_at),
                       func.max(UnansweredMessage.created_at))
                .where(where).group_by(*keys)
                .order_by(func.count(UnansweredMessage.id).desc(),
                          func.max(UnansweredMessage.created_at).desc(),
                          UnansweredMessage.normalised)
                .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
            ).all()
            normalised = [row[0] for row in grouped]
            samples: dict[str, str] = {}
            admins: dict[tuple[str, str], str] = {}
            if normalised:
                for key, text in session.execute(
                    select(UnansweredMessage.normalised, UnansweredMessage.text)
                    .where(where, UnansweredMessage.normalised.in_(normalised))
                    .order_by(UnansweredMessage.created_at.desc(), UnansweredMessage.id.desc())
                ).all():
                    samples.setdefault(key, text)
            if attached and normalised:
                for key, faq_id, name in session.execute(
                    select(UnansweredMessage.normalised, UnansweredMessage.attached_faq_id,
                           Agent.display_name)
                    .join(Agent, Agent.id == UnansweredMessage.attached_by)
                    .where(where, UnansweredMessage.normalised.in_(normalised))
                    .order_by(UnansweredMessage.attached_at.desc())
                ).all():
                    admins.setdefault((key, faq_id), name)
        items = []
        for row in grouped:
            faq_id = row[1] if attached else None
            count, first, last = row[-3], row[-2], row[-1]
            items.append(UnansweredGroup(
                normalised=row[0], count=count, first_seen=as_utc(first),
                last_seen=as_utc(last), sample=samples.get(row[0], ""),
                attached_faq_id=faq_id,
                attached_by=admins.get((row[0], faq_id)) if faq_id else None,
            ))
        return Listing(items, total, page, pages_for(total))


def _account(account: Account) -> AccountDetails:
    return AccountDetails(
        id=account.id, system=account.system, user_name=account.user_name,
        first_name=account.first_name, last_name=account.last_name,
        birth_date=account.birth_date, email=account.email, district=account.district,
        school=account.school, status=account.status,
    )
