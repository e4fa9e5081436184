"""When a ruleset's rules may judge a request: the legal status and force of its instrument.

Why this module exists: a finding is only law if the instrument that grounds it
was law on the date of the act it judges.  Two things decide that:

- **Legal status.**  A draft (instrument status ``draft``, e.g. the public-comment
  draft of the quota measures) was never in force: by default no ruleset of a
  draft judges anything.  Pinned in a request's ``rulesets``, it is applied as
  if in force over its ruleset's own period, and its findings say they are not
  binding (``binding: false``).
- **Dates.**  The ruleset's ``effective`` period already decides which dated
  facts (a year, a month, a date) it sees (``engine.prepare``).  On top of that,
  the date of the *act* a rule judges must fall in the instrument's force:

  * a rule whose facts are all timeless (enterprises, groups) judges the state
    of an enterprise on ``as_of``: it applies only when ``as_of`` lies in the
    instrument's force and in the ruleset's period;
  * a fact carrying the exact date of its act (a transaction's or a penalty's
    ``date``, an allocation's ``issued_on``) is judged only if that date lies in
    the instrument's force: a 2025 allocation issued on 2025-09-01 is not judged
    by a ruleset that ends on 2025-07-27, and conduct before the 2021 notice's
    date is not judged by the notice;
  * monthly and annual facts (production, reports, a year's allocation totals)
    are placed by their period alone: an annual quota counts the whole year's
    production, and a rule on such facts states in its conditions from when its
    duty runs (e.g. a due date after the entry into force).

  A ruleset with ``reads_facts_from`` (before its ``effective.from``) reads the
  earlier facts of a straddling year, for its sums and for ``unless``, but it
  judges no more than without it: a match binding a monthly or annual fact
  whose period ends before ``effective.from``, or a dated act before it, is
  not admitted (the same facts ``engine.prepare`` would otherwise not read).

The check runs on each match after the engine, so it is the same for every
rule whatever the engine's layout, and the unknowns search applies it too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from policy.facts import FACT_LISTS
from policy.instruments import Instrument
from policy.model import Rule, Ruleset

__all__ = ["ACT_DATE_FIELDS", "Timing", "binding", "rule_is_timeless"]

# The field holding the date of the act a fact records, for lists whose time field is a period
# (an allocation's quota year is not the day it was issued).  Lists whose time field is itself a
# date (transactions, penalties) use it.
ACT_DATE_FIELDS: Mapping[str, str] = {"allocations": "issued_on"}


def binding(ruleset: Ruleset) -> bool:
    """Whether the findings of this ruleset are law: false for a ruleset of a draft instrument."""
    return ruleset.instrument_status != "draft"


def _act_date_field(kind: str) -> str | None:
    lst = FACT_LISTS.get(kind)
    if lst is None:  # a derived fact (sums over a period): placed by its period
        return None
    if kind in ACT_DATE_FIELDS:
        return ACT_DATE_FIELDS[kind]
    if lst.time_field is not None:
        wire = lst.wire(lst.time_field)
        if wire is not None and wire.type == "date":
            return lst.time_field
    return None


def rule_is_timeless(ruleset: Ruleset, rule: Rule) -> bool:
    """True when every fact the rule matches is timeless (enterprises, groups, or sums of them)."""

    def timeless(kind: str) -> bool:
        lst = FACT_LISTS.get(kind)
        if lst is not None:
            return lst.time_field is None
        agg = ruleset.aggregates.get(kind)
        return agg is not None and timeless(agg.source)

    return all(timeless(p.fact) for p in rule.positive)


@dataclass(frozen=True)
class _RuleTiming:
    timeless: bool
    dated: tuple[tuple[str, str], ...]  # (alias, normalised date field) of facts dated by their act
    periodic: tuple[str, ...] = ()  # aliases of facts placed by a year (and month): lists and sums of them


def _periodic(ruleset: Ruleset, kind: str) -> bool:
    """Whether facts of ``kind`` are placed in time by a year or month (not timeless, not a day)."""
    lst = FACT_LISTS.get(kind)
    if lst is None:
        agg = ruleset.aggregates.get(kind)
        return agg is not None and _periodic(ruleset, agg.source)
    if lst.time_field is None:
        return False
    wire = lst.wire(lst.time_field)
    return wire is None or wire.type != "date"


def _period_end(fact: Mapping[str, Any]) -> int | None:
    """Last day of the year, or month, a prepared fact (or a sum grouped by year) concerns."""
    year = fact.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        return None
    year = min(max(year, dt.MINYEAR), dt.MAXYEAR)
    month = fact.get("month")
    if isinstance(month, int) and 1 <= month < 12:
        return (dt.date(year, month + 1, 1) - dt.timedelta(days=1)).toordinal()
    return dt.date(year, 12, 31).toordinal()


_TIMINGS: dict[str, dict[str, _RuleTiming]] = {}  # ruleset digest -> rule id -> timing; versions are immutable


def _rule_timings(ruleset: Ruleset) -> dict[str, _RuleTiming]:
    cached = _TIMINGS.get(ruleset.digest)
    if cached is None:
        cached = _TIMINGS[ruleset.digest] = {
            r.id: _RuleTiming(
                rule_is_timeless(ruleset, r),
                tuple((p.alias, f) for p in r.positive if (f := _act_date_field(p.fact)) is not None),
                tuple(p.alias for p in r.positive if _periodic(ruleset, p.fact)),
            )
            for r in ruleset.rules
        }
    return cached


def _inside(day: int, start: int | None, end: int | None) -> bool:
    return (start is None or day >= start) and (end is None or day <= end)


class Timing:
    """Which matches of one ruleset may stand, for one request's ``as_of`` (see module docstring).

    ``pinned``: the request named this version in ``rulesets``; only then does a
    ruleset of a draft apply at all (as if in force over its own period).
    """

    def __init__(self, ruleset: Ruleset, instrument: Instrument | None, as_of: dt.date, pinned: bool):
        self.ruleset = ruleset
        force = instrument.in_force() if instrument is not None else None
        period = (ruleset.effective_from, ruleset.effective_to)
        if force is None:  # never law: only by pin, as if in force over the ruleset's period
            self.applies = pinned
            self.force = period
        else:
            self.applies = True
            start, end = force
            self.force = (
                start.toordinal() if start is not None else None,
                end.toordinal() if end is not None else None,
            )
        self.as_of = as_of.toordinal()
        starts = [d for d in (self.force[0], period[0]) if d is not None]
        ends = [d for d in (self.force[1], period[1]) if d is not None]
        self.as_of_in_force = self.applies and _inside(
            self.as_of, max(starts) if starts else None, min(ends) if ends else None
        )
        # facts read before the period (``reads_facts_from``) are evidence, never themselves judged
        self.judged_from = period[0] if ruleset.reads_facts_from is not None else None
        if self.judged_from is not None and (self.force[0] is None or self.force[0] < self.judged_from):
            self.force = (self.judged_from, self.force[1])
        self._rules = _rule_timings(ruleset)

    def admits(self, rule_id: str, bindings: Mapping[str, Mapping[str, Any]]) -> bool:
        """Whether a match of ``rule_id`` binding these (prepared) facts is judged by this ruleset."""
        if not self.applies:
            return False
        timing = self._rules[rule_id]
        if timing.timeless:
            return self.as_of_in_force
        start, end = self.force
        for alias, name in timing.dated:
            day = bindings.get(alias, {}).get(name)
            if day is not None and not _inside(day, start, end):
                return False
        if self.judged_from is not None:
            for alias in timing.periodic:
                last = _period_end(bindings.get(alias, {}))
                if last is not None and last < self.judged_from:
                    return False
        return True
