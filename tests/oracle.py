"""An independent oracle for the rule language: what a ruleset should find in a request.

It takes the request's facts as the caller sends them and a ruleset as loaded
(the parsed rule model: rules, patterns, expression nodes, parameters,
computed fields, derived lists) and computes everything else itself, in the
plainest way: the contract's normalisation, the effective period, computed
fields, derived lists, three-valued conditions, the fields a match needs
known, ``unless``, and every combination of facts by nested loops.

It shares nothing else with the engine: no ``engine`` module, no expression
evaluator, no preparation helper, no function library (the date functions are
restated below from docs/rules.md).  A bug in the engine's preparation,
compilation or evaluation therefore cannot hide here by being made twice.
Speed does not matter; being obviously right does.
"""

from __future__ import annotations

import calendar
import datetime as dt
import itertools
from typing import Any
from collections.abc import Mapping

import chinese_calendar

# The parsed rule model: node types only (nothing from policy.expr that evaluates or rewrites).
from policy.expr import AsOf, Arith, BoolOp, Call, Compare, Const, FieldRef, Neg, Not, ParamRef

UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()

# The contract (docs/contract-evaluate-v1.md, docs/rules.md §3), restated.
DATE_FIELDS = {
    ("allocations", "issued_on"),
    ("allocations", "filed_on"),
    ("reports", "submitted_on"),
    ("transactions", "date"),
    ("flow_entries", "entered_on"),
    ("penalties", "date"),
}
NULL_FLAGS = {
    ("enterprises", "group"): "in_group",
    ("allocations", "issued_on"): "issued",
    ("allocations", "filed_on"): "filed",
    ("reports", "submitted_on"): "submitted",
    ("flow_entries", "entered_on"): "entered",
}
TIME_FIELD = {
    "allocations": "year",
    "group_quotas": "year",
    "production": "period",
    "flow_entries": "period",
    "reports": "period",
    "transactions": "date",
    "penalties": "date",
}


