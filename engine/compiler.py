"""Compiling a validated ruleset into durable_rules' JSON ruleset form.

Each rule becomes one durable_rules rule: its ``when`` facts become positive
patterns and its ``unless`` facts ``$not`` patterns.  The shape of the output
is dictated by defects of durable-rules 2.0.28 measured before this project
(see docs/engine.md); each workaround is marked ``DEFECT`` below:

- DEFECT negation: a ``$not`` pattern only blocks a match when the negated
  fact is asserted before the positive ones, and a cancellation damages other
  rules' matches that share the fact.  So no ``$not`` is compiled: durable
  matches a rule's ``when`` facts only, sharing a unit with other rules, and
  the ``unless`` facts are tested in Python on each match (:class:`Unless`,
  over an index of the negated facts by their equality keys, three-valued as
  the reference evaluator: a fact blocks only when its condition is known to
  hold).
- DEFECT join read past end: a join ``$and`` whose last test is false can
  read past its array; every joined pattern ends with an always-true test
  (``sid`` equals the first fact's ``sid``).
- DEFECT nested ``$or``: tests after a nested group are skipped, so nested
  groups always come last in their ``$and``.
- DEFECT empty session: deleting a session where nothing fired can free
  uninitialised memory; every unit has a sentinel rule that always fires.
- DEFECT rule-count limits (error 303 when a fact reaches 64 rule patterns
  of its kind in one ruleset; measured in docs/engine.md): rules are grouped
  into as few units as keep every kind's pattern count under
  PATTERNS_PER_KIND and the rules under RULES_PER_UNIT.
- DEFECT superlinear joins: durable_rules' join memory grows faster than
  linearly (a join with 5,000 facts on its left takes ~50 ms, 40,000 facts
  ~600 ms, whatever its equality keys).  So a second layout, ``large_units``,
  is compiled for large requests: every rule whose ``when`` patterns all join
  the first one on equalities (:func:`partition_key`) goes to a partitioned
  unit (shared by rules whose keys agree on the kinds they share), which the
  evaluator runs as several small sessions, each holding the facts whose
  join-key values hash alike (every match lies within one session).
- Unknown is not false (three-valued logic): the fields a rule requires
  (``Rule.required_fields``) get an ``$ex`` test on their fact; inside an
  ``or`` a comparison on a missing field is false in durable_rules, so a
  branch on an unknown field never holds while a known branch still can.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from typing import Any
from collections.abc import Callable

from policy import expr as E
from policy.analysis import analyse
from policy.batches import BATCH_FIELDS, BATCH_LISTS
from policy.expr.visitor import Visitor, handles
from policy.model import Pattern, Rule, Ruleset

RULES_PER_UNIT = 100  # rules per unit: 256 identical rules worked, 300 failed (error 108); docs/engine.md
PATTERNS_PER_KIND = 64  # alpha branches on one fact kind per unit: 64 worked, 65 failed (error 303); docs/engine.md
CONTEXT_KIND = "_ctx"
SENTINEL_RULE = "_sentinel"
AS_OF_FIELD = "_as_of"
ID_FIELD = "ident"  # engine property holding a fact's own ``id`` field


class CompileError(ValueError):
    """A validated rule the compiler cannot express (a bug: validation should catch it)."""


@dataclass(frozen=True)
class Unit:
    """One durable_rules ruleset: some rules, the fact kinds they read, which kinds go first."""

    name: str
    definition: dict[str, Any]
    rule_ids: dict[str, str]  # durable rule name -> our rule id
    kinds: tuple[str, ...]  # fact kinds asserted (only those some pattern of the unit reads)
    partition: dict[str, tuple[str, ...]] | None = None  # per kind, the key fields to split sessions by
    repeats: frozenset[str] = frozenset()  # rules that can fire twice on one combination: an `or`, or variants


@dataclass(frozen=True)
class Unless:
    """One ``unless`` fact of a rule, tested in Python on each match of the rule's ``when`` facts.

    A match is blocked when some fact of ``kind`` makes the condition known
    to hold (unknown is not true).  ``keys`` are the condition's top-level
    equalities ``alias.own == other.field``: only facts whose ``own`` values
    equal the bound facts' can satisfy it, so candidates come from an index on
    those values, where every key equality is known and true; ``rest`` is the
    condition's other conjuncts, tested on each candidate (None: none left).
    """

    kind: str
    alias: str
    keys: tuple[tuple[str, str, str], ...]  # (own field, bound alias, bound field)
    rest: Callable[..., Any] | None  # the other conjuncts compiled (policy.expr.compile_py), or None


@dataclass(frozen=True)
class CompiledRuleset:
    ruleset: Ruleset
    units: tuple[Unit, ...]
    as_of_kinds: frozenset[str]  # kinds whose facts carry the evaluation date
    kinds: frozenset[str]  # every kind some unit reads
    fields: dict[str, frozenset[str]]  # per kind, the condition fields some rule reads (all the engine needs)
    guards: dict[str, tuple[dict[str, Any], ...]]  # per request list: a fact matching none can match no pattern
    large_units: tuple[Unit, ...] = ()  # the layout for large requests (see module docstring)
    props: dict[str, dict[str, str]] = field(default_factory=dict)  # per kind: field read -> engine property
    unless: dict[str, tuple[Unless, ...]] = field(default_factory=dict)  # rule id -> its ``unless`` facts


def prop(name: str) -> str:
    """Engine property name of a condition field."""
    return ID_FIELD if name == "id" else name


class _Value(Visitor[Any]):
    """Right-hand side of a test on the pattern of ``alias``: a constant or an expression durable_rules
    evaluates."""

    def __init__(self, alias: str, params: dict[str, Any]):
        self.alias, self.params = alias, params

    @handles(E.Const)
    def const(self, node: E.Const) -> Any:
        return node.value

    @handles(E.ParamRef)
    def param(self, node: E.ParamRef) -> Any:
        return self.params[node.name]

    @handles(E.FieldRef)
    def field(self, node: E.FieldRef) -> Any:
        if node.alias == self.alias:
            return {"$m": prop(node.name)}
        return {node.alias: prop(node.name)}

    @handles(E.AsOf)
    def as_of(self, node: E.AsOf) -> Any:
        return {"$m": AS_OF_FIELD}

    @handles(E.Neg)
    def neg(self, node: E.Neg) -> Any:
        operand = self.visit(node.operand)
        if not isinstance(operand, dict):  # constant folding, as for Arith below
            return -operand
        return {"$mul": {"$l": -1, "$r": operand}}

    @handles(E.Arith)
    def arith(self, node: E.Arith) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if not isinstance(left, dict) and not isinstance(right, dict):
            # constant folding: durable_rules mis-evaluates arithmetic with no fact operand
            return E.evaluate(E.Arith(node.op, E.Const(left, "number"), E.Const(right, "number")), {}, {})
        op = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}[node.op]
        return {op: {"$l": left, "$r": right}}

    @handles(E.Not, E.Compare, E.BoolOp, E.Call)
    def not_a_value(self, node: E.Node) -> Any:
        raise CompileError(f"cannot compile {E.to_text(node)} as a value")


_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


class _Test(Visitor[dict[str, Any]]):
    """One durable_rules test for a condition part (``not`` pushed down) on the pattern's own fact."""

    def __init__(self, alias: str, params: dict[str, Any]):
        self.alias, self.value = alias, _Value(alias, params)

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> dict[str, Any]:
        parts = [self.visit(o) for o in node.operands]
        if node.op == "and":
            return {"$and": _nested_last(parts)}
        return {"$or": parts}

    @handles(E.Compare)
    def compare(self, node: E.Compare) -> dict[str, Any]:
        isolated = E.isolate(node, self.alias)
        if isolated is None:
            raise CompileError(f"`{E.to_text(node)}` does not compare a field of `{self.alias}`")
        op, left, right = isolated.op, isolated.left, isolated.right
        assert isinstance(left, E.FieldRef)
        value = self.value.visit(right)
        # Inside an `or` no `$ex` is needed: durable_rules evaluates any comparison (`$neq` too) on a
        # missing property as false (measured), which is what three-valued logic needs of a branch.
        # (DEFECT: wrapping branch tests in `$and` groups loses matches in joined patterns.)
        return {prop(left.name): value} if op == "==" else {_OPS[op]: {prop(left.name): value}}

    @handles(E.Const, E.FieldRef, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def not_a_test(self, node: E.Node) -> dict[str, Any]:
        raise CompileError(f"not a test: {E.to_text(node)}")


def _nested_last(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DEFECT nested $or: plain tests first, nested groups last."""
    plain = [t for t in tests if not ({"$or", "$and"} & set(t))]
    nested = [t for t in tests if {"$or", "$and"} & set(t)]
    return plain + nested


class _MixedOr(Visitor[bool]):
    """The walk behind :func:`_mixed_or`: down the `and`s and `or`s, to the first mixed `or`."""

    def __init__(self, alias: str):
        self.alias = alias

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> bool:
        if node.op == "or":
            joins = [any(r.alias != self.alias for r in E.field_refs(o)) for o in node.operands]
            if any(joins) and not all(joins):
                return True
        return any(self.visit(o) for o in node.operands)

    @handles(E.Compare, E.FieldRef, E.Const, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def part(self, node: E.Node) -> bool:  # no `or` below
        return False


def _mixed_or(node: E.Node, alias: str) -> bool:
    """Whether an `or` (at any depth) has both a branch testing another fact and one that does not."""
    return _MixedOr(alias).visit(node)


class _Disjuncts(Visitor[list[list[E.Node]]]):
    """An `or` is the union of its branches' disjuncts, an `and` their product; any other part is one."""

    @handles(E.BoolOp)
    def boolop(self, node: E.BoolOp) -> list[list[E.Node]]:
        if node.op == "or":
            return [d for o in node.operands for d in self.visit(o)]
        out: list[list[E.Node]] = [[]]
        for o in node.operands:
            out = [left + right for left in out for right in self.visit(o)]
        return out

    @handles(E.Compare, E.FieldRef, E.Const, E.ParamRef, E.AsOf, E.Neg, E.Not, E.Arith, E.Call)
    def part(self, node: E.Node) -> list[list[E.Node]]:
        return [[node]]


_DISJUNCTS = _Disjuncts()


def _disjuncts(node: E.Node) -> list[list[E.Node]]:
    """The condition as an `or` of `and`s (each a list of comparisons); ``not`` already pushed down."""
    return _DISJUNCTS.visit(node)


def rule_variants(rule: Rule) -> list[Rule]:
    """The rule's ``when`` facts as durable_rules rules that together match what they match.

    DEFECT mixed `or`: in a joined pattern, an `or` whose branches test
    another fact's field in one and only constants in another never holds
    through the constant branch (found by the generated-ruleset tests).  Such
    a pattern's condition is split into its disjuncts, one durable rule each
    (the evaluator keeps one match per rule and combination of facts).
    ``unless`` facts are left out: they are tested in Python (:class:`Unless`).
    """
    choices: list[list[Pattern]] = []
    for p in rule.positive:
        if p.where is None or not _mixed_or(E.push_not(p.where), p.alias):
            choices.append([p])
            continue
        parts = [
            part[0] if len(part) == 1 else E.BoolOp("and", tuple(part)) for part in _disjuncts(E.push_not(p.where))
        ]
        choices.append([replace(p, where=part) for part in parts])
    return [replace(rule, patterns=tuple(combo)) for combo in itertools.product(*choices)]


def compile_rule(rule: Rule, params: dict[str, Any], reads: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """One rule -> durable_rules rule definition ({"all": [...]}).

    ``reads``: the fields that must be known (default the rule's own); a variant of a rule
    (:func:`rule_variants`) keeps those of the whole rule.
    """
    reads = rule.required_fields() if reads is None else reads
    first = rule.patterns[0].alias
    patterns = []
    for index, p in enumerate(rule.positive):  # ``unless`` facts: see :class:`Unless`
        tests: list[dict[str, Any]] = [{"kind": p.fact}]
        tests += [{"$ex": {prop(f): 1}} for f in reads.get(p.alias, [])]
        if p.where is not None:
            test = _Test(p.alias, params)
            for part in E.conjuncts(E.push_not(p.where)):
                tests.append(test.visit(part))
        tests = _nested_last(tests)
        if index > 0:
            tests.append({"sid": {first: "sid"}})  # DEFECT join read past end
        patterns.append({p.alias: {"$and": tests} if len(tests) > 1 else tests[0]})
    return {"all": patterns}


def _uses_as_of(p: Pattern) -> bool:
    return p.where is not None and E.uses_as_of(p.where)


def partition_key(rule: Rule) -> dict[str, tuple[str, ...]] | None:
    """Per fact kind, the fields whose values every match (and every blocking fact) shares, or None.

    A rule qualifies when each pattern after the first tests, at the top level
    of its condition, ``own.field == first.field`` for some common fields of
    the first pattern, and no two patterns read the same kind.  Then any two
    facts bound together (or a blocker and what it blocks) have equal key
    values.  A fact missing a key field can match nothing: the first
    pattern's key fields are required (``Rule.required_fields``), a later
    positive pattern's own fields too, and an equality on a missing field is
    false, so a negated fact missing one blocks nothing.
    """
    positive = rule.positive
    patterns = positive + rule.negative
    if len(patterns) < 2 or len({p.fact for p in patterns}) != len(patterns):
        return None
    first = positive[0]
    links: list[dict[str, str]] = []  # per later pattern: first's field -> own field
    for p in patterns[1:]:
        link: dict[str, str] = {}
        for part in E.conjuncts(E.push_not(p.where)) if p.where is not None else ():
            if not (isinstance(part, E.Compare) and part.op == "=="):
                continue
            iso = E.isolate(part, p.alias)
            if (
                iso is not None
                and isinstance(iso.left, E.FieldRef)
                and isinstance(iso.right, E.FieldRef)
                and iso.right.alias == first.alias
            ):
                link.setdefault(iso.right.name, iso.left.name)
        links.append(link)
    common = sorted(set.intersection(*(set(link) for link in links)))
    if not common:
        return None
    key = {first.fact: tuple(common)}
    for p, link in zip(patterns[1:], links):
        key[p.fact] = tuple(link[name] for name in common)
    return key


def unless_checks(rule: Rule) -> tuple[Unless, ...]:
    """The rule's ``unless`` facts as Python tests: equality keys on the bound facts, and the rest."""
    bound = {p.alias for p in rule.positive}
    out = []
    for p in rule.negative:
        keys: list[tuple[str, str, str]] = []
        rest: list[E.Node] = []
        for part in E.conjuncts(E.push_not(p.where)) if p.where is not None else ():
            iso = E.isolate(part, p.alias) if isinstance(part, E.Compare) and part.op == "==" else None
            if (
                iso is not None
                and isinstance(iso.left, E.FieldRef)
                and isinstance(iso.right, E.FieldRef)
                and iso.left.alias == p.alias
                and iso.right.alias in bound
            ):
                key = (iso.left.name, iso.right.alias, iso.right.name)
                if key not in keys:
                    keys.append(key)
            else:
                rest.append(part)
        condition = None if not rest else rest[0] if len(rest) == 1 else E.BoolOp("and", tuple(rest))
        out.append(Unless(p.fact, p.alias, tuple(keys), E.compile_py(condition) if condition is not None else None))
    return tuple(out)


def _pattern_counts(rule: Rule) -> dict[str, int]:
    """Alpha branches per fact kind that the rule compiles to, counted from above.

    Every variant's every pattern counts, and a pattern with an ``or`` counts
    once per disjunct (measured: each branch of an ``$or`` is a node a fact
    passes, 32 rules of two true branches worked, 33 failed with error 303).
    """
    counts: dict[str, int] = {}
    for variant in rule_variants(rule):
        for p in variant.positive:
            branches = len(_disjuncts(E.push_not(p.where))) if p.where is not None else 1
            counts[p.fact] = counts.get(p.fact, 0) + branches
    return counts


def group_rules(rules: list[Rule]) -> list[list[Rule]]:
    """Rules in file order, cut into as few consecutive groups as the limits allow.

    DEFECT error 303: a fact may pass at most 64 alpha branches of one
    ruleset; a group holds at most PATTERNS_PER_KIND branches on any one kind
    (:func:`_pattern_counts`, however many of them a fact passes) and at most
    RULES_PER_UNIT rules.
    """
    groups: list[list[Rule]] = []
    current: list[Rule] = []
    counts: dict[str, int] = {}
    for rule in rules:
        own = _pattern_counts(rule)
        if current and (
            len(current) >= RULES_PER_UNIT or any(counts.get(k, 0) + n > PATTERNS_PER_KIND for k, n in own.items())
        ):
            groups.append(current)
            current, counts = [], {}
        current.append(rule)
        for k, n in own.items():
            counts[k] = counts.get(k, 0) + n
    if current:
        groups.append(current)
    return groups


def compile_ruleset(ruleset: Ruleset, name_prefix: str) -> CompiledRuleset:
    """Split the ruleset into units and compile every rule (see module docstring)."""
    params = ruleset.param_values
    sentinel = {"all": [{"m": {"kind": CONTEXT_KIND}}]}
    as_of_kinds: set[str] = set()
    count = [0]

    def make_unit(rules: list[Rule], partition: dict[str, tuple[str, ...]] | None = None) -> Unit:
        definition: dict[str, Any] = {SENTINEL_RULE: sentinel}
        rule_ids, kinds, repeats = {}, [], set()
        for i, rule in enumerate(rules):
            reads = rule.required_fields()
            variants = rule_variants(rule)
            for j, variant in enumerate(variants):
                rname = f"r{i}" if j == 0 else f"r{i}v{j}"
                definition[rname] = compile_rule(variant, params, reads)
                rule_ids[rname] = rule.id
                # DEFECT: a rule fires once per branch of an `or` that holds (see the evaluator)
                if len(variants) > 1 or "$or" in json.dumps(definition[rname]):
                    repeats.add(rule.id)
            for p in rule.positive:
                if p.fact not in kinds:
                    kinds.append(p.fact)
                if _uses_as_of(p):
                    as_of_kinds.add(p.fact)
        count[0] += 1
        return Unit(f"{name_prefix}#{count[0] - 1}", definition, rule_ids, tuple(kinds), partition, frozenset(repeats))

    def layout(split: bool) -> tuple[Unit, ...]:
        units: list[Unit] = []
        plain: list[Rule] = []
        partitioned: list[tuple[dict[str, tuple[str, ...]], list[Rule]]] = []
        for rule in ruleset.rules:
            key = partition_key(replace(rule, patterns=rule.positive)) if split else None
            if key is None:
                plain.append(rule)
                continue
            # rules whose keys agree on every kind they share can share sessions: each rule's facts that can
            # be bound together still hash alike (so the unit's facts are asserted once, not once per rule)
            for shared, members in partitioned:
                if all(shared.get(kind, fields) == fields for kind, fields in key.items()):
                    shared.update(key)
                    members.append(rule)
                    break
            else:
                partitioned.append((dict(key), [rule]))
        for shared, members in partitioned:
            units.extend(make_unit(group, shared) for group in group_rules(members))
        units.extend(make_unit(group) for group in group_rules(plain))
        return tuple(units)

    units = layout(split=False)
    large = layout(split=True)
    kinds = frozenset(k for u in units + large for k in u.kinds)
    fields = analyse(ruleset).condition_fields  # every field a condition or the subject reads
    unless = {rule.id: unless_checks(rule) for rule in ruleset.rules if rule.negative}
    return CompiledRuleset(
        ruleset,
        units,
        frozenset(as_of_kinds),
        kinds,
        {k: fields[k] for k in kinds},
        _guards(ruleset),
        large,
        {k: {f: prop(f) for f in sorted(fields[k])} for k in kinds},
        unless,
    )


def _constant_tests(p: Pattern) -> dict[str, Any]:
    """The `field == constant` conjuncts of a pattern's condition."""
    out: dict[str, Any] = {}
    if p.where is None:
        return out
    for part in E.conjuncts(E.push_not(p.where)):
        if isinstance(part, E.Compare) and part.op == "==":
            for own, other in ((part.left, part.right), (part.right, part.left)):
                if isinstance(own, E.FieldRef) and own.alias == p.alias and isinstance(other, E.Const):
                    out[own.name] = other.value
    return out


def _guards(ruleset: Ruleset) -> dict[str, tuple[dict[str, Any], ...]]:
    """Pre-filters on request lists, so facts no pattern can match are never prepared or asserted.

    Sound because every pattern on a list requires its constant equalities:
    a fact that fails them for every pattern (positive or negated) can neither
    match nor block a match.  Lists summed into derived facts are never
    filtered (their sums need every fact); a list with one pattern lacking a
    constant test is not filtered either.  Guards run on the request's facts,
    before computed fields exist, so a test on any computed field is no guard.  The differential tests check it.
    """
    sources = {a.source for a in ruleset.aggregates.values()}
    computed = analyse(ruleset).computed_names  # not on the raw fact yet when the guards run
    if ruleset.batches:  # nor are a batch's figures (policy.batches)
        computed = {**computed, **{name: computed.get(name, frozenset()) | set(BATCH_FIELDS) for name in BATCH_LISTS}}
    per_list: dict[str, list[dict[str, Any]]] = {}
    unguarded: set[str] = set()
    for rule in ruleset.rules:
        for p in rule.patterns:
            tests = {f: v for f, v in _constant_tests(p).items() if f not in computed.get(p.fact, ())}
            if not tests:
                unguarded.add(p.fact)
            per_list.setdefault(p.fact, []).append(tests)
    return {
        name: tuple(tests)
        for name, tests in per_list.items()
        if name not in unguarded and name not in sources and name not in ruleset.aggregates
    }
