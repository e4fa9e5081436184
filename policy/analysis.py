"""What a ruleset version reads: one analysis of its expressions, shared by every reader.

The compiler (which fields the engine carries, which pre-filters are sound),
``prepare`` (which lists, derived lists and computed fields to build) and the
validator (which computed fields nobody reads) must agree on what each rule
and each computed field reads.  Two silent bugs came from each of them
deciding it on its own: a computed field read only by a later computed field
was never computed, and a pre-filter tested a computed field on the raw fact,
which does not have it yet.  So it is decided here, once per version (versions
are immutable; the result is memoised on the digest).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from collections.abc import Iterable, Mapping

from policy import expr as E
from policy.facts import FACT_LISTS
from policy.model import Aggregate, Computed, Rule, Ruleset

Read = tuple[str, str]  # (fact kind, field)


@dataclass(frozen=True)
class Analysis:
    """What one ruleset version reads (see module docstring)."""

    rule_reads: Mapping[str, frozenset[Read]]  # rule id -> every (kind, field) it reads, values included
    condition_fields: Mapping[str, frozenset[str]]  # kind -> fields a `when`/`unless` condition or subject reads
    kinds: frozenset[str]  # every kind some rule matches or negates
    aggregates: tuple[Aggregate, ...]  # the derived lists some rule reads, in file order
    lists: frozenset[str]  # the request lists to prepare (read by a rule, or summed into a derived list read)
    read: frozenset[Read]  # every (kind, field) read by a rule, a derived list read, or a computed field computed
    computed: tuple[Computed, ...]  # the computed fields to compute, in file order (a later one may read an earlier)
    computed_names: Mapping[str, frozenset[str]]  # request list -> every computed field declared on it
    unread_computed: tuple[Computed, ...]  # declared but read by no rule, derived list or other computed field


def _reads(node: E.Node | None, kind_of: Mapping[str, str]) -> set[Read]:
    return {(kind_of[r.alias], r.name) for r in E.field_refs(node)} if node is not None else set()


def rule_reads(rule: Rule) -> frozenset[Read]:
    """Every (kind, field) the rule reads: conditions, subject, period, details and consequences."""
    kind_of = {p.alias: p.fact for p in rule.patterns}
    nodes: list[E.Node | None] = [p.where for p in rule.patterns] + [rule.subject_id, rule.period]
    nodes += list(rule.details.values()) + [v for c in rule.consequences for v in c.values.values()]
    if not isinstance(rule.subject_type, str):
        nodes.append(rule.subject_type)
    out: set[Read] = set()
    for node in nodes:
        out |= _reads(node, kind_of)
    return frozenset(out)


def aggregate_reads(agg: Aggregate) -> set[Read]:
    """The fields of its source list a derived list reads: keys, summed fields and its ``where``."""
    out = {(agg.source, f) for f in agg.group_by} | {(agg.source, f) for f in agg.sums.values()}
    return out | _reads(agg.where, {agg.alias: agg.source})


def computed_reads(comp: Computed) -> set[Read]:
    return _reads(comp.value, {comp.alias: comp.list})


def _closure(computed: Iterable[Computed], read: set[Read]) -> list[Computed]:
    """The computed fields ``read`` needs, directly or through later computed fields (file order kept).

    A computed field may read only earlier ones, so one pass from the last to the first suffices.
    """
    needed: list[Computed] = []
    for comp in reversed(tuple(computed)):
        if (comp.list, comp.field) in read:
            needed.append(comp)
            read |= computed_reads(comp)
    return needed[::-1]


def computed_behind(computed: Iterable[Computed], read: Iterable[Read]) -> list[Computed]:
    """The computed fields behind these reads: read directly, or through later computed fields."""
    return _closure(computed, set(read))


_CACHE: dict[str, Analysis] = {}
_LOCK = threading.Lock()


def analyse(ruleset: Ruleset) -> Analysis:
    """The analysis of a ruleset version, computed once per digest."""
    cached = _CACHE.get(ruleset.digest)
    if cached is not None:
        return cached
    per_rule = {r.id: rule_reads(r) for r in ruleset.rules}
    kinds = frozenset(p.fact for r in ruleset.rules for p in r.patterns)
    condition: dict[str, set[str]] = {k: set() for k in kinds}
    for r in ruleset.rules:
        kind_of = {p.alias: p.fact for p in r.patterns}
        for node in [p.where for p in r.patterns] + [r.subject_id]:
            for kind, name in _reads(node, kind_of):
                condition[kind].add(name)
    aggregates = tuple(a for a in ruleset.aggregates.values() if a.name in kinds)
    lists = frozenset({k for k in kinds if k in FACT_LISTS} | {a.source for a in aggregates})
    read: set[Read] = set().union(*per_rule.values()) if per_rule else set()
    for agg in aggregates:
        read |= aggregate_reads(agg)
    computed = tuple(c for c in _closure(ruleset.computed, read) if c.list in lists)
    # "Nobody reads it": not even a rule or derived list that this request layout would skip.
    everything: set[Read] = set().union(*per_rule.values()) if per_rule else set()
    for agg in ruleset.aggregates.values():
        everything |= aggregate_reads(agg)
    used = {(c.list, c.field) for c in _closure(ruleset.computed, everything)}
    names: dict[str, set[str]] = {}
    for c in ruleset.computed:
        names.setdefault(c.list, set()).add(c.field)
    result = Analysis(
        rule_reads=per_rule,
        condition_fields={k: frozenset(v) for k, v in condition.items()},
        kinds=kinds,
        aggregates=aggregates,
        lists=lists,
        read=frozenset(read),
        computed=computed,
        computed_names={k: frozenset(v) for k, v in names.items()},
        unread_computed=tuple(c for c in ruleset.computed if (c.list, c.field) not in used),
    )
    with _LOCK:
        _CACHE[ruleset.digest] = result
    return result
