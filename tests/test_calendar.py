"""The business calendar: weekends and the calendar country's public holidays don't count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from leadowner.calendar import add_business_days, add_business_hours, is_business_day


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_48_business_hours_from_friday_10_00_end_tuesday_10_00():
    friday = utc(2025, 3, 7, 10, 0)
    assert friday.weekday() == 4
    assert add_business_hours(friday, 48, country="US") == utc(2025, 3, 11, 10, 0)


def test_business_hours_inside_one_business_day_keep_the_time_of_day():
    monday = utc(2025, 3, 10, 9, 30)
    assert add_business_hours(monday, 5, country="US") == utc(2025, 3, 10, 14, 30)
    assert add_business_hours(monday, 24, country="US") == utc(2025, 3, 11, 9, 30)


def test_thanksgiving_does_not_count_in_the_us():
    wednesday_before = utc(2025, 11, 26, 10, 0)
    # Wed 14 h, Thanksgiving skipped, Fri 24 h, weekend skipped, Mon 10 h.
    assert add_business_hours(wednesday_before, 48, country="US") == utc(2025, 12, 1, 10, 0)


def test_christmas_does_not_count_in_the_us():
    christmas_eve = utc(2025, 12, 24, 10, 0)
    assert add_business_hours(christmas_eve, 48, country="US") == utc(2025, 12, 29, 10, 0)


def test_boxing_day_counts_only_under_a_gb_calendar():
    christmas_eve = utc(2025, 12, 24, 10, 0)
    # GB: Christmas and Boxing Day both skipped, so the deadline is a day later than in the US.
    assert add_business_hours(christmas_eve, 48, country="GB") == utc(2025, 12, 30, 10, 0)
    boxing_day = date(2025, 12, 26)
    assert is_business_day(boxing_day, country="US")
    assert not is_business_day(boxing_day, country="GB")


def test_a_start_on_a_holiday_begins_counting_at_the_next_business_day():
    boxing_day_morning = utc(2025, 12, 26, 10, 0)
    assert add_business_hours(boxing_day_morning, 24, country="US") == utc(2025, 12, 29, 10, 0)
    assert add_business_hours(boxing_day_morning, 24, country="GB") == utc(2025, 12, 30, 0, 0)


def test_a_start_on_a_weekend_begins_counting_at_monday_midnight():
    saturday = utc(2025, 3, 8, 15, 0)
    assert add_business_hours(saturday, 10, country="US") == utc(2025, 3, 10, 10, 0)


def test_business_days_are_24_business_hours_each():
    friday = utc(2025, 3, 7, 10, 0)
    assert add_business_days(friday, 1, country="US") == utc(2025, 3, 10, 10, 0)
    assert add_business_days(friday, 2, country="US") == add_business_hours(friday, 48, country="US")


def test_zero_business_days_is_the_start_itself():
    saturday = utc(2025, 3, 8, 15, 0)
    assert add_business_days(saturday, 0, country="US") == saturday


def test_calendar_days_are_utc_dates_whatever_the_start_time_zone():
    # Friday 22:00 in New York is Saturday 03:00 UTC: a weekend start.
    new_york = timezone(timedelta(hours=-5))
    friday_night = datetime(2025, 3, 7, 22, 0, tzinfo=new_york)
    assert add_business_hours(friday_night, 1, country="US") == utc(2025, 3, 10, 1, 0)


def test_an_unknown_calendar_country_fails_loudly():
    with pytest.raises(ValueError, match="no holiday calendar"):
        add_business_hours(utc(2025, 3, 7, 10, 0), 1, country="XX")


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        add_business_hours(datetime(2025, 3, 7, 10, 0), 1, country="US")


def test_negative_durations_are_refused():
    with pytest.raises(ValueError):
        add_business_hours(utc(2025, 3, 7, 10, 0), -1, country="US")
    with pytest.raises(ValueError):
        add_business_days(utc(2025, 3, 7, 10, 0), -1, country="US")
