"""Which missing facts kept a rule from firing (``POST /v1/evaluate?explain=unknowns``).

A field the caller leaves out is unknown, and a condition that needs it does
not hold (contract v1: unknown is never false).  So a request that omits, say,
an enterprise's ``mining_license`` gets no violation of the mining-licence rule,
and the caller should learn that the answer is open, not clean.

This walks the rule model directly (nested loops over the ``when`` facts),
but in three values: a combination of facts whose conditions are each true
*or unknown*, at least one unknown, is a rule that would have
been decided by the missing values.  For each, it lists the request fields
that were missing (``facts.enterprises[0].mining_license``).  It is a plain
Python search, bounded by ``max_steps`` condition evaluations so a large
request cannot make it run away; a result cut short says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Mapping

from engine.prepare import RequestFacts, excluded, prepare
from policy import expr as E
from policy.analysis import computed_behind
from policy.expr.visitor import Visitor, handles
from policy.facts import FACT_LISTS
from policy.force import Timing
from policy.functions import UnknownValue
from policy.model import Rule, Ruleset

MAX_STEPS = 200_000
MAX_PER_RULE = 20
# At most this many completions of a condition's missing finite fields are tried (2**6 booleans).
MAX_COMPLETIONS = 64

_TRUE, _UNKNOWN, _FALSE = True, None, False


def _wire_field(list_name: str, name: str) -> str:
    """The request field behind a condition field (``submitted`` is ``submitted_on`` given or null, ...)."""
    lst = FACT_LISTS.get(list_name)
    field = lst.condition_fields.get(name) if lst is not None else None
    return field.wire if field is not None and field.wire else name


# Per request list, the fields whose explicit null is itself a fact (``submitted_on: null``: not
# submitted; ``group: null``: in no group): the fields with a "was given" flag.
NULL_IS_A_FACT = {name: frozenset(f.name for f in lst.fields if f.flag) for name, lst in FACT_LISTS.items()}


class _Truth(Visitor[bool | None]):
    """Three-valued truth of a condition (``not`` pushed down) on the bound facts, where a comparison
    reading a field in ``settled`` (sent as null, and the null is a fact) is false: no completion gives
    it a value."""

    def __init__(
        self,
        bound: Mapping[str, Any],
        params: Mapping[str, Any],
        as_of: int,
        settled: frozenset[tuple[str, str]],
    ):
        self.bound, self.params, self.as_of, self.settled = bound, params, as_of, settled

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> bool | None:
        values = [self.visit(o) for o in node.operands]
        decisive = node.op == "or"
        if decisive in values:
            return decisive
        return _UNKNOWN if _UNKNOWN in values else not decisive

    @handles(E.Compare, E.FieldRef, E.Const, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def part(self, node: E.Node) -> bool | None:
        """A part below the ``and``/``or`` structure, evaluated whole: unknown when it reads an absent field."""
        if self.settled and any((r.alias, r.name) in self.settled for r in E.field_refs(node)):
            return _FALSE
        try:
            return bool(E.evaluate(node, self.bound, self.params, self.as_of))
        except UnknownValue:
            return _UNKNOWN


def _truth(
    node: E.Node,
    bound: Mapping[str, Any],
    params: Mapping[str, Any],
    as_of: int,
    settled: frozenset[tuple[str, str]] = frozenset(),
) -> bool | None:
    """Three-valued truth of a condition (``not`` pushed down); see :class:`_Truth`."""
    return _Truth(bound, params, as_of, settled).visit(node)


class _MissingRefs(Visitor[set[E.FieldRef]]):
    """The absent fields that make an unknown condition (``not`` pushed down) unknown, found in the
    parts that are themselves unknown."""

    def __init__(self, truth: _Truth):
        self.truth = truth

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> set[E.FieldRef]:
        out: set[E.FieldRef] = set()
        for o in node.operands:
            if self.truth.visit(o) is _UNKNOWN:
                out |= self.visit(o)
        return out

    @handles(E.Compare, E.FieldRef, E.Const, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def part(self, node: E.Node) -> set[E.FieldRef]:
        bound = self.truth.bound
        return {r for r in E.field_refs(node) if bound.get(r.alias, {}).get(r.name) is None}


def _missing_refs(
    node: E.Node,
    bound: Mapping[str, Any],
    params: Mapping[str, Any],
    as_of: int,
    settled: frozenset[tuple[str, str]] = frozenset(),
) -> set[E.FieldRef]:
    """The absent fields that make ``node`` (``not`` pushed down) unknown, in the parts themselves unknown."""
    truth = _Truth(bound, params, as_of, settled)
    if truth.visit(node) is not _UNKNOWN:
        return set()
    return _MissingRefs(truth).visit(node)


def _finite_domains(lst: Any) -> dict[str, tuple[tuple[Any, frozenset[str]], ...]]:
    """Per condition field of a request list with few values (a boolean, an enum), those values, each with
    the fields of the list it settles: a "was given" flag that is false says the request sent its field as
    null (``issued`` false: ``issued_on: null``), which no completion dates."""
    flag_wire = {f.flag: f.name for f in lst.fields if f.flag}
    out: dict[str, tuple[tuple[Any, frozenset[str]], ...]] = {}
    for name, cf in lst.condition_fields.items():
        if cf.type == "boolean":
            wire = flag_wire.get(name)
            nulled = frozenset(
                c.name for c in lst.condition_fields.values() if wire and c.wire == wire and c.name != name
            )
            out[name] = ((True, frozenset()), (False, nulled))
        elif cf.enum:
            out[name] = tuple((value, frozenset()) for value in cf.enum)
    return out


# Per request list, its condition fields with few values (read per unknown condition: built once).
FINITE_DOMAINS = {name: _finite_domains(lst) for name, lst in FACT_LISTS.items()}
# Per request list, (condition field, the request field it comes from), for the fields that come from one.
WIRED_FIELDS = {
    name: tuple((c.name, c.wire) for c in lst.condition_fields.values() if c.wire) for name, lst in FACT_LISTS.items()
}


def _could_hold(
    node: E.Node,
    bound: Mapping[str, Any],
    params: Mapping[str, Any],
    as_of: int,
    settled: frozenset[tuple[str, str]],
    kinds: Mapping[str, str],
) -> bool:
    """Whether some completion of the missing fields could make an unknown condition true.

    Three-valued logic alone cannot see a contradiction: ``a.issued and (not a.issued or x == 0)`` is
    unknown without ``issued`` though no value of it makes the condition true when ``x`` is 1. The missing
    fields with few values (booleans, enums) are therefore tried, every combination; a condition false
    under each is false. Fields with many values (numbers, dates) stay unknown during the trial, so the
    answer errs towards "could hold" and never hides a rule a value decides.
    """
    finite = []
    for ref in sorted(_missing_refs(node, bound, params, as_of, settled), key=lambda r: (r.alias, r.name)):
        domain = FINITE_DOMAINS.get(kinds.get(ref.alias, ""), {}).get(ref.name, ())
        if domain:
            finite.append((ref, domain))
    if not finite or math.prod(len(d) for _, d in finite) > MAX_COMPLETIONS:
        return True
    for choice in itertools.product(*(d for _, d in finite)):
        completed, now_settled = dict(bound), set(settled)
        for (ref, _), (value, nulled) in zip(finite, choice):
            completed[ref.alias] = {**completed[ref.alias], ref.name: value}
            now_settled |= {(ref.alias, name) for name in nulled}
        if _truth(node, completed, params, as_of, frozenset(now_settled)) is not _FALSE:
            return True
    return False


@dataclass
class _Search:
    ruleset: Ruleset
    prep: Any
    params: Mapping[str, Any]
    max_steps: int
    raw: Mapping[str, Any]  # the request's facts as sent (to tell a null that is a fact from a missing field)
    timing: Timing | None = None
    steps: int = 0
    truncated: bool = False
    found: list[dict[str, Any]] = field(default_factory=list)

    def rule(self, rule: Rule) -> None:
        positive = rule.positive
        required = rule.required_fields()
        seen: set[tuple] = set()
        results: list[dict[str, Any]] = []

        def extend(
            level: int,
            bound: dict[str, Any],
            refs: dict[str, Any],
            missing: list[tuple],
            settled: frozenset[tuple[str, str]],
        ) -> None:
            """``settled``: :meth:`settled` of ``refs`` and ``bound``, as the level above computed it."""
            if len(results) >= MAX_PER_RULE or self.truncated:
                return
            if level == len(positive):
                # the fields that must be known for a match, the unless conditions' reads of the `when` facts
                # included (docs/rules.md, "Which fields must be known"): one that no completion can give
                # means these facts never match; one left out is missing
                missing = list(missing)
                for alias, names in required.items():
                    for name in names:
                        if (bound.get(alias) or {}).get(name) is None:
                            if (alias, name) in settled:
                                return
                            missing.append((alias, name))
                if (
                    missing
                    and not excluded(rule, self.prep, bound, self.params)
                    and (self.timing is None or self.timing.admits(rule.id, bound))
                ):
                    entry = self._entry(rule, refs, tuple(sorted(set(missing))))
                    key = (tuple(entry["missing"]), tuple(entry["facts"]))
                    if key not in seen:
                        seen.add(key)
                        results.append(entry)
                return
            p = positive[level]
            for fact, src in zip(self.prep.facts.get(p.fact, ()), self.prep.sources.get(p.fact, ())):
                self.steps += 1
                if self.steps > self.max_steps:
                    self.truncated = True
                    return
                if any(fact is other for other in bound.values()):
                    continue  # a combination is of distinct facts
                trial = {**bound, p.alias: fact}
                trial_settled = self.settled({**refs, p.alias: (p.fact, src)}, trial)
                where = None if p.where is None else E.push_not(p.where)
                truth = _TRUE if where is None else _truth(where, trial, self.params, self.prep.as_of, trial_settled)
                if truth is _UNKNOWN and where is not None:
                    kinds = {alias: kind for alias, (kind, _) in refs.items()} | {p.alias: p.fact}
                    if not _could_hold(where, trial, self.params, self.prep.as_of, trial_settled, kinds):
                        truth = _FALSE
                if truth is _FALSE:
                    continue
                gaps = list(missing)
                # `where` is None only when the truth is _TRUE, so an unknown truth always has a condition
                if truth is _UNKNOWN and where is not None:
                    for ref in _missing_refs(where, trial, self.params, self.prep.as_of, trial_settled):
                        gaps.append((ref.alias, ref.name))
                extend(level + 1, trial, {**refs, p.alias: (p.fact, src)}, gaps, trial_settled)

        extend(0, {}, {}, [], frozenset())
        self.found.extend(results)

    def settled(self, refs: Mapping[str, Any], bound: Mapping[str, Any]) -> frozenset[tuple[str, str]]:
        """(alias, field) of the bound request facts that no completion of the request can give a value:
        fields sent as null where null is a fact, fields whose request field was sent with a value that gives
        them none (``month`` of ``period: "2021"``), and computed fields without a value although every
        submitted field behind them was sent (``issued_on + 14`` of an allocation sent with
        ``issued_on: null``, not issued, has no date whatever else is sent)."""
        out = set()
        for alias, (kind, sources) in refs.items():
            if kind in FACT_LISTS and len(sources) == 1:
                lst, index = sources[0]
                raw = self.raw.get(lst) or ()
                fact = raw[index] if index < len(raw) else {}
                out |= {(alias, name) for name in NULL_IS_A_FACT[lst] if name in fact and fact[name] is None}
                prepared = bound.get(alias) or {}
                for name, wire in WIRED_FIELDS[lst]:
                    if fact.get(wire) is not None and prepared.get(name) is None:
                        out.add(
                            (alias, name)
                        )  # its request field was sent, and gives it no value (an annual period's month)
                for c in self.ruleset.computed:
                    if c.list == lst and prepared.get(c.field) is None and self._inputs_sent(lst, c.field, fact):
                        out.add((alias, c.field))
        return frozenset(out)

    def _inputs_sent(self, lst: str, name: str, raw: Mapping[str, Any]) -> bool:
        """Every submitted field behind the computed field ``name`` was sent with a value, or as a null
        that is itself a fact."""
        comps = computed_behind(self.ruleset.computed, {(lst, name)})
        own = {c.field for c in self.ruleset.computed if c.list == lst}
        for f in {r.name for c in comps for r in E.field_refs(c.value)} - own:
            wire = _wire_field(lst, f)
            if raw.get(wire) is None and not (wire in NULL_IS_A_FACT[lst] and wire in raw):
                return False
        return True

    def behind(self, lst: str, index: int, name: str) -> list[str]:
        """For a computed field, the submitted fields it is computed from that the fact lacks (a
        caller can send those, not the computed value); else the field itself."""
        comps = computed_behind(self.ruleset.computed, {(lst, name)})
        if not comps or name not in {c.field for c in comps if c.list == lst}:
            return [name]
        raw = (self.raw.get(lst) or ())[index]
        own = {c.field for c in self.ruleset.computed if c.list == lst}
        fields = sorted({r.name for c in comps for r in E.field_refs(c.value)} - own)
        absent = [f for f in fields if raw.get(_wire_field(lst, f)) is None]
        return absent or [name]

    def _entry(self, rule: Rule, refs: Mapping[str, Any], missing: tuple) -> dict[str, Any]:
        paths = []
        for alias, name in missing:
            kind, sources = refs[alias]
            if kind in FACT_LISTS:
                for lst, index in sources:
                    for field_name in self.behind(lst, index, name):
                        paths.append(f"facts.{lst}[{index}].{_wire_field(lst, field_name)}")
            else:  # a derived or computed value: name it, and the request facts it comes from
                paths.append(f"{kind}.{name} (from " + ", ".join(f"facts.{lst}[{i}]" for lst, i in sources) + ")")
        facts = sorted({f"facts.{lst}[{i}]" for kind, sources in refs.values() for lst, i in sources})
        return {
            "rule": rule.id,
            "ruleset": self.ruleset.ref,
            "title": dict(rule.title),
            "missing": sorted(dict.fromkeys(paths)),
            "facts": facts,
            "citations": [{"instrument": c.instrument, "eid": c.eid} for c in rule.citations],
        }


def unknowns(
    ruleset: Ruleset,
    request: RequestFacts | Mapping[str, Any],
    as_of: dt.date,
    max_steps: int = MAX_STEPS,
    timing: Timing | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """For each rule, the combinations of facts that only missing values kept from deciding.

    ``timing`` leaves out the combinations the instrument's force excludes (as evaluation does).
    Returns the entries and whether the search was cut short at ``max_steps``.
    """
    if not isinstance(request, RequestFacts):
        request = RequestFacts(request)
    search = _Search(ruleset, prepare(ruleset, request, as_of), ruleset.param_values, max_steps, request.raw, timing)
    for rule in ruleset.rules:
        search.rule(rule)
        if search.truncated:
            break
    return search.found, search.truncated
