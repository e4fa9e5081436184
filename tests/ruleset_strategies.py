"""Hypothesis strategies for whole rulesets of the rule language, and for requests they judge.

A generated ruleset has parameters (a number, a day count, a date), chains of computed fields of
depth 1-3 on several lists (numbers, dates, texts; date functions; each later field reading an
earlier one), derived lists (sums and counts grouped by keys, some filtered on a computed field),
and rules of one to three facts: conditions with every comparison operator on submitted fields,
computed fields, derived fields, parameters and other facts' fields, `and`/`or`/`not`, `in`, joins
on equalities with extra inequalities, and `unless`.  Requests leave fields out, send nulls, and
place facts inside and outside the effective year.  Only valid rulesets are generated: the
validator accepting them is part of what is tested.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

HEADER = {"ruleset": "gen", "version": "1", "instrument": "notice-2021", "title": {"zh": "生成", "en": "generated"}}
CITE = [{"instrument": "notice-2021", "eid": "para_7"}]
NUMBERS = [0, 1, 2, 3, 5, 10]
DATES = ["2021-03-31", "2021-04-09", "2021-04-12", "2021-06-30", "2021-12-31", "2022-01-10", "2022-01-12"]

# Per list: alias prefix, key field (joins and subjects), and condition fields by type.
# "always" fields may be read by `unless`; the others can be unknown.
LISTS = {
    "enterprises": dict(
        key="id",
        number=["separation_capacity_t_reo"],
        date=[],
        boolean=["designated", "mining_license", "in_group"],
        enum={},
        always=["id"],
        member=True,
    ),
    "production": dict(
        key="enterprise",
        number=["amount_t_reo", "year", "month"],
        date=[],
        boolean=[],
        enum={"activity": ["mining", "smelting_separation"]},
        always=["enterprise", "amount_t_reo", "year", "month"],
    ),
    "allocations": dict(
        key="enterprise",
        number=["amount_t_reo", "year"],
        date=["issued_on", "filed_on"],
        boolean=["issued", "filed"],
        enum={"activity": ["mining", "smelting_separation"]},
        always=["enterprise", "amount_t_reo", "year"],
    ),
    "reports": dict(
        key="reporter",
        number=["year", "month", "reported_amount_t_reo"],
        date=["submitted_on"],
        boolean=["submitted", "includes_traceability_data", "annual"],
        enum={"level": ["enterprise", "group"], "recipient": ["miit", "provincial_miit"]},
        always=["reporter", "year"],
    ),
}

# Level-1 computed values per list and type: {x} is the alias.
FIRST = {
    "production": {
        "number": [
            "choose({x}.month > 6, 1, 2)",
            "{x}.amount_t_reo + params.n",
            "{x}.amount_t_reo * 2",
            "{x}.amount_t_reo / ({x}.month - 6)",
            "max({x}.amount_t_reo, 2)",
        ],
        "date": ["date_of({x}.year, {x}.month + 1, 10)", "year_end({x}.year)"],
        "string": [],
    },
    "allocations": {
        "number": ["{x}.filed_on - {x}.issued_on", "{x}.amount_t_reo - params.n", "choose({x}.filed, 1, 0)"],
        "date": ["{x}.issued_on + params.days", "add_working_days({x}.issued_on, 3)"],
        "string": ["month_of({x}.issued_on)"],
    },
    "reports": {
        "number": [
            "{x}.reported_amount_t_reo - 1",
            "choose({x}.submitted, 1, 0)",
            "year_of({x}.submitted_on)",
            "{x}.submitted_on - date_of({x}.year, {x}.month + 1, 10)",
        ],
        "date": [
            "next_working_day(date_of({x}.year, {x}.month + 1, params.n))",
            "date_of({x}.year, {x}.month + 1, 10)",
        ],
        "string": ["month_of({x}.submitted_on)"],
    },
    "enterprises": {
        "number": ["choose({x}.designated, 1, 0)", "{x}.separation_capacity_t_reo - params.n"],
        "date": [],
        "string": [],
    },
}
# Later levels read an earlier computed field {c} (of type number or date).
LATER = {
    "number": [
        ("number", "{x}.{c} + 1"),
        ("number", "choose({x}.{c} > 1, {x}.{c}, 0)"),
        ("number", "min({x}.{c}, 3) * 2"),
    ],
    "date": [
        ("date", "{x}.{c} + 1"),
        ("date", "next_working_day({x}.{c})"),
        ("number", "year_of({x}.{c})"),
        ("string", "month_of({x}.{c})"),
    ],
    "string": [],
}

OPS = ["==", "!=", "<", "<=", ">", ">="]


@dataclass
class Catalogue:
    """The fields each generated list has (submitted, computed, derived), by type."""

    fields: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # list -> type -> names
    enums: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    always: dict[str, list[str]] = field(default_factory=dict)


def _catalogue() -> Catalogue:
    cat = Catalogue()
    for name, spec in LISTS.items():
        cat.fields[name] = {
            "number": list(spec["number"]),
            "date": list(spec["date"]),
            "boolean": list(spec["boolean"]),
            "string": [],
            "key": [spec["key"]],
        }
        cat.enums[name] = dict(spec["enum"])
        cat.keys[name] = spec["key"]
        cat.always[name] = list(spec["always"])
    return cat


@st.composite
def computed_fields(draw, cat: Catalogue) -> list[dict]:
    out = []
    for lst in draw(st.lists(st.sampled_from(sorted(FIRST)), max_size=3, unique=True)):
        x, previous = lst[0], None
        for _depth in range(draw(st.integers(1, 3))):
            name = f"c{len(out)}"
            if previous is None:
                options = [(t, v) for t, vs in FIRST[lst].items() for v in vs]
            else:
                options = LATER[previous[1]]
            if not options:
                break
            ftype, template = draw(st.sampled_from(options))
            value = template.format(x=x, c=previous[0] if previous else "")
            out.append({"list": lst, "as": x, "field": name, "value": value})
            cat.fields[lst][ftype].append(name)
            previous = (name, ftype)
    return out


@st.composite
def derived_lists(draw, cat: Catalogue) -> dict:
    out = {}
    for i, src in enumerate(draw(st.lists(st.sampled_from(["production", "allocations"]), max_size=2))):
        name = f"d{i}"
        extra = draw(
            st.sampled_from(
                [[], ["year"], ["activity"]] + [[c] for c in cat.fields[src]["number"] if c.startswith("c")][:1]
            )
        )
        body = {
            "from": src,
            "as": "f",
            "group_by": ["enterprise", *extra],
            "sum": {"total": "amount_t_reo"},
            "count": "n",
        }
        filters = [f"f.{c} >= 1" for c in cat.fields[src]["number"] if c.startswith("c")]
        filters += ["f.amount_t_reo > 0", "f.year == 2021"]
        if draw(st.booleans()):
            body["where"] = draw(st.sampled_from(filters))
        out[name] = body
        fields = {
            "number": ["total", "n"] + [k for k in extra if k in cat.fields[src]["number"]],
            "date": [],
            "boolean": [],
            "string": [],
            "key": ["enterprise"],
        }
        cat.fields[name] = fields
        cat.enums[name] = {"activity": cat.enums[src]["activity"]} if "activity" in extra else {}
        cat.keys[name] = "enterprise"
        cat.always[name] = ["enterprise", "total", "n"]
    return out


def _constant(draw, ftype: str, enum: list[str] | None = None) -> str:
    if enum:
        return repr(draw(st.sampled_from(enum)))
    if ftype == "number":
        return draw(st.sampled_from([str(n) for n in NUMBERS] + ["params.n", "2021"]))
    if ftype == "date":
        return draw(st.sampled_from([repr(d) for d in DATES] + ["params.due"]))
    if ftype == "string":
        return draw(st.sampled_from(["'2021-04'", "'2022-01'", "'2021-09'"]))
    if ftype == "key":
        return draw(st.sampled_from(["'E0'", "'E1'"]))
    return draw(st.sampled_from(["true", "false"]))


@st.composite
def atom(draw, cat: Catalogue, lst: str, alias: str, bound: dict[str, str], own_only: bool = False) -> str:
    """One comparison on a field of ``alias`` (of list ``lst``)."""
    fields = cat.fields[lst]
    choices = [(t, f) for t in ("number", "date", "string", "boolean", "key") for f in fields[t]]
    choices += [("enum", f) for f in cat.enums[lst]]
    if own_only:
        choices = [(t, f) for t, f in choices if f in cat.always[lst]]
    ftype, name = draw(st.sampled_from(choices))
    left = f"{alias}.{name}"
    if ftype == "boolean":
        return draw(st.sampled_from([left, f"not {left}", f"{left} == true", f"{left} != false"]))
    if ftype == "enum":
        values = cat.enums[lst][name]
        if draw(st.booleans()):
            return f"{left} in [{', '.join(repr(v) for v in values[:2])}]"
        return f"{left} {draw(st.sampled_from(['==', '!=']))} {_constant(draw, 'enum', values)}"
    op = draw(st.sampled_from(OPS if ftype in ("number", "date") else ["==", "!="]))
    others = [f"{a}.{f}" for a, other in bound.items() for f in cat.fields[other][ftype]]
    if others and draw(st.booleans()):
        right = draw(st.sampled_from(others))
        if ftype in ("number", "date") and draw(st.booleans()):
            right += f" + {draw(st.sampled_from([1, 2]))}"
    else:
        right = _constant(draw, ftype)
    if ftype == "number" and draw(st.booleans()):
        left = f"{left} - 1"  # the engine isolates the field: x - 1 > r  ->  x > r + 1
    return f"{left} {op} {right}"


@st.composite
def condition(draw, cat: Catalogue, lst: str, alias: str, bound: dict[str, str], own_only: bool = False) -> str:
    parts = draw(st.lists(atom(cat, lst, alias, bound, own_only), min_size=1, max_size=3))
    if len(parts) == 1:
        return parts[0]
    shape = draw(st.sampled_from(["and", "or", "mixed", "not-or"]))
    if shape == "and":
        return " and ".join(parts)
    if shape == "or":
        return " or ".join(f"({p})" for p in parts)
    if shape == "mixed":
        return f"({parts[0]}) and (" + " or ".join(f"({p})" for p in parts[1:]) + ")"
    return f"not (({parts[0]}) or ({parts[1]}))" + "".join(f" and ({p})" for p in parts[2:])


@st.composite
def rule(draw, cat: Catalogue, index: int) -> dict:
    lists = sorted(cat.fields)
    first = draw(st.sampled_from(lists))
    aliases = {"a": first}
    when = [{"fact": first, "as": "a"}]
    if draw(st.booleans()):
        when[0]["where"] = draw(condition(cat, first, "a", {}))
    for alias in ["b", "c"][: draw(st.integers(0, 2))]:
        lst = draw(st.sampled_from(lists))
        target = draw(st.sampled_from(sorted(aliases)))
        join = f"{alias}.{cat.keys[lst]} == {target}.{cat.keys[aliases[target]]}"
        if draw(st.booleans()):
            join += " and (" + draw(condition(cat, lst, alias, {a: aliases[a] for a in aliases})) + ")"
        when.append({"fact": lst, "as": alias, "where": join})
        aliases[alias] = lst
    body = {
        "id": f"r{index}",
        "title": {"zh": "规则", "en": "rule"},
        "severity": "minor",
        "when": when,
        "subject": {"type": "enterprise", "id": f"a.{cat.keys[first]}"},
        "message": {"zh": "{subject}", "en": "{subject}"},
        "citations": CITE,
    }
    free = [lst for lst in lists if lst not in aliases.values()]
    if free and draw(st.booleans()):
        lst = draw(st.sampled_from(free))
        target = draw(st.sampled_from(sorted(aliases)))
        where = f"z.{cat.keys[lst]} == {target}.{cat.keys[aliases[target]]}"
        if draw(st.booleans()):
            where += " and (" + draw(condition(cat, lst, "z", {a: aliases[a] for a in aliases}, own_only=True)) + ")"
        body["unless"] = [{"fact": lst, "as": "z", "where": where}]
    return body


@st.composite
def rulesets(draw) -> str:
    """A valid ruleset as YAML text (JSON, which YAML reads)."""
    cat = _catalogue()
    doc = dict(HEADER)
    if draw(st.booleans()):
        doc["effective"] = {"from": "2021-01-01", "to": "2021-12-31"}
    doc["parameters"] = {
        "n": {"value": draw(st.sampled_from([1, 2, 10])), "label": {"zh": "数", "en": "n"}, "citations": CITE},
        "days": {"value": 14, "label": {"zh": "天", "en": "days"}, "citations": CITE},
        "due": {"value": draw(st.sampled_from(DATES)), "label": {"zh": "日", "en": "date"}, "citations": CITE},
    }
    doc["computed"] = draw(computed_fields(cat))
    doc["derived"] = draw(derived_lists(cat))
    doc["rules"] = [draw(rule(cat, i)) for i in range(draw(st.integers(1, 4)))]
    return json.dumps(doc, ensure_ascii=False, indent=1)


def _maybe(draw, values: list, null_ok: bool = True) -> object:
    """A value, or None (sent as null), or the marker for 'left out'."""
    return draw(st.sampled_from(values + ([None] if null_ok else []) + [OMIT]))


OMIT = object()


def _fact(**fields) -> dict:
    return {k: v for k, v in fields.items() if v is not OMIT}


@st.composite
def requests(draw) -> tuple[dict, dt.date]:
    ents = [f"E{i}" for i in range(3)]
    enterprises = [
        _fact(
            id=e,
            group=_maybe(draw, ["G1"]),
            activities=_maybe(draw, [["mining"], ["smelting_separation"], []], null_ok=False),
            separation_capacity_t_reo=_maybe(draw, NUMBERS, null_ok=False),
            designated=_maybe(draw, [True, False], null_ok=False),
            mining_license=_maybe(draw, [True, False], null_ok=False),
        )
        for e in ents
        if draw(st.integers(0, 4))
    ]
    periods = ["2020-12", "2021-03", "2021-06", "2021-12"]
    production = [
        _fact(
            enterprise=draw(st.sampled_from(ents)),
            period=draw(st.sampled_from(periods)),
            activity=draw(st.sampled_from(["mining", "smelting_separation"])),
            amount_t_reo=draw(st.sampled_from(NUMBERS)),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    allocations = [
        _fact(
            enterprise=draw(st.sampled_from(ents)),
            year=draw(st.sampled_from([2020, 2021, 2021])),
            activity=draw(st.sampled_from(["mining", "smelting_separation"])),
            amount_t_reo=draw(st.sampled_from(NUMBERS)),
            issued_on=_maybe(draw, ["2021-03-31", "2021-04-09"]),
            filed_on=_maybe(draw, ["2021-04-12", "2021-06-30"]),
        )
        for _ in range(draw(st.integers(0, 4)))
    ]
    reports = [
        _fact(
            reporter=draw(st.sampled_from(ents)),
            level=draw(st.sampled_from(["enterprise", "group"])),
            period=draw(st.sampled_from(["2021-03", "2021-12", "2021", "2020-11"])),
            recipient=_maybe(draw, ["miit", "provincial_miit"], null_ok=False),
            submitted_on=_maybe(draw, ["2021-04-09", "2021-04-12", "2022-01-10", "2022-01-12"]),
            reported_amount_t_reo=_maybe(draw, NUMBERS, null_ok=False),
            includes_traceability_data=_maybe(draw, [True, False], null_ok=False),
        )
        for _ in range(draw(st.integers(0, 5)))
    ]
    facts = {
        "groups": [{"id": "G1"}],
        "enterprises": enterprises,
        "production": production,
        "allocations": allocations,
        "reports": reports,
    }
    return facts, draw(st.sampled_from([dt.date(2022, 1, 31), dt.date(2021, 6, 30)]))
