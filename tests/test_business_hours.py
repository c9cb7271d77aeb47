"""The help desk's hours, holidays and reply expectations in `bot.tickets.business_hours`."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.tickets.business_hours import HELP_DESK, BusinessHours, massachusetts_holidays

EASTERN = HELP_DESK.zone
UTC = timezone.utc


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time at the desk (America/New_York)."""
    return datetime(year, month, day, hour, minute, tzinfo=EASTERN)


# --- holidays ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (date(2026, 2, 16), "Presidents' Day"),
        (date(2026, 4, 20), "Patriots' Day"),
        (date(2027, 4, 19), "Patriots' Day"),
        (date(2026, 5, 25), "Memorial Day"),
        (date(2026, 6, 19), "Juneteenth"),
        (date(2026, 7, 3), "Independence Day"),  # the 4th is a Saturday
        (date(2026, 9, 7), "Labor Day"),
        (date(2026, 10, 12), "Columbus Day / Indigenous Peoples' Day"),
        (date(2026, 11, 11), "Veterans Day"),
        (date(2026, 11, 26), "Thanksgiving"),
        (date(2026, 12, 25), "Christmas Day"),
        (date(2027, 6, 18), "Juneteenth"),  # the 19th is a Saturday
        (date(2027, 12, 24), "Christmas Day"),  # the 25th is a Saturday
        (date(2028, 12, 25), "Christmas Day"),  # Monday; nothing to shift
        (date(2023, 1, 2), "New Year's Day"),  # the 1st is a Sunday
        (date(2021, 12, 31), "New Year's Day"),  # 1 January 2022 is a Saturday
    ],
)
def test_holiday_dates(day: date, name: str) -> None:
    assert HELP_DESK.holiday(day) == name
    assert not HELP_DESK.is_business_day(day)


def test_a_year_has_its_twelve_holidays_once() -> None:
    assert len(massachusetts_holidays(2026)) == 12
    # 2021 gains 31 December (for 2022's New Year's Day) but 1 January 2021 is a Friday: 12 + 1.
    assert len(massachusetts_holidays(2021)) == 13
    # 2022 loses its New Year's Day to 2021.
    assert len(massachusetts_holidays(2022)) == 11
    assert date(2022, 1, 1) not in massachusetts_holidays(2022)


@pytest.mark.parametrize("day", [date(2026, 7, 4), date(2026, 7, 6), date(2026, 12, 24)])
def test_days_that_are_not_holidays(day: date) -> None:
    assert HELP_DESK.holiday(day) is None


# --- is_open and next_opening ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "is_open", "opening"),
    [
        (at(2026, 11, 18, 10, 30), True, at(2026, 11, 18, 10, 30)),  # Wednesday morning
        (at(2026, 11, 18, 7, 59), False, at(2026, 11, 18, 8)),  # before 8: opens today
        (at(2026, 11, 18, 8), True, at(2026, 11, 18, 8)),  # opening time is open
        (at(2026, 11, 18, 15, 59), True, at(2026, 11, 18, 15, 59)),
        (at(2026, 11, 18, 16), False, at(2026, 11, 19, 8)),  # closing time is closed
        (at(2026, 11, 18, 21), False, at(2026, 11, 19, 8)),  # after 4: tomorrow
        (at(2026, 11, 20, 17), False, at(2026, 11, 23, 8)),  # Friday evening: Monday
        (at(2026, 11, 21, 11), False, at(2026, 11, 23, 8)),  # Saturday
        (at(2026, 11, 22, 23, 59), False, at(2026, 11, 23, 8)),  # Sunday night
        (at(2026, 11, 26, 11), False, at(2026, 11, 27, 8)),  # Thanksgiving
        (at(2026, 11, 25, 16, 30), False, at(2026, 11, 27, 8)),  # evening before Thanksgiving
        (at(2027, 4, 19, 9), False, at(2027, 4, 20, 8)),  # Patriots' Day 2027
        (at(2026, 7, 2, 17), False, at(2026, 7, 6, 8)),  # July 3 observed, then the weekend
        (at(2026, 12, 31, 12), True, at(2026, 12, 31, 12)),  # New Year's Eve is a workday
        (at(2026, 12, 31, 16), False, at(2027, 1, 4, 8)),  # New Year's Day is a Friday
    ],
)
def test_is_open_and_next_opening(now: datetime, is_open: bool, opening: datetime) -> None:
    assert HELP_DESK.is_open(now) is is_open
    assert HELP_DESK.next_opening(now) == opening


