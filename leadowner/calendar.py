"""The business calendar every SLA counts in: weekends and a country's public holidays don't count.

Definition (one model for every deadline, chosen because it is simple and predictable):

- A *business day* is a whole calendar day, midnight to midnight UTC, that is neither a
  Saturday, a Sunday nor a public holiday of the rule set's calendar country (the
  `holidays` package, national holidays only).
- *Business time* runs only during business days, 24 hours a day. Adding N business
  hours moves the clock forward and skips every non-business day entirely.
- So 48 business hours from Friday 10:00 is Tuesday 10:00 (Friday 14 h, Monday 24 h,
  Tuesday 10 h): when the start is inside a business day the time of day is preserved.
  A start on a non-business day begins counting at the next business day's midnight,
  so 24 business hours from Saturday 10:00 end at Tuesday 00:00 (the end of Monday).
- N business days are N x 24 business hours.

Dates are UTC dates (the project's TIME_ZONE is UTC); a country that spans time zones
has no single local midnight, and this keeps every deadline reproducible.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

_DAY = timedelta(days=1)
# Stop runaway loops on absurd inputs: ten years of days is far beyond any SLA.
_MAX_DAYS_SCANNED = 3660


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> frozenset[date]:
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        raise ValueError(f"no holiday calendar for country {country!r}") from None
    return frozenset(calendar.keys())


def is_business_day(day: date, *, country: str) -> bool:
    """Monday to Friday and not a public holiday of `country` (ISO 3166-1 alpha-2)."""
    if day.weekday() >= 5:
        return False
    return day not in _holidays(country.upper(), day.year)


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs an aware datetime")
    return moment.astimezone(UTC)


def add_business_hours(start: datetime, hours: int, *, country: str) -> datetime:
    """`start` plus `hours` of business time (see the module docstring). Returns UTC."""
    if hours < 0:
        raise ValueError("hours must not be negative")
    cursor = _as_utc(start)
    remaining = timedelta(hours=hours)
    scanned = 0
    while remaining > timedelta(0):
        day_start = datetime.combine(cursor.date(), time(0), tzinfo=UTC)
        day_end = day_start + _DAY
        if is_business_day(cursor.date(), country=country):
            available = day_end - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
        cursor = day_end
        scanned += 1
        if scanned > _MAX_DAYS_SCANNED:
            raise ValueError(f"no end found within {_MAX_DAYS_SCANNED} days")
    return cursor


def add_business_days(start: datetime, days: int, *, country: str) -> datetime:
    """`start` plus `days` business days of 24 business hours each. Returns UTC."""
    if days < 0:
        raise ValueError("days must not be negative")
    return add_business_hours(start, days * 24, country=country)