def normalise(list_name: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """A submitted fact as rules read it; an absent or null field is simply not there."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if (list_name, key) in NULL_FLAGS:
            out[NULL_FLAGS[list_name, key]] = value is not None
        if value is None:
            continue
        if (list_name, key) in DATE_FIELDS:
            out[key] = dt.date.fromisoformat(value).toordinal()
        elif key == "period":
            out["period"], out["year"] = value, int(value[:4])
            if len(value) > 4:
                out["month"] = int(value[5:7])
            if list_name == "reports":
                out["annual"] = len(value) == 4
        elif key == "activities":
            for activity in ("mining", "smelting_separation", "comprehensive_utilization"):
                out[f"activities__{activity}"] = activity in value
        else:
            out[key] = value
    return out


def time_span(list_name: str, raw: Mapping[str, Any]) -> tuple[dt.date, dt.date] | None:
    value = raw.get(TIME_FIELD[list_name])
    if value is None:
        return None
    if isinstance(value, int):
        return dt.date(value, 1, 1), dt.date(value, 12, 31)
    if len(value) == 4:
        return dt.date(int(value), 1, 1), dt.date(int(value), 12, 31)
    if len(value) == 7:
        y, m = int(value[:4]), int(value[5:7])
        return dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])
    day = dt.date.fromisoformat(value)
    return day, day


def judged(ruleset: Any, list_name: str, raw: Mapping[str, Any]) -> bool:
    """Whether the ruleset reads the fact: its effective period covers it, the start moved back to
    ``reads_facts_from`` where the ruleset sets one (docs/rules.md); timeless lists always."""
    if list_name not in TIME_FIELD:
        return True
    first = ruleset.reads_facts_from if ruleset.reads_facts_from is not None else ruleset.effective_from
    start = dt.date.fromordinal(first) if first is not None else None
    end = dt.date.fromordinal(ruleset.effective_to) if ruleset.effective_to is not None else None
    span = time_span(list_name, raw)
    if span is None:
        return start is None and end is None
    return (start is None or span[1] >= start) and (end is None or span[0] <= end)


# ---------------------------------------------------------------- functions (docs/rules.md §6)
def _workday(day: dt.date) -> Any:
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return UNKNOWN


def _date_of(y: Any, m: Any, d: Any) -> Any:
    y, m = int(y) + (int(m) - 1) // 12, (int(m) - 1) % 12 + 1
    try:
        return dt.date(y, m, int(d)).toordinal()
    except ValueError:
        return UNKNOWN


def _next_working_day(day: Any) -> Any:
    d = dt.date.fromordinal(int(day))
    while True:
        work = _workday(d)
        if work is UNKNOWN:
            return UNKNOWN
        if work:
            return d.toordinal()
        d += dt.timedelta(days=1)


def _add_working_days(day: Any, n: Any) -> Any:
    d, left = dt.date.fromordinal(int(day)), int(n)
    while left > 0:
        d += dt.timedelta(days=1)
        work = _workday(d)
        if work is UNKNOWN:
            return UNKNOWN
        left -= bool(work)
    return d.toordinal()


FUNCTIONS = {
    "date_of": _date_of,
    "next_working_day": _next_working_day,
    "add_working_days": _add_working_days,
    "year_end": lambda y: dt.date(int(y), 12, 31).toordinal(),
    "month_of": lambda d: dt.date.fromordinal(int(d)).strftime("%Y-%m"),
    "year_of": lambda d: dt.date.fromordinal(int(d)).year,
    "choose": lambda c, a, b: a if c else b,
    "max": max,
    "min": min,
}


def _batch_fields(batches: Mapping[str, Any], fact: Mapping[str, Any]) -> dict[str, Any]:
    """The named batch's figures: by `batch`, else by the `notice` of exactly one batch; none if they disagree."""
    if fact.get("batch") is not None:
        batch = batches.get(fact["batch"])
        if batch is None or (
            fact.get("notice") is not None and batch.notice is not None and fact["notice"] != batch.notice
        ):
            return {}
    else:
        named = [b for b in batches.values() if fact.get("notice") is not None and b.notice == fact["notice"]]
        if len(named) != 1:
            return {}
        batch = named[0]
    out = {
        "batch_id": batch.id,
        "batch_notice": batch.notice,
        "batch_issued_on": batch.issued_on,
        "batch_split_working_days": batch.split_working_days,
        "batch_total_t_reo": batch.totals.get(fact.get("activity")),
    }
    if batch.issued_on is not None and batch.split_working_days is not None:
        out["batch_split_due"] = _add_working_days(batch.issued_on, batch.split_working_days)
    return {k: v for k, v in out.items() if v is not None and v is not UNKNOWN}


# ---------------------------------------------------------------- three-valued expressions
def value(node: Any, env: Mapping[str, Mapping[str, Any]], params: Mapping[str, Any], as_of: int | None) -> Any:
    """The node's value, or UNKNOWN; ``and``/``or``/``not`` in Kleene's three-valued logic."""

    def v(n: Any) -> Any:
        return value(n, env, params, as_of)

    if isinstance(node, Const):
        return node.value
    if isinstance(node, FieldRef):
        found = env[node.alias].get(node.name)
        return UNKNOWN if found is None else found
    if isinstance(node, ParamRef):
        return params[node.name]
    if isinstance(node, AsOf):
        return UNKNOWN if as_of is None else as_of
    if isinstance(node, Neg):
        x = v(node.operand)
        return UNKNOWN if x is UNKNOWN else -x
    if isinstance(node, Not):
        x = v(node.operand)
        return UNKNOWN if x is UNKNOWN else not x
    if isinstance(node, (Arith, Compare)):
        a, b = v(node.left), v(node.right)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        if node.op == "/" and b == 0:
            return UNKNOWN
        return {
            "+": lambda: a + b,
            "-": lambda: a - b,
            "*": lambda: a * b,
            "/": lambda: a / b,
            "==": lambda: a == b,
            "!=": lambda: a != b,
            "<": lambda: a < b,
            "<=": lambda: a <= b,
            ">": lambda: a > b,
            ">=": lambda: a >= b,
        }[node.op]()
    if isinstance(node, BoolOp):
        values = [v(o) for o in node.operands]
        decisive = node.op == "or"  # true decides an `or`, false an `and`
        if any(x is not UNKNOWN and bool(x) == decisive for x in values):
            return decisive
        return UNKNOWN if any(x is UNKNOWN for x in values) else not decisive
    if isinstance(node, Call):
        args = [v(a) for a in node.args]
        return UNKNOWN if any(a is UNKNOWN for a in args) else FUNCTIONS[node.func](*args)
    raise TypeError(node)


def is_true(node: Any, env: Mapping[str, Mapping[str, Any]], params: Mapping[str, Any], as_of: int | None) -> bool:
    return node is None or value(node, env, params, as_of) is True


def fields_read(node: Any) -> list[tuple[str, str]]:
    if isinstance(node, FieldRef):
        return [(node.alias, node.name)]
    children: list[Any] = []
    if isinstance(node, (Neg, Not)):
        children = [node.operand]
    elif isinstance(node, (Arith, Compare)):
        children = [node.left, node.right]
    elif isinstance(node, BoolOp):
        children = list(node.operands)
    elif isinstance(node, Call):
        children = list(node.args)
    return [ref for child in children for ref in fields_read(child)]


def top_level_parts(node: Any, negated: bool = False) -> list[tuple[Any, bool]]:
    """The parts joined by a top-level `and` (``not (x or y)`` counting as ``not x and not y``), with
    whether each is itself an `or` (docs/rules.md, "Which fields must be known")."""
    if isinstance(node, Not):
        return top_level_parts(node.operand, not negated)
    if isinstance(node, BoolOp):
        if (node.op == "and") != negated:
            return [part for o in node.operands for part in top_level_parts(o, negated)]
        return [(node, True)]
    return [(node, False)]


def must_be_known(rule: Any) -> set[tuple[str, str]]:
    """(alias, field) of the `when` facts that must be known for a match."""
    own = {p.alias for p in rule.patterns if not p.negated}
    out: set[tuple[str, str]] = set()
    for p in rule.patterns:
        for part, is_or in top_level_parts(p.where) if p.where is not None else ():
            out |= {(a, f) for a, f in fields_read(part) if not is_or or a != p.alias}
    for node in (rule.subject_id, rule.subject_type):
        if not isinstance(node, str):
            out |= set(fields_read(node))
    return {(a, f) for a, f in out if a in own}


# ---------------------------------------------------------------- the whole evaluation
def facts_of(ruleset: Any, request: Mapping[str, list], day: int) -> dict[str, list[tuple[dict, tuple]]]:
    """Per list (submitted and derived), each fact with the request facts it stands for."""
    params = {name: p.value for name, p in ruleset.parameters.items()}
    lists: dict[str, list[tuple[dict, tuple]]] = {}
    for name, items in request.items():
        lists[name] = [
            (normalise(name, raw), ((name, i),)) for i, raw in enumerate(items or ()) if judged(ruleset, name, raw)
        ]
    for name in ("allocations", "group_quotas"):  # a batch's figures (docs/rules.md, batches), restated
        for fact, _ in lists.get(name, ()):
            fact.update(_batch_fields(ruleset.batches, fact))
    for comp in ruleset.computed:  # in file order: a later one may read an earlier one
        for fact, _ in lists.get(comp.list, ()):
            computed = value(comp.value, {comp.alias: fact}, params, None)
            if computed is not UNKNOWN:
                fact[comp.field] = computed
    for agg in ruleset.aggregates.values():
        groups: dict[tuple, tuple[dict, list]] = {}
        for fact, refs in lists.get(agg.source, ()):
            if not is_true(agg.where, {agg.alias: fact}, params, day):
                continue
            if any(fact.get(k) is None for k in agg.group_by):
                continue
            key = tuple(fact[k] for k in agg.group_by)
            row, members = groups.setdefault(key, (dict(zip(agg.group_by, key)), []))
            for out_name, src in agg.sums.items():
                row[out_name] = row.get(out_name, 0) + fact[src]
            if agg.count:
                row[agg.count] = row.get(agg.count, 0) + 1
            members.extend(refs)
        for row, _ in groups.values():
            for out_name in agg.sums:
                row[out_name] = round(row[out_name], 6)
        lists[agg.name] = [(row, tuple(members)) for row, members in groups.values()]
    return lists


def matches(ruleset: Any, request: Mapping[str, list], as_of: dt.date) -> list[tuple]:
    """Every firing, as (rule id, ((alias, sorted request facts), ...)), sorted."""
    params = {name: p.value for name, p in ruleset.parameters.items()}
    day = as_of.toordinal()
    lists = facts_of(ruleset, request, day)
    found = []
    for rule in ruleset.rules:
        positive = [p for p in rule.patterns if not p.negated]
        negative = [p for p in rule.patterns if p.negated]
        known = must_be_known(rule)
        for combo in itertools.product(*(lists.get(p.fact, []) for p in positive)):
            if len({id(fact) for fact, _ in combo}) < len(combo):
                continue  # one fact stands for one alias: a combination is of distinct facts
            env = {p.alias: fact for p, (fact, _) in zip(positive, combo)}
            if any(env[a].get(f) is None for a, f in known):
                continue
            if not all(is_true(p.where, env, params, day) for p in positive):
                continue
            if any(
                is_true(n.where, {**env, n.alias: fact}, params, day)
                for n in negative
                for fact, _ in lists.get(n.fact, [])
            ):
                continue
            found.append(
                (rule.id, tuple(sorted((p.alias, tuple(sorted(refs))) for p, (_, refs) in zip(positive, combo))))
            )
    return sorted(found)


def engine_matches(found: list, back: Mapping[str, list[int]] | None = None) -> list[tuple]:
    """The engine's matches in the oracle's form; ``back`` maps shuffled indices to the original ones."""

    def orig(ref: tuple) -> tuple:
        name, i = ref
        return (name, back[name][i]) if back else (name, i)

    return sorted(
        (m.rule, tuple(sorted((alias, tuple(sorted(orig(r) for r in refs))) for alias, refs in m.sources.items())))
        for m in found
    )