def test_next_opening_is_in_the_desk_zone() -> None:
    for now in (at(2026, 11, 18, 10), at(2026, 11, 21, 10).astimezone(UTC)):
        opening = HELP_DESK.next_opening(now)
        assert opening.tzinfo == EASTERN
        assert opening.utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        (datetime(2026, 11, 18, 13, 0, tzinfo=UTC), True),  # 8:00 am EST
        (datetime(2026, 11, 18, 12, 59, tzinfo=UTC), False),  # 7:59 am EST
        (datetime(2026, 7, 15, 12, 0, tzinfo=UTC), True),  # 8:00 am EDT
        (datetime(2026, 7, 15, 20, 0, tzinfo=UTC), False),  # 4:00 pm EDT
        (datetime(2026, 11, 19, 2, 0, tzinfo=UTC), False),  # Wednesday 9 pm EST, Thursday in UTC
    ],
)
def test_now_in_utc(utc: datetime, is_open: bool) -> None:
    assert HELP_DESK.is_open(utc) is is_open


def test_now_in_another_zone() -> None:
    # 6:30 am in Los Angeles is 9:30 am in Boston.
    los_angeles = datetime(2026, 11, 18, 6, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert HELP_DESK.is_open(los_angeles)
    assert HELP_DESK.next_opening(los_angeles) == at(2026, 11, 18, 9, 30)


@pytest.mark.parametrize(
    "call",
    [
        HELP_DESK.is_open,
        HELP_DESK.next_opening,
        HELP_DESK.expected_reply,
        HELP_DESK.expectation_text,
    ],
)
def test_naive_datetime_is_rejected(call) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 11, 18, 10))


# --- daylight saving time ----------------------------------------------------------------------


def test_spring_forward_weekend() -> None:
    # Clocks go forward on Sunday 8 March 2026: Friday is EST (UTC-5), Monday is EDT (UTC-4).
    friday_evening = at(2026, 3, 6, 17)
    opening = HELP_DESK.next_opening(friday_evening)
    assert opening == at(2026, 3, 9, 8)
    assert opening.astimezone(UTC) == datetime(2026, 3, 9, 12, tzinfo=UTC)
    # Aware datetimes in one zone subtract by wall clock; compare the real interval in UTC.
    assert opening.astimezone(UTC) - friday_evening.astimezone(UTC) == timedelta(days=2, hours=14)
    assert HELP_DESK.expected_reply(friday_evening) == at(2026, 3, 10, 16)
    # 12:30 UTC is 7:30 am on the Friday before, 8:30 am on the Monday after.
    assert not HELP_DESK.is_open(datetime(2026, 3, 6, 12, 30, tzinfo=UTC))
    assert HELP_DESK.is_open(datetime(2026, 3, 9, 12, 30, tzinfo=UTC))


def test_fall_back_weekend() -> None:
    # Clocks go back on Sunday 1 November 2026: Friday is EDT (UTC-4), Monday is EST (UTC-5).
    friday_evening = at(2026, 10, 30, 17)
    opening = HELP_DESK.next_opening(friday_evening)
    assert opening == at(2026, 11, 2, 8)
    assert opening.astimezone(UTC) == datetime(2026, 11, 2, 13, tzinfo=UTC)
    assert opening.astimezone(UTC) - friday_evening.astimezone(UTC) == timedelta(days=2, hours=16)
    assert not HELP_DESK.is_open(datetime(2026, 11, 2, 12, 30, tzinfo=UTC))  # 7:30 am EST
    assert HELP_DESK.is_open(datetime(2026, 10, 30, 12, 30, tzinfo=UTC))  # 8:30 am EDT


# --- expected_reply ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (at(2026, 11, 17, 10), at(2026, 11, 18, 16)),  # open Tuesday: end of Wednesday
        (at(2026, 11, 17, 8), at(2026, 11, 18, 16)),
        (at(2026, 11, 17, 7), at(2026, 11, 18, 16)),  # before opening: starts Tuesday 8:00
        (at(2026, 11, 17, 16), at(2026, 11, 19, 16)),  # at closing: starts Wednesday
        (at(2026, 11, 20, 10), at(2026, 11, 23, 16)),  # open Friday: end of Monday
        (at(2026, 11, 20, 17), at(2026, 11, 24, 16)),  # Friday evening: starts Monday
        (at(2026, 11, 21, 12), at(2026, 11, 24, 16)),  # Saturday
        (at(2026, 11, 25, 10), at(2026, 11, 27, 16)),  # skips Thanksgiving
        (at(2026, 11, 26, 10), at(2026, 11, 30, 16)),  # on Thanksgiving: starts Friday
        (at(2027, 4, 16, 10), at(2027, 4, 20, 16)),  # Friday before Patriots' Day
        (at(2026, 7, 2, 10), at(2026, 7, 6, 16)),  # skips observed July 3 and the weekend
    ],
)
def test_expected_reply(now: datetime, due: datetime) -> None:
    assert HELP_DESK.expected_reply(now) == due
    assert HELP_DESK.expected_reply(now).tzinfo == EASTERN


