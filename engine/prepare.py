"""Turning a request's facts into the facts the engine matches.

durable_rules compares numbers and strings; it has no dates, no aggregates and
no notion of "unknown".  This step, in plain Python, gives it what it needs:

- keeps only the facts a ruleset judges (its effective period: the 2021
  notice judges 2021 facts; enterprises and groups are timeless);
- normalises values (dates to day numbers, periods to year/month, lists of
  activities to one boolean each) and *drops* unknowns: a field the caller
  left out, or ``null``, is simply absent;
- computes the fields and derived facts the ruleset declares (due dates,
  sums and counts grouped by keys).

Every prepared fact remembers which request facts it came from, so that a
violation can point into the request's lists.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from policy import expr as E
from policy.facts import FACT_LISTS, FactList
from policy.functions import UnknownValue, parse_date
from policy.model import Ruleset

SourceRef = tuple[str, int]  # (request list, index)


@dataclass
class Prepared:
    """Prepared facts of one evaluation under one ruleset."""

    facts: dict[str, list[dict[str, Any]]]  # fact kind -> condition-level facts
    sources: dict[str, list[tuple[SourceRef, ...]]]  # fact kind -> per fact, the request facts behind it
    as_of: int
    warnings: list[dict] = field(default_factory=list)

    def add_warning(self, warning: dict) -> None:
        if warning not in self.warnings:
            self.warnings.append(warning)


def _span_of(lst: FactList, fact: Mapping[str, Any]) -> tuple[int, int] | None:
    """First and last day the fact concerns, or None for timeless facts."""
    if lst.time_field is None:
        return None
    value = fact.get(lst.time_field)
    if value is None:
        return None
    wire = lst.wire(lst.time_field)
    assert wire is not None
    if wire.type == "integer":  # a year
        y = int(value)
        return dt.date(y, 1, 1).toordinal(), dt.date(y, 12, 31).toordinal()
    if wire.type == "date":
        d = parse_date(value)
        return d, d
    # month "YYYY-MM" or period "YYYY" / "YYYY-MM"
    y = int(value[:4])
    if len(value) == 4:
        return dt.date(y, 1, 1).toordinal(), dt.date(y, 12, 31).toordinal()
    m = int(value[5:7])
    nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
    return dt.date(y, m, 1).toordinal(), nxt.toordinal() - 1


def in_period(ruleset: Ruleset, lst: FactList, fact: Mapping[str, Any]) -> bool:
    span = _span_of(lst, fact)
    if span is None:
        # timeless lists (enterprises, groups) always; an undated fact of a dated list only
        # where the ruleset has no bounds: it cannot be placed in a bounded period
        return lst.time_field is None or (ruleset.effective_from is None and ruleset.effective_to is None)
    start, end = span
    if ruleset.effective_from is not None and end < ruleset.effective_from:
        return False
    if ruleset.effective_to is not None and start > ruleset.effective_to:
        return False
    return True


def normalise(lst: FactList, fact: Mapping[str, Any]) -> dict[str, Any]:
    """Wire fact -> condition-level fact; unknown values are left out."""
    out: dict[str, Any] = {}
    for wf in lst.fields:
        value = fact.get(wf.name)
        if wf.type == "date" and wf.flag and wf.name in fact:
            out[wf.flag] = value is not None  # null: known not to have happened
        if value is None:
            continue
        if wf.type == "date":
            out[wf.name] = parse_date(value)
        elif wf.type in ("month", "period"):
            out[wf.name] = value
            out["year"] = int(value[:4])
            if len(value) > 4:
                out["month"] = int(value[5:7])
            if wf.type == "period":
                out["annual"] = len(value) == 4
        elif wf.type == "enum_list":
            present = set(value)
            for v in wf.enum:
                out[f"{wf.name}__{v}"] = v in present
        else:
            out[wf.name] = value
    return out


def prepare(ruleset: Ruleset, request_facts: Mapping[str, Iterable[Mapping[str, Any]]], as_of: dt.date) -> Prepared:
    """Prepare the request's facts for one ruleset (see module docstring)."""
    prep = Prepared({}, {}, as_of.toordinal())
    for name, lst in FACT_LISTS.items():
        facts, sources = [], []
        for index, fact in enumerate(request_facts.get(name) or ()):
            if in_period(ruleset, lst, fact):
                facts.append(normalise(lst, fact))
                sources.append(((name, index),))
        prep.facts[name] = facts
        prep.sources[name] = sources
    params = ruleset.param_values
    for comp in ruleset.computed:
        for fact in prep.facts[comp.list]:
            try:
                fact[comp.field] = E.evaluate(comp.value, {comp.alias: fact}, params,
                                              on_warning=prep.add_warning)
            except UnknownValue:
                pass  # stays unknown
    for agg in ruleset.aggregates.values():
        groups: dict[tuple, dict[str, Any]] = {}
        members: dict[tuple, list[SourceRef]] = {}
        src_facts, src_sources = prep.facts[agg.source], prep.sources[agg.source]
        for fact, refs in zip(src_facts, src_sources):
            if agg.where is not None and not E.holds(agg.where, {agg.alias: fact}, params, prep.as_of):
                continue
            key = tuple(fact[k] for k in agg.group_by)
            row = groups.get(key)
            if row is None:
                row = groups[key] = {k: fact[k] for k in agg.group_by}
                for out_name in agg.sums:
                    row[out_name] = 0
                if agg.count:
                    row[agg.count] = 0
                members[key] = []
            for out_name, src_field in agg.sums.items():
                row[out_name] += fact[src_field]
            if agg.count:
                row[agg.count] += 1
            members[key].extend(refs)
        for row in groups.values():  # binary float sums: round away representation noise
            for out_name in agg.sums:
                row[out_name] = round(row[out_name], 6)
        prep.facts[agg.name] = list(groups.values())
        prep.sources[agg.name] = [tuple(members[k]) for k in groups]
    return prep
