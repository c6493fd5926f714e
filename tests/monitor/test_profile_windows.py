from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.profile.windows import parse_granularity

T = datetime(2025, 3, 5, 13, 47, 12, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(("text", "start", "end"), [
    ("5 minutes", datetime(2025, 3, 5, 13, 45, tzinfo=UTC), datetime(2025, 3, 5, 13, 50, tzinfo=UTC)),
    ("30 minutes", datetime(2025, 3, 5, 13, 30, tzinfo=UTC), datetime(2025, 3, 5, 14, 0, tzinfo=UTC)),
    ("1 hour", datetime(2025, 3, 5, 13, tzinfo=UTC), datetime(2025, 3, 5, 14, tzinfo=UTC)),
    ("1 day", datetime(2025, 3, 5, tzinfo=UTC), datetime(2025, 3, 6, tzinfo=UTC)),
    ("1 week", datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)),
    ("1 month", datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)),
    ("1 year", datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
])
def test_windows_are_aligned_like_spark(text: str, start: datetime, end: datetime) -> None:
    assert parse_granularity(text).window_at(T) == (start, end)


def test_previous_window_of_a_month_crosses_the_year() -> None:
    gran = parse_granularity("1 month")
    assert gran.previous_start(datetime(2025, 1, 1, tzinfo=UTC)) == datetime(2024, 12, 1, tzinfo=UTC)
    assert gran.end_of(datetime(2025, 12, 1, tzinfo=UTC)) == datetime(2026, 1, 1, tzinfo=UTC)


def test_previous_window_of_a_fixed_granularity_is_one_length_back() -> None:
    gran = parse_granularity("1 hour")
    assert gran.previous_start(datetime(2025, 3, 5, 0, tzinfo=UTC)) == datetime(2025, 3, 4, 23, tzinfo=UTC)
    assert gran.fixed == timedelta(hours=1)


@pytest.mark.parametrize("text", ["hourly", "0 hours", "2 months", "1 fortnight", ""])
def test_bad_granularities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="granularity"):
        parse_granularity(text)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        parse_granularity("1 hour").start_of(datetime(2025, 1, 1))  # noqa: DTZ001