@pytest.mark.parametrize(
    ("business_days", "due"),
    [(0, at(2026, 11, 25, 16)), (1, at(2026, 11, 27, 16)), (3, at(2026, 12, 1, 16))],
)
def test_expected_reply_after_several_business_days(business_days: int, due: datetime) -> None:
    assert HELP_DESK.expected_reply(at(2026, 11, 25, 10), business_days) == due


def test_negative_business_days_are_rejected() -> None:
    with pytest.raises(ValueError):
        HELP_DESK.expected_reply(at(2026, 11, 25, 10), -1)


# --- expectation_text --------------------------------------------------------------------------


def test_text_when_open() -> None:
    text = HELP_DESK.expectation_text(at(2026, 11, 25, 10))
    assert text.startswith("The help desk is open now")
    assert "Monday-Friday, 8:00 am-4:00 pm Eastern" in text
    assert "4:00 pm on Friday, November 27." in text


def test_text_when_closed() -> None:
    text = HELP_DESK.expectation_text(at(2026, 11, 27, 18))
    assert "closed now" in text
    assert "opens again Monday, November 30 at 8:00 am Eastern" in text
    assert "4:00 pm on Tuesday, December 1." in text


def test_text_on_a_weekend_does_not_name_a_holiday() -> None:
    # 4 July 2026 is a Saturday: the desk is closed for the weekend (the holiday was Friday).
    text = HELP_DESK.expectation_text(at(2026, 7, 4, 10))
    assert "closed now" in text
    assert "Independence Day" not in text
    assert "Monday, July 6" in text
    assert "Tuesday, July 7" in text


@pytest.mark.parametrize(
    ("now", "holiday", "opens", "due"),
    [
        (at(2026, 11, 26, 10), "Thanksgiving", "Friday, November 27", "Monday, November 30"),
        (at(2027, 4, 19, 7), "Patriots' Day", "Tuesday, April 20", "Wednesday, April 21"),
        (at(2026, 7, 3, 20), "Independence Day", "Monday, July 6", "Tuesday, July 7"),
    ],
)
def test_text_on_a_holiday(now: datetime, holiday: str, opens: str, due: str) -> None:
    text = HELP_DESK.expectation_text(now)
    assert f"closed today for {holiday}" in text
    assert f"opens again {opens} at 8:00 am" in text
    assert f"4:00 pm on {due}." in text


def test_text_for_a_utc_now() -> None:
    # 2:00 UTC on Thursday 19 November is Wednesday 9 pm in Boston: closed, opens Thursday.
    text = HELP_DESK.expectation_text(datetime(2026, 11, 19, 2, tzinfo=UTC))
    assert "opens again Thursday, November 19" in text
    assert "Friday, November 20." in text


# --- other desks -------------------------------------------------------------------------------


def test_a_desk_with_other_hours_and_no_holidays() -> None:
    desk = BusinessHours(
        opens=time(9, 30), closes=time(12), days=frozenset({0, 2}), holidays=lambda year: {}
    )
    assert desk.describe() == "Monday, Wednesday, 9:30 am-12:00 pm Eastern"
    assert desk.next_opening(at(2026, 11, 26, 10)) == at(2026, 11, 30, 9, 30)  # Thanksgiving
    assert desk.expected_reply(at(2026, 11, 30, 10)) == at(2026, 12, 2, 12)


@pytest.mark.parametrize(
    "settings",
    [
        {"opens": time(16), "closes": time(8)},
        {"days": frozenset()},
        {"days": frozenset({7})},
        {"timezone": "Mars/Olympus_Mons"},
    ],
)
def test_invalid_settings_are_rejected(settings: dict) -> None:
    with pytest.raises(ValueError):
        BusinessHours(**settings)
