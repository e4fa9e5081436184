"""Whether two effective periods share a day: the one test the registry preview and the store's activation use.

A period is a pair of first and last day, both included, either open (None: unbounded on that side).
Days are ``datetime.date`` values, day numbers (``date.toordinal()``, as :class:`policy.model.Ruleset`
holds them) or ISO ``YYYY-MM-DD`` text (as the store's rows hold them): each is turned into a day number
before comparing, so the three agree (text compared as text would put ``20240101`` after ``2024-12-31``).
A period whose last day is before its first holds no day and overlaps nothing.
"""

from __future__ import annotations

import datetime as dt

Day = int | str | dt.date | None


def day_number(day: Day) -> int | None:
    """A day as its ordinal (None, and empty text, for an open end)."""
    if day is None or day == "":
        return None
    if isinstance(day, dt.date):
        return day.toordinal()
    if isinstance(day, str):
        return dt.date.fromisoformat(day).toordinal()
    return int(day)


def periods_overlap(a_from: Day, a_to: Day, b_from: Day, b_to: Day) -> bool:
    """Whether [a_from, a_to] and [b_from, b_to] (both ends included, None open) share a day."""
    lo_a, hi_a, lo_b, hi_b = day_number(a_from), day_number(a_to), day_number(b_from), day_number(b_to)
    if lo_a is not None and hi_a is not None and hi_a < lo_a:
        return False
    if lo_b is not None and hi_b is not None and hi_b < lo_b:
        return False
    first = max((d for d in (lo_a, lo_b) if d is not None), default=None)
    last = min((d for d in (hi_a, hi_b) if d is not None), default=None)
    return first is None or last is None or first <= last
