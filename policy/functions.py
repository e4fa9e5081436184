"""Functions a ruleset may call in computed fields (deadlines, period bounds).

Dates are day numbers (``datetime.date.toordinal``) everywhere below, so that
conditions compare and subtract them as plain numbers.  Working days follow the
official State Council calendar as published in ``chinese-calendar``: public
holidays are not working days and the adjusted working weekend days (调休) are.
Where the calendar does not cover a year the result is *unknown*, never a
guess: a deadline that cannot be computed yields no violation, and the
evaluation reports a warning instead.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

import chinese_calendar


class UnknownValue(Exception):
    """A value a condition needs is not known; the condition cannot hold."""

    def __init__(self, reason: str = "", warning: dict | None = None):
        super().__init__(reason)
        self.warning = warning


def to_day(value: dt.date) -> int:
    return value.toordinal()


def from_day(day: float) -> dt.date:
    # a day number may be a float (date arithmetic in the rule language gives one); int() truncates it
    return dt.date.fromordinal(int(day))


def parse_date(text: str) -> int:
    """ISO date string to day number; ValueError on a bad date."""
    return to_day(dt.date.fromisoformat(text))


@functools.lru_cache(maxsize=8192)
def _is_workday(day: dt.date) -> bool:
    """Cached: chinese_calendar scans its whole holiday table on every call (~30 us)."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        raise UnknownValue(
            f"the official holiday calendar does not cover {day.year}",
            {
                "code": "calendar_year_not_covered",
                "year": day.year,
                "message": {
                    "zh": f"官方节假日日历未覆盖{day.year}年，相关工作日期限无法计算",
                    "en": f"The official holiday calendar does not cover {day.year}; "
                    f"working-day deadlines in that year are unknown",
                },
            },
        ) from None


def date_of(year: float, month: float, day: float) -> int:
    """The date year-month-day, where month 13 is January of the next year."""
    y, m = int(year), int(month)
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    try:
        return to_day(dt.date(y, m, int(day)))
    except ValueError:
        raise UnknownValue(f"no such date {y}-{m}-{int(day)}") from None


def next_working_day(day: float) -> int:
    """The day itself if it is a working day, else the next working day (节假日顺延)."""
    d = from_day(day)
    while not _is_workday(d):
        d += dt.timedelta(days=1)
    return to_day(d)


def add_working_days(day: float, count: float) -> int:
    """The ``count``-th working day after ``day`` (工作日内: day itself not counted)."""
    d, left = from_day(day), int(count)
    while left > 0:
        d += dt.timedelta(days=1)
        if _is_workday(d):
            left -= 1
    return to_day(d)


def year_end(year: float) -> int:
    """31 December of ``year``."""
    return to_day(dt.date(int(year), 12, 31))


def month_of(day: float) -> str:
    """The month of a date as "YYYY-MM" (a violation's period)."""
    return from_day(day).strftime("%Y-%m")


def year_of(day: float) -> int:
    """The year of a date."""
    return from_day(day).year


def choose(condition: bool, if_true: float, if_false: float) -> float:
    """``if_true`` when the condition holds, else ``if_false`` (e.g. a fine range that depends on gains)."""
    return if_true if condition else if_false


@dataclass(frozen=True)
class Function:
    """A callable with its argument and result types for the type checker."""

    name: str
    impl: Callable[..., Any]
    args: tuple[str, ...]
    result: str
    doc: str


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "date_of",
            date_of,
            ("number", "number", "number"),
            "date",
            "date_of(year, month, day): that date; month 13 means January of the next year",
        ),
        Function(
            "next_working_day",
            next_working_day,
            ("date",),
            "date",
            "next_working_day(d): d if it is an official working day, else the next one",
        ),
        Function(
            "add_working_days",
            add_working_days,
            ("date", "number"),
            "date",
            "add_working_days(d, n): the n-th official working day after d",
        ),
        Function("year_end", year_end, ("number",), "date", "year_end(y): 31 December of year y"),
        Function("month_of", month_of, ("date",), "string", "month_of(d): the month of d as 'YYYY-MM'"),
        Function("year_of", year_of, ("date",), "number", "year_of(d): the year of d"),
        Function(
            "choose",
            choose,
            ("boolean", "number", "number"),
            "number",
            "choose(condition, a, b): a when the condition holds, else b",
        ),
        Function("max", max, ("number", "number"), "number", "max(a, b): the larger"),
        Function("min", min, ("number", "number"), "number", "min(a, b): the smaller"),
    )
}
