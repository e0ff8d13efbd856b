"""The working-day calendar without a database."""

from datetime import UTC, date, datetime

import pytest

from engine.calendar import BusinessCalendar, Override, parse_day
from engine.errors import ConfigError, InvalidInput


@pytest.fixture
def calendar():
    return BusinessCalendar()


def test_week_is_sunday_to_thursday(calendar):
    week = [date(2026, 12, d) for d in range(6, 13)]  # Sunday 6 … Saturday 12 December 2026
    assert [calendar.is_working_day(d) for d in week] == [True, True, True, True, True, False, False]


def test_saudi_public_holidays_are_closed_with_arabic_names(calendar):
    assert not calendar.is_working_day(date(2026, 9, 23))  # National Day, a Wednesday
    assert calendar.public_holidays(2026)[date(2026, 9, 23)] == "اليوم الوطني"
    english = BusinessCalendar(language="en_US")
    assert english.public_holidays(2026)[date(2026, 9, 23)] == "National Day Holiday"


def test_ten_working_days_across_a_weekend_and_a_holiday(calendar):
    # Thursday 17 September 2026; the weekend and National Day (Wed 23) are skipped.
    assert calendar.add_business_days(date(2026, 9, 17), 10) == date(2026, 10, 4)
    assert calendar.add_business_days(date(2026, 10, 4), -10) == date(2026, 9, 17)
    assert calendar.add_business_days(date(2026, 9, 17), 0) == date(2026, 9, 17)
    assert calendar.business_days_between(date(2026, 9, 17), date(2026, 10, 4)) == 10
    assert calendar.business_days_between(date(2026, 10, 4), date(2026, 9, 17)) == -10


def test_deadline_keeps_the_local_clock_time(calendar):
    start = datetime(2026, 9, 17, 7, 30, tzinfo=UTC)  # 10:30 in Riyadh
    assert calendar.deadline(start, 10) == datetime(2026, 10, 4, 7, 30, tzinfo=UTC)
    # 23:30 UTC on Thursday is already Friday in Riyadh: counting starts from Friday.
    late = datetime(2026, 9, 17, 22, 30, tzinfo=UTC)
    assert calendar.deadline(late, 1) == datetime(2026, 9, 19, 22, 30, tzinfo=UTC)  # Sunday 01:30 local


def test_society_closures_and_corrections(calendar):
    corrected = BusinessCalendar(
        overrides={
            date(2026, 12, 9): Override(False, "Annual general assembly"),
            date(2026, 9, 23): Override(True, "Worked this year"),
        }
    )
    assert not corrected.is_working_day(date(2026, 12, 9))
    assert corrected.is_working_day(date(2026, 9, 23))
    assert corrected.add_business_days(date(2026, 12, 1), 10) == date(2026, 12, 16)
    assert calendar.add_business_days(date(2026, 12, 1), 10) == date(2026, 12, 15)
    kinds = {e.day: e.kind for e in corrected.days(2026)}
    assert kinds[date(2026, 12, 9)] == "closure" and kinds[date(2026, 9, 23)] == "opened"
    assert kinds[date(2026, 3, 19)] == "public_holiday"


def test_configurable_working_week():
    western = BusinessCalendar(working_days=["monday", "tuesday", "wednesday", "thursday", "friday"], country="SA")
    assert western.is_working_day(date(2026, 12, 11))  # a Friday
    assert not western.is_working_day(date(2026, 12, 6))  # a Sunday


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"timezone": "Mars/Olympus"}, "not a known time zone"),
        ({"working_days": ["sunday", "funday"]}, "must name weekdays"),
        ({"country": "XX"}, "not known to the holidays package"),
    ],
)
def test_bad_configuration_is_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BusinessCalendar(**kwargs).public_holidays(2026)


def test_bad_day_counts_and_dates(calendar):
    with pytest.raises(InvalidInput, match="whole number"):
        calendar.add_business_days(date(2026, 12, 1), 2.5)
    with pytest.raises(InvalidInput, match="more than the limit"):
        calendar.add_business_days(date(2026, 12, 1), 10**6)
    assert parse_day("٢٠٢٦-١٢-٠١") == date(2026, 12, 1)
    with pytest.raises(InvalidInput, match="write YYYY-MM-DD"):
        parse_day("1/12/2026")
