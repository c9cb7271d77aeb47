"""The help desk's business hours, and when a person can be expected to answer a request.

The MassONE help desk is staffed Monday through Friday, 8:00 am to 4:00 pm Massachusetts time
(America/New_York), except on US federal and Massachusetts state holidays. Every `now` passed in
must be timezone-aware (any zone); results are in the desk's zone.

The promise made to a user (`expected_reply`): a request is answered by the end of the next
business day. Precisely, a request made while the desk is open starts now, and one made while it
is closed starts at the next opening; the answer is due at closing time on the business day that
is `business_days` (default 1) business days after the day the request starts. So a request on
Wednesday at 10:00 am, or on Tuesday evening, or on Wednesday at 7:00 am, is due Thursday at
4:00 pm; one made on Saturday starts Monday and is due Tuesday at 4:00 pm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.dates import DAY_NAMES, clock, day_and_date

MONDAY, THURSDAY = 0, 3


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th (1-based) given weekday of a month, e.g. the 3rd Monday of April."""
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _observed(day: date) -> date:
    """The day a fixed-date holiday is observed: a Saturday's on Friday, a Sunday's on Monday."""
    shift = {5: -1, 6: 1}.get(day.weekday(), 0)
    return day + timedelta(days=shift)


def _holidays_of(year: int) -> list[tuple[date, str]]:
    """The observed holidays of one year; New Year's Day may be observed in the year before."""
    may_31 = date(year, 5, 31)
    return [
        (_observed(date(year, 1, 1)), "New Year's Day"),
        (_nth_weekday(year, 1, MONDAY, 3), "Martin Luther King Jr. Day"),
        (_nth_weekday(year, 2, MONDAY, 3), "Presidents' Day"),
        (_nth_weekday(year, 4, MONDAY, 3), "Patriots' Day"),
        (may_31 - timedelta(days=may_31.weekday()), "Memorial Day"),  # last Monday of May
        (_observed(date(year, 6, 19)), "Juneteenth"),
        (_observed(date(year, 7, 4)), "Independence Day"),
        (_nth_weekday(year, 9, MONDAY, 1), "Labor Day"),
        (_nth_weekday(year, 10, MONDAY, 2), "Columbus Day / Indigenous Peoples' Day"),
        (_observed(date(year, 11, 11)), "Veterans Day"),
        (_nth_weekday(year, 11, THURSDAY, 4), "Thanksgiving"),
        (_observed(date(year, 12, 25)), "Christmas Day"),
    ]


def massachusetts_holidays(year: int) -> dict[date, str]:
    """The days in `year` on which the desk is closed for a federal or Massachusetts holiday.

    Dates are the observed ones; this includes 31 December when the next New Year's Day is a
    Saturday, and leaves out 1 January's holiday when it is observed on the 31 December before.
    """
    both = _holidays_of(year) + _holidays_of(year + 1)
    return {day: name for day, name in both if day.year == year}


@dataclass(frozen=True)
class BusinessHours:
    """When a help desk is staffed: opening hours on given weekdays (Monday is 0), less holidays."""

    timezone: str = "America/New_York"
    opens: time = time(8)
    closes: time = time(16)
    days: frozenset[int] = frozenset(range(5))  # Monday-Friday
    holidays: Callable[[int], Mapping[date, str]] = massachusetts_holidays
    zone_label: str = "Eastern"  # how the chat names the time zone

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("the desk must open before it closes")
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("days must be a non-empty set of weekday numbers 0-6")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {self.timezone!r}") from error

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, now: datetime) -> datetime:
        """`now` in the desk's zone; a naive datetime is rejected, as its zone is unknown."""
        if now.utcoffset() is None:
            raise ValueError(f"a timezone-aware datetime is needed, not {now!r}")
        return now.astimezone(self.zone)

    def holiday(self, day: date) -> str | None:
        """The name of the holiday observed on `day`, or None."""
        return self.holidays(day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and self.holiday(day) is None

    def is_open(self, now: datetime) -> bool:
        """Whether the desk is staffed at `now`: from opening time up to, not including, closing."""
        local = self.local(now)
        return self.is_business_day(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, now: datetime) -> datetime:
        """When the desk is next open, in its zone: `now` itself if it is open now."""
        local = self.local(now)
        if self.is_open(local):
            return local
        day = local.date() if local.time() < self.opens else local.date() + timedelta(days=1)
        while not self.is_business_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, self.opens, tzinfo=self.zone)

    def expected_reply(self, now: datetime, business_days: int = 1) -> datetime:
        """When a request made at `now` is due: closing time `business_days` business days after
        the day it starts (now if the desk is open, else its next opening); see the module doc."""
        if business_days < 0:
            raise ValueError("business_days must not be negative")
        day = self.next_opening(now).date()
        for _ in range(business_days):
            day += timedelta(days=1)
            while not self.is_business_day(day):
                day += timedelta(days=1)
        return datetime.combine(day, self.closes, tzinfo=self.zone)

    def describe(self) -> str:
        """The opening hours as chat text: "Monday-Friday, 8:00 am-4:00 pm Eastern"."""
        days = sorted(self.days)
        if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
            names = f"{DAY_NAMES[days[0]]}-{DAY_NAMES[days[-1]]}"
        else:
            names = ", ".join(DAY_NAMES[d] for d in days)
        return f"{names}, {clock(self.opens)}-{clock(self.closes)} {self.zone_label}"

    def expectation_text(self, now: datetime) -> str:
        """Chat text for a user who asked for a person: is the desk open, when is a reply due."""
        local = self.local(now)
        due = self.expected_reply(local)
        expect = f"Expect an answer by {clock(self.closes)} on {day_and_date(due)}."
        if self.is_open(local):
            return f"The help desk is open now ({self.describe()}). {expect}"
        holiday = self.holiday(local.date()) if local.weekday() in self.days else None
        closed = f"closed today for {holiday}" if holiday else "closed now"
        opening = self.next_opening(local)
        return (
            f"The help desk is {closed}; it opens again {day_and_date(opening)} at "
            f"{clock(self.opens)} {self.zone_label}. {expect}"
        )


HELP_DESK = BusinessHours()
"""The MassONE / ESE Security Portal help desk."""
