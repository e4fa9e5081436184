"""Turning a request's facts into the facts the engine matches.

durable_rules compares numbers and strings; it has no dates, no aggregates and
no notion of "unknown".  This step, in plain Python, gives it what it needs:

- keeps only the facts a ruleset reads (its effective period, widened back
  to ``reads_facts_from`` where a ruleset sets it: the 2021 notice reads 2021
  facts; enterprises and groups are timeless);
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
import threading
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any
from collections.abc import Callable, Iterable, Mapping

from policy import expr as E
from policy.analysis import analyse
from policy.batches import BATCH_LISTS, batch_of, batch_values
from policy.facts import FACT_LISTS, FactList
from policy.functions import UnknownValue, parse_date
from policy.model import Rule, Ruleset
from policy.wire_types import wire_type

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


def _year_span(year: int) -> tuple[int, int]:
    """First and last day of a year; years beyond the calendar (0, 10000, ...) are clamped to it.

    Spans are only compared with rulesets' effective dates, so a year before 1 behaves as year 1 and one
    after 9999 as year 9999 (validation accepts any four-digit year, and any integer for ``year``).
    """
    y = min(max(year, dt.MINYEAR), dt.MAXYEAR)
    return dt.date(y, 1, 1).toordinal(), dt.date(y, 12, 31).toordinal()


def _span_of(lst: FactList, value: Any) -> tuple[int, int] | None:
    """First and last day a time value concerns (a year, a month, a period or a date)."""
    if value is None:
        return None
    wire = lst.wire(lst.time_field) if lst.time_field else None
    assert wire is not None
    if wire.type == "integer":  # a year
        return _year_span(int(value))
    if wire.type == "date":
        d = parse_date(value)
        return d, d
    # month "YYYY-MM" or period "YYYY" / "YYYY-MM"
    y = int(value[:4])
    if len(value) == 4 or not dt.MINYEAR <= y <= dt.MAXYEAR:
        return _year_span(y)
    m = int(value[5:7])
    last = dt.date(y, 12, 31) if m == 12 else dt.date(y, m + 1, 1) - dt.timedelta(days=1)
    return dt.date(y, m, 1).toordinal(), last.toordinal()


def _within(ruleset: Ruleset, lst: FactList, span: tuple[int, int] | None) -> bool:
    if span is None:
        # timeless lists (enterprises, groups) always; an undated fact of a dated list only
        # where the ruleset has no bounds: it cannot be placed in a bounded period
        return lst.time_field is None or (ruleset.effective_from is None and ruleset.effective_to is None)
    start, end = span
    # ``reads_facts_from`` widens only the facts read (earlier months of a quota year), not the period judged:
    # policy.force keeps the matches of acts outside the instrument's force and the ruleset's period out
    first = ruleset.reads_facts_from if ruleset.reads_facts_from is not None else ruleset.effective_from
    if first is not None and end < first:
        return False
    if ruleset.effective_to is not None and start > ruleset.effective_to:
        return False
    return True


def _normaliser(lst: FactList) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A fast per-list normaliser: one handler per wire field (its wire type's), run only for the keys a fact has."""
    handlers = {wf.name: wire_type(wf).normaliser(wf) for wf in lst.fields}

    def normalise_fact(fact: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in fact.items():
            handler = handlers.get(key)
            if handler is not None:
                handler(out, value)
        return out

    return normalise_fact


_NORMALISERS = {name: _normaliser(lst) for name, lst in FACT_LISTS.items()}


class RequestFacts:
    """A request's facts, normalised once and shared by every ruleset that judges it.

    Lists are normalised lazily (a ruleset that reads no production never pays
    for it) and each fact's time span is computed once per distinct value.
    """

    def __init__(self, raw: Mapping[str, Iterable[Mapping[str, Any]]]):
        self.raw = raw
        self._lists: dict[str, tuple[list[dict[str, Any]], list[tuple[int, int] | None]]] = {}

    def list(self, name: str) -> tuple[list[dict[str, Any]], list[tuple[int, int] | None]]:
        cached = self._lists.get(name)
        if cached is None:
            lst = FACT_LISTS[name]
            raw = self.raw.get(name) or ()
            norm = _NORMALISERS[name]
            if lst.time_field:
                # one pass: each fact normalised and its span taken from the memo of time values
                time_field = lst.time_field
                memo = _SPANS[name]
                normalised, spans = [], []
                for fact in raw:
                    value = fact.get(time_field)
                    span = memo.get(value, _NO_SPAN)
                    if span is _NO_SPAN:
                        span = _span_of(lst, value)
                        if len(memo) >= _MAX_SPANS:
                            memo.clear()
                        memo[value] = span
                    spans.append(span)
                    normalised.append(norm(fact))
            else:
                normalised = [norm(f) for f in raw]
                spans = [None] * len(normalised)
            cached = self._lists[name] = (normalised, spans)
        return cached


_NO_SPAN: Any = object()  # a memo miss (None is a span: no time value)
# Per list, the span of each time value seen: a pure function of the value, and requests repeat the same
# few months and years.  Bounded; plain dict operations, so safe from many threads.
_MAX_SPANS = 10_000
_SPANS: dict[str, dict[Any, tuple[int, int] | None]] = {name: {} for name in FACT_LISTS}


class _ComputedField:
    """A computed field compiled once per ruleset version, with its values memoised.

    A computed value is a pure function of the fact's fields it reads and the
    version's parameters (due dates from year and month, say), and requests
    repeat the same few inputs: the value, or its being unknown, and any
    warning raised on the way are kept per input and replayed.  The memo is
    bounded and thread-safe (plain dict operations).
    """

    MAX_MEMO = 10_000

    def __init__(self, comp: Any):
        self.list, self.alias, self.field = comp.list, comp.alias, comp.field
        self.reads = tuple(dict.fromkeys(r.name for r in E.field_refs(comp.value) if r.alias == comp.alias))
        self._fn = E.compile_py(comp.value, on_warning=_collect_warning)
        self._memo: dict[tuple, tuple[bool, Any, tuple[dict, ...]]] = {}

    def value(self, fact: Mapping[str, Any], params: Mapping[str, Any]) -> tuple[bool, Any, tuple[dict, ...]]:
        """(known, value, warnings) for one fact."""
        key = tuple([(v.__class__, v) for v in map(fact.get, self.reads)])
        cached = self._memo.get(key)
        if cached is None:
            sink: list[dict] = []
            _sink.warnings = sink
            try:
                cached = (True, self._fn({self.alias: fact}, params, None), ())
            except UnknownValue:
                cached = (False, None, ())
            finally:
                _sink.warnings = None
            if sink:
                cached = (cached[0], cached[1], tuple(sink))
            if len(self._memo) >= self.MAX_MEMO:
                self._memo.clear()
            self._memo[key] = cached
        return cached


_sink = threading.local()


def _collect_warning(warning: dict) -> None:
    sink = getattr(_sink, "warnings", None)
    if sink is not None:
        sink.append(warning)


@dataclass(frozen=True)
class Needs:
    """What a ruleset's rules actually read: only that is prepared (unused derived facts are not built)."""

    lists: frozenset[str]
    aggregates: tuple[Any, ...]
    computed: tuple[Any, ...]
    computed_fields: tuple[_ComputedField, ...] = ()  # ``computed``, compiled
    aggregate_where: tuple[Any, ...] = ()  # per aggregate, its ``where`` compiled (or None)


_NEEDS: dict[str, Needs] = {}


def needs(ruleset: Ruleset) -> Needs:
    """What to prepare for a ruleset version, from its one analysis (:mod:`policy.analysis`), compiled once."""
    cached = _NEEDS.get(ruleset.digest)
    if cached is not None:
        return cached
    reads = analyse(ruleset)
    result = _NEEDS[ruleset.digest] = Needs(
        reads.lists,
        reads.aggregates,
        reads.computed,
        tuple(_ComputedField(c) for c in reads.computed),
        tuple(E.compile_py(a.where) if a.where is not None else None for a in reads.aggregates),
    )
    return result


def excluded(rule: Rule, prep: Prepared, bound: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether an ``unless`` fact is known to be there for these bound facts (then the rule cannot fire).

    For the plain-Python matchers (the reference evaluator and the unknowns search).
    """
    for neg in rule.negative:
        for fact in prep.facts.get(neg.fact, ()):
            if neg.where is None or E.holds(neg.where, {**bound, neg.alias: fact}, params, prep.as_of):
                return True
    return False


def _holds(fn: Any, bindings: Mapping[str, Any], params: Mapping[str, Any], as_of: int) -> bool:
    """``expr.holds`` for a compiled condition: unknown is not true."""
    try:
        return bool(fn(bindings, params, as_of))
    except UnknownValue:
        return False


class _Guard:
    """A list's pre-filter (:func:`engine.compiler._guards`): some alternative's equalities all hold.

    Facts repeat the few values guards test, so the verdict is memoised on
    the tested fields' values (bounded, per ruleset version).
    """

    MAX_MEMO = 10_000

    def __init__(self, alternatives: tuple[dict[str, Any], ...]):
        self.fields = tuple(dict.fromkeys(name for tests in alternatives for name in tests))
        self.alternatives = tuple(tuple((self.fields.index(n), v) for n, v in tests.items()) for tests in alternatives)
        self._memo: dict[tuple, bool] = {}

    def passes(self, fact: Mapping[str, Any]) -> bool:
        values = tuple(map(fact.get, self.fields))
        try:
            verdict = self._memo.get(values)
        except TypeError:  # an unhashable value: decide without the memo
            return self._decide(values)
        if verdict is None:
            verdict = self._decide(values)
            if len(self._memo) >= self.MAX_MEMO:
                self._memo.clear()
            self._memo[values] = verdict
        return verdict

    def _decide(self, values: tuple) -> bool:
        # ``!=`` then ``not``: the same test as ``fact.get(name) != value`` for any values (1 == 1.0, True == 1)
        return any(all(not values[i] != v for i, v in tests) for tests in self.alternatives)


_GUARDS: dict[tuple, _Guard] = {}


def _guard(alternatives: tuple[dict[str, Any], ...]) -> _Guard:
    key = tuple(tuple(sorted((n, type(v).__name__, v) for n, v in t.items())) for t in alternatives)
    guard = _GUARDS.get(key)
    if guard is None:
        guard = _GUARDS[key] = _Guard(alternatives)
    return guard


def prepare(
    ruleset: Ruleset,
    request: RequestFacts | Mapping[str, Iterable[Mapping[str, Any]]],
    as_of: dt.date,
    guards: Mapping[str, tuple[dict[str, Any], ...]] | None = None,
) -> Prepared:
    """Prepare the request's facts for one ruleset (see module docstring).

    ``guards`` (from the compiler) drop facts that no pattern can match before
    any further work; the reference evaluator prepares without them.
    """
    if not isinstance(request, RequestFacts):
        request = RequestFacts(request)
    prep = Prepared({}, {}, as_of.toordinal())
    need = needs(ruleset)
    computed_lists = {c.list for c in need.computed}
    for name in need.lists:
        lst = FACT_LISTS[name]
        normalised, spans = request.list(name)
        facts: list[dict[str, Any]] = []
        sources: list[tuple[SourceRef, ...]] = []
        # computed fields and batch figures are per ruleset: do not touch the shared fact
        copy = name in computed_lists or (bool(ruleset.batches) and name in BATCH_LISTS)
        alternatives = (guards or {}).get(name)
        passes = _guard(alternatives).passes if alternatives is not None else None
        within: dict[Any, bool] = {}  # per distinct span (requests repeat a few periods)
        for index, (fact, span) in enumerate(zip(normalised, spans)):
            inside = within.get(span)
            if inside is None:
                inside = within[span] = _within(ruleset, lst, span)
            if inside and (passes is None or passes(fact)):
                facts.append(dict(fact) if copy else fact)
                sources.append(((name, index),))
        prep.facts[name] = facts
        prep.sources[name] = sources
    if ruleset.batches:
        _add_batch_fields(ruleset, prep)
    params = ruleset.param_values
    for comp in need.computed_fields:
        field_name = comp.field
        for fact in prep.facts.get(comp.list, ()):
            known, value, warnings = comp.value(fact, params)
            for w in warnings:
                prep.add_warning(w)
            if known:
                fact[field_name] = value
            # else: stays unknown
    for agg, where in zip(need.aggregates, need.aggregate_where):
        groups: dict[tuple, dict[str, Any]] = {}
        members: dict[tuple, list[SourceRef]] = {}
        src_facts, src_sources = prep.facts.get(agg.source, []), prep.sources.get(agg.source, [])
        group_by, sums = agg.group_by, tuple(agg.sums.items())
        get_key, single = itemgetter(*group_by), len(group_by) == 1
        for fact, refs in zip(src_facts, src_sources):
            if where is not None and not _holds(where, {agg.alias: fact}, params, prep.as_of):
                continue
            try:
                key = (get_key(fact),) if single else get_key(fact)
            except KeyError:
                continue  # a grouping key is unknown: the fact cannot be attributed to any group
            row = groups.get(key)
            if row is None:
                row = groups[key] = dict(zip(group_by, key))
                for out_name in agg.sums:
                    row[out_name] = 0
                if agg.count:
                    row[agg.count] = 0
                members[key] = []
            for out_name, src_field in sums:
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


def _add_batch_fields(ruleset: Ruleset, prep: Prepared) -> None:
    """Give each allocation and group quota naming one of the ruleset's batches that batch's figures."""
    for name in BATCH_LISTS:
        for fact in prep.facts.get(name, ()):
            batch, warning = batch_of(ruleset.batches, fact)
            if batch is not None:
                values, warning = batch_values(batch, fact)
                fact.update(values)
            if warning is not None:
                prep.add_warning(warning)
