"""The one period-overlap test (policy.periods), against the plain definition: two periods overlap when some
day lies in both.  The registry's preview (Ruleset day numbers) and the store's activation (ISO text of its
rows) go through it, so they agree on every pair of periods."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, strategies as st

from policy.periods import periods_overlap

WINDOW = (dt.date(2019, 12, 20), dt.date(2021, 1, 10))  # open ends reach past every day drawn
day = st.one_of(st.none(), st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2020, 12, 31)))


def _days(first: dt.date | None, last: dt.date | None) -> set[dt.date]:
    lo, hi = first or WINDOW[0], last or WINDOW[1]
    return {lo + dt.timedelta(days=n) for n in range((hi - lo).days + 1)}  # empty when hi < lo


@given(day, day, day, day)
def test_overlap_is_a_shared_day(a_from, a_to, b_from, b_to):
    expected = bool(_days(a_from, a_to) & _days(b_from, b_to))
    assert periods_overlap(a_from, a_to, b_from, b_to) is expected


@given(day, day, day, day)
def test_day_numbers_and_store_text_give_the_same_answer(a_from, a_to, b_from, b_to):
    def number(d):
        return d.toordinal() if d else None

    def iso(d):
        return d.isoformat() if d else None

    by_date = periods_overlap(a_from, a_to, b_from, b_to)
    assert periods_overlap(number(a_from), number(a_to), number(b_from), number(b_to)) is by_date
    assert periods_overlap(iso(a_from), iso(a_to), iso(b_from), iso(b_to)) is by_date
    assert periods_overlap(b_from, b_to, a_from, a_to) is by_date


def test_basic_iso_text_is_read_as_a_date():
    """ISO text the store might hold in the basic form compares as the date it names, not as text."""
    assert periods_overlap("20240101", "20241231", "2024-06-01", None)
    assert not periods_overlap("20240101", "20241231", "2025-01-01", None)
