"""The wire types of fact fields, as one table every validator and normaliser reads.

A fact field is sent with a *wire type* (``string``, ``number``, ``integer``, ``boolean``, ``date``,
``month``, ``period``, ``enum``, ``enum_list``).  What each type means is written here once, for every
reader:

- ``schema_field``: the marshmallow field that validates it (:mod:`api.schemas`, and so the OpenAPI);
- ``check``: a plain predicate true exactly where that field accepts a non-null value (the fast path of
  request validation, :func:`api.schemas.fast_load`);
- ``condition_fields``: the fields a rule condition may read from it (:mod:`policy.facts`, hence the
  ruleset type checker; each remembers the wire field it comes from, which :mod:`engine.unknowns` reads);
- ``normaliser``: how the engine turns a sent value into those condition fields (:mod:`engine.prepare`).

A new wire type is one entry in :data:`WIRE_TYPES`; a test checks every entry has all four.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from marshmallow import fields, validate

from policy.functions import parse_date
from policy.text import has_lone_surrogate
from policy.wire_values import (
    MAX_NUMBER,
    MONTH_RE,
    PERIOD_RE,
    YEARS,
    DateText,
    StrictBoolean,
    StrictInteger,
    StrictNumber,
    StrictString,
    calendar_year,
    is_date,
)


@dataclass(frozen=True)
class WireField:
    """A field as the caller sends it."""

    name: str
    type: str  # a key of WIRE_TYPES
    required: bool = False
    nullable: bool = False
    enum: tuple[str, ...] = ()
    minimum: float | None = None
    max_length: int | None = None
    ref: str | None = None  # list whose ``id`` this field must name
    flag: str | None = None  # for a nullable field: name of the boolean "was given" (false when null)


@dataclass(frozen=True)
class ConditionField:
    """A field a rule condition may read, with its condition-level type."""

    name: str
    type: str
    enum: tuple[str, ...] = ()
    always_present: bool = False  # guaranteed on every prepared fact of its list
    wire: str | None = None  # the request field it comes from (``submitted`` from ``submitted_on``, ...)


Check = Callable[[Any], bool]
# Writes the condition fields of one sent value (None for an explicit null) into the prepared fact.
Normalise = Callable[[dict[str, Any], Any], None]


@dataclass(frozen=True)
class WireType:
    """What one wire type means to each reader (see the module's docstring)."""

    schema_field: Callable[[WireField], fields.Field]
    check: Callable[[WireField], Check]
    condition_fields: Callable[[WireField], list[ConditionField]]
    normaliser: Callable[[WireField], Normalise]


def _options(wf: WireField) -> dict[str, Any]:
    return {"required": wf.required, "allow_none": wf.nullable}


def _always(wf: WireField) -> bool:
    """Whether every fact of the list has the field (required and never null)."""
    return wf.required and not wf.nullable


def _flag(wf: WireField) -> list[ConditionField]:
    """A nullable field's "was given" flag: null says "known to be none"."""
    return [ConditionField(wf.flag, "boolean", wire=wf.name)] if wf.flag else []


# ---------------------------------------------------------------- one value as it is (string, number, boolean, enum)
def _scalar_fields(ctype: str, enum: bool = False, always: bool = True) -> Callable[[WireField], list[ConditionField]]:
    def expand(wf: WireField) -> list[ConditionField]:
        return _flag(wf) + [ConditionField(wf.name, ctype, wf.enum if enum else (), always and _always(wf), wf.name)]

    return expand


def _as_sent(wf: WireField) -> Normalise:
    name, flag = wf.name, wf.flag

    def normalise(out: dict[str, Any], value: Any) -> None:
        if flag:
            out[flag] = value is not None
        if value is not None:
            out[name] = value

    return normalise


def _string_field(wf: WireField) -> fields.Field:
    length = validate.Length(min=1, max=wf.max_length) if wf.max_length else validate.Length(max=1000)
    return StrictString(validate=length, **_options(wf))


def _string_check(wf: WireField) -> Check:
    low, high = (1, wf.max_length) if wf.max_length else (0, 1000)
    return lambda v: type(v) is str and low <= len(v) <= high and not has_lone_surrogate(v)


def _number_field(wf: WireField) -> fields.Field:
    kw = _options(wf)
    bounds = {
        "maximum": MAX_NUMBER,
        **({"minimum": wf.minimum} if wf.minimum is not None else {"minimum": -MAX_NUMBER}),
    }
    if wf.type == "integer" and wf.name == "year":
        return StrictInteger(
            minimum=YEARS[0], maximum=YEARS[1], metadata={"minimum": YEARS[0], "maximum": YEARS[1]}, **kw
        )
    if wf.type == "integer":
        return StrictInteger(minimum=wf.minimum, metadata=bounds, **kw)
    return StrictNumber(minimum=wf.minimum, metadata=bounds, **kw)


def _number_check(wf: WireField) -> Check:
    integer, minimum, maximum = wf.type == "integer", wf.minimum, MAX_NUMBER
    if integer and wf.name == "year":
        minimum, maximum = YEARS

    def check(value: Any) -> bool:
        kind = type(value)
        if kind is float:
            if integer or not math.isfinite(value):
                return False
        elif kind is not int:
            return False  # bool included: type(True) is bool
        return abs(value) <= MAX_NUMBER and value <= maximum and (minimum is None or value >= minimum)

    return check


def _enum_field(wf: WireField) -> fields.Field:
    return StrictString(validate=validate.OneOf(wf.enum), **_options(wf))


def _enum_check(wf: WireField) -> Check:
    choices = frozenset(wf.enum)
    return lambda v: type(v) is str and v in choices


# ---------------------------------------------------------------- date: a day number, and a flag when nullable
def _date_fields(wf: WireField) -> list[ConditionField]:
    return [ConditionField(wf.name, "date", wire=wf.name)] + _flag(wf)


def _date_normaliser(wf: WireField) -> Normalise:
    name, flag = wf.name, wf.flag

    def normalise(out: dict[str, Any], value: Any) -> None:
        if flag:
            out[flag] = value is not None  # null: known not to have happened
        if value is not None:
            out[name] = parse_date(value)

    return normalise


# ---------------------------------------------------------------- month / period: the text, its year and month
def _period_fields(wf: WireField) -> list[ConditionField]:
    req = _always(wf)
    out = [
        ConditionField(wf.name, "string", always_present=req, wire=wf.name),
        ConditionField("year", "number", always_present=req, wire=wf.name),
        ConditionField("month", "number", always_present=req and wf.type == "month", wire=wf.name),
    ]
    if wf.type == "period":  # a period may be a whole year
        out.append(ConditionField("annual", "boolean", always_present=req, wire=wf.name))
    return out


def _period_normaliser(wf: WireField) -> Normalise:
    name, annual = wf.name, wf.type == "period"

    def normalise(out: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        out[name] = value
        out["year"] = int(value[:4])
        if len(value) > 4:
            out["month"] = int(value[5:7])
        if annual:
            out["annual"] = len(value) == 4

    return normalise


def _period_field(wf: WireField) -> fields.Field:
    pattern, error = (
        (MONTH_RE, "must be a month YYYY-MM") if wf.type == "month" else (PERIOD_RE, "must be YYYY-MM or YYYY")
    )
    return StrictString(validate=[validate.Regexp(pattern, error=error), calendar_year], **_options(wf))


def _period_check(wf: WireField) -> Check:
    pattern = MONTH_RE if wf.type == "month" else PERIOD_RE
    return lambda v: type(v) is str and pattern.match(v) is not None and not v.startswith("0000")


# ---------------------------------------------------------------- enum_list: one boolean per possible value
def _enum_list_fields(wf: WireField) -> list[ConditionField]:
    return [ConditionField(f"{wf.name}__{v}", "boolean", wire=wf.name) for v in wf.enum]


def _enum_list_normaliser(wf: WireField) -> Normalise:
    name, enum = wf.name, wf.enum

    def normalise(out: dict[str, Any], value: Any) -> None:
        if value is None:
            return
        present = set(value)
        for v in enum:
            out[f"{name}__{v}"] = v in present

    return normalise


def _enum_list_field(wf: WireField) -> fields.Field:
    return fields.List(StrictString(validate=validate.OneOf(wf.enum)), **_options(wf))


def _enum_list_check(wf: WireField) -> Check:
    choices = frozenset(wf.enum)
    return lambda v: type(v) is list and all(type(x) is str and x in choices for x in v)


_NUMBER = WireType(_number_field, _number_check, _scalar_fields("number"), _as_sent)
_PERIOD = WireType(_period_field, _period_check, _period_fields, _period_normaliser)

WIRE_TYPES: dict[str, WireType] = {
    "string": WireType(_string_field, _string_check, _scalar_fields("string"), _as_sent),
    "number": _NUMBER,
    "integer": _NUMBER,
    "boolean": WireType(
        lambda wf: StrictBoolean(**_options(wf)),
        lambda wf: lambda v: v is True or v is False,
        _scalar_fields("boolean", always=False),
        _as_sent,
    ),
    "date": WireType(lambda wf: DateText(**_options(wf)), lambda wf: is_date, _date_fields, _date_normaliser),
    "month": _PERIOD,
    "period": _PERIOD,
    "enum": WireType(_enum_field, _enum_check, _scalar_fields("enum", enum=True), _as_sent),
    "enum_list": WireType(_enum_list_field, _enum_list_check, _enum_list_fields, _enum_list_normaliser),
}


def wire_type(wf: WireField) -> WireType:
    """The table's entry for a wire field (a catalogue typo fails here, at import)."""
    entry = WIRE_TYPES.get(wf.type)
    if entry is None:
        raise ValueError(f"unknown wire type {wf.type}")
    return entry
