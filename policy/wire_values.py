"""What a JSON value sent as a fact field must be: strict marshmallow fields, and plain predicates that agree.

Types are strict: ``"5000"`` is not a number, ``1`` is not a boolean, NaN and Infinity are refused, text
is valid Unicode.  The fields are the building blocks of the request schemas (:mod:`api.schemas`) and the
OpenAPI document; :mod:`policy.wire_types` says which one each wire type uses.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from marshmallow import ValidationError, fields

from policy.text import SURROGATE_MESSAGE, has_lone_surrogate

DATE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERIOD_RE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")
MAX_NUMBER = 1e12  # t REO: far above any real figure, far below float trouble
YEARS = (1, 9999)  # an integer ``year``: the calendar's range (dates and due dates are computed from it)


class StrictNumber(fields.Field):
    """A JSON number (not a string, not a boolean), finite, within bounds."""

    def __init__(self, minimum: float | None = None, integer: bool = False, maximum: float | None = None, **kw: Any):
        super().__init__(**kw)
        self.minimum, self.integer, self.maximum = minimum, integer, maximum

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValidationError("must be an integer" if self.integer else "must be a number")
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError("must be a finite number")
        if self.integer and not isinstance(value, int):
            raise ValidationError("must be an integer")
        if abs(value) > MAX_NUMBER:
            raise ValidationError(f"must be at most {MAX_NUMBER:g} in magnitude")
        if self.minimum is not None and value < self.minimum:
            raise ValidationError(f"must be >= {self.minimum:g}")
        if self.maximum is not None and value > self.maximum:
            raise ValidationError(f"must be <= {self.maximum:g}")
        return value


class StrictInteger(StrictNumber):
    """A JSON integer (documented as such in the OpenAPI)."""

    def __init__(self, **kw: Any):
        super().__init__(integer=True, **kw)


class StrictBoolean(fields.Field):
    """true or false, nothing else."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("must be true or false")
        return value


class StrictString(fields.String):
    """A JSON string (numbers are not silently turned into text), valid Unicode (no lone surrogate: it
    could be neither stored nor asserted into the engine)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise ValidationError("must be a string")
        if has_lone_surrogate(value):
            raise ValidationError(SURROGATE_MESSAGE)
        return super()._deserialize(value, attr, data, **kwargs)


class DateText(StrictString):
    """An ISO date YYYY-MM-DD that exists on the calendar; kept as text."""

    def __init__(self, **kw: Any):
        kw.setdefault("metadata", {"pattern": DATE_RE.pattern, "format": "date"})
        super().__init__(**kw)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if not DATE_RE.match(value):
            raise ValidationError("must be a date YYYY-MM-DD")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise ValidationError("is not a calendar date") from None
        return value


def calendar_year(value: str) -> None:
    """Year 0000 matches YYYY but is on no calendar (dates, due dates and periods start at 0001)."""
    if value.startswith("0000"):
        raise ValidationError("year 0000 does not exist")


def is_date(value: Any) -> bool:
    """True exactly where :class:`DateText` accepts ``value``."""
    if type(value) is not str or not DATE_RE.match(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True
