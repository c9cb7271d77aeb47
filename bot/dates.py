"""Dates and times as people read them: "November 28, 2026", "Friday, November 27",
"9:05 am". One place for every page, e-mail and chat reply that shows a date to a user or an
agent; machine formats (ISO-8601) stay in storage, logs and command-line output.

English month and day names, whatever the process locale (strftime's %B and %A follow it).
"""

from __future__ import annotations

from datetime import date, datetime, time

DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
NONE = "–"


def long_date(day: date | datetime | None, missing: str = NONE) -> str:
    """ "November 28, 2026"; `missing` for None."""
    if day is None:
        return missing
    return f"{MONTH_NAMES[day.month - 1]} {day.day}, {day.year}"


def day_and_date(day: date | datetime) -> str:
    """ "Friday, November 27" (chat text about the coming days: no year)."""
    return f"{DAY_NAMES[day.weekday()]}, {MONTH_NAMES[day.month - 1]} {day.day}"


def clock(moment: time | datetime) -> str:
    """ "8:00 am", "4:00 pm", "12:30 pm"."""
    return f"{moment.hour % 12 or 12}:{moment.minute:02d} {'am' if moment.hour < 12 else 'pm'}"


def date_and_time(moment: datetime | None, missing: str = NONE) -> str:
    """ "November 28, 2026, 9:05 am EST": `moment` in its own zone, named when it has one."""
    if moment is None:
        return missing
    zone = moment.tzname() if moment.tzinfo else None
    return f"{long_date(moment)}, {clock(moment)}{f' {zone}' if zone else ''}"
