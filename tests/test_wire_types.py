"""The wire-type table (policy.wire_types): one entry per wire type the fact catalogue uses, and its parts
agree with each other: a value the fast check accepts, the marshmallow field accepts unchanged, and the
normaliser writes only the condition fields the type checker lets rules read, each with a value of its type."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st
from marshmallow import ValidationError, fields

from policy.facts import FACT_LISTS
from policy.wire_types import WIRE_TYPES, ConditionField, wire_type

WIRE_FIELDS = [(lst, wf) for lst in FACT_LISTS.values() for wf in lst.fields]
# a condition-level type, as the value a prepared fact holds (docs/rules.md: dates are day numbers)
HOLDS = {"string": str, "enum": str, "boolean": bool, "date": int, "number": (int, float)}


def test_every_wire_type_of_the_catalogue_has_an_entry_with_all_parts():
    assert {wf.type for _, wf in WIRE_FIELDS} <= WIRE_TYPES.keys()
    for lst, wf in WIRE_FIELDS:
        entry = wire_type(wf)
        assert isinstance(entry.schema_field(wf), fields.Field)
        assert callable(entry.check(wf)) and callable(entry.normaliser(wf))
        expanded = entry.condition_fields(wf)
        assert expanded and all(isinstance(c, ConditionField) and c.wire == wf.name for c in expanded)
        assert all(lst.condition_fields[c.name] == c for c in expanded)


def values_for(wf):
    days = st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
    return {
        "string": st.text(min_size=1, max_size=wf.max_length or 30),
        "number": st.one_of(st.integers(0, 10**9), st.floats(0, 1e9)),
        "integer": st.integers(1, 9999),
        "boolean": st.booleans(),
        "date": days.map(dt.date.isoformat),
        "month": days.map(lambda d: d.strftime("%Y-%m")),
        "period": days.flatmap(lambda d: st.sampled_from([d.strftime("%Y-%m"), d.strftime("%Y")])),
        "enum": st.sampled_from(wf.enum or ("x",)),
        "enum_list": st.lists(st.sampled_from(wf.enum or ("x",)), unique=True),
    }[wf.type]


@given(
    st.sampled_from(WIRE_FIELDS).flatmap(
        lambda pair: st.tuples(st.just(pair), st.one_of(st.none(), values_for(pair[1])))
    )
)
def test_check_schema_and_normaliser_agree(case):
    (lst, wf), value = case
    entry = wire_type(wf)
    if value is not None:
        accepted = entry.check(wf)(value)
        try:
            loaded = entry.schema_field(wf).deserialize(value)
        except ValidationError:
            assert not accepted, (wf, value)
        else:
            assert accepted == (loaded == value), (wf, value)
        if not accepted:
            return
    elif not wf.nullable:
        return
    out: dict = {}
    entry.normaliser(wf)(out, value)
    allowed = {c.name: c for c in entry.condition_fields(wf)}
    assert out.keys() <= allowed.keys(), (wf, value, out)
    for name, v in out.items():
        assert isinstance(v, HOLDS[allowed[name].type]), (wf, value, name, v)
        if allowed[name].type == "enum":
            assert v in allowed[name].enum
