"""Conditions written out: in the rule language (:func:`to_text`), and with the values a match compared
(:func:`explain`, :func:`compile_explanation`).  :mod:`policy.plain` renders the same trees in plain
Chinese and English on the same :class:`~policy.expr.visitor.Visitor`.

A renderer here returns *parts*: literal text, and (for explanations) closures that give a value's text
for one match.  Printing is joining the parts; an explanation is compiled once per rule version into one
format template and its value closures, so writing a finding's explanation evaluates only the values it
shows (a violation's ``explanation`` was 25 of 79 ms of shaping on the large bench request when the
tree was walked for every finding).
"""

from __future__ import annotations

from typing import Any, cast
from collections.abc import Callable, Mapping, Sequence

from policy.expr.compiler import compile_py
from policy.expr.node_types import (
    NODE_TYPES,
    AsOf,
    Arith,
    Bindings,
    BoolOp,
    Call,
    Compare,
    Const,
    FieldRef,
    Neg,
    Node,
    Not,
    ParamRef,
)
from policy.expr.parser import Scope, type_of
from policy.expr.visitor import Visitor, handles
from policy.functions import UnknownValue

ValueText = Callable[[Bindings, Mapping[str, Any], "int | None"], str]
Part = str | ValueText
Show = Callable[[Any, str, Node], str]  # (value, condition-level type, node) -> text
Explanation = Callable[[Bindings, Mapping[str, Any], "int | None"], str]


def _show_plain(value: Any, vtype: str, node: Node) -> str:
    return str(value)


class _Text(Visitor[list[Part]]):
    """The expression in the rule language, fully parenthesised, as parts."""

    @handles(Const)
    def const(self, node: Const) -> list[Part]:
        if node.type == "string":
            return [repr(node.value)]
        return [str(node.value).lower() if node.type == "boolean" else str(node.value)]

    @handles(FieldRef)
    def field(self, node: FieldRef) -> list[Part]:
        return [f"{node.alias}.{node.name}"]

    @handles(ParamRef)
    def param(self, node: ParamRef) -> list[Part]:
        return [f"params.{node.name}"]

    @handles(AsOf)
    def as_of(self, node: AsOf) -> list[Part]:
        return ["as_of"]

    @handles(Neg)
    def neg(self, node: Neg) -> list[Part]:
        return ["-", *self.visit(node.operand)]

    @handles(Not)
    def not_(self, node: Not) -> list[Part]:
        return ["not (", *self.visit(node.operand), ")"]

    @handles(Arith, Compare)
    def binary(self, node: Arith | Compare) -> list[Part]:
        return ["(", *self.visit(node.left), f" {node.op} ", *self.visit(node.right), ")"]

    @handles(BoolOp)
    def boolop(self, node: BoolOp) -> list[Part]:
        return ["(", *self.joined(node.operands, f" {node.op} "), ")"]

    @handles(Call)
    def call(self, node: Call) -> list[Part]:
        return [f"{node.func}(", *self.joined(node.args, ", "), ")"]

    def joined(self, items: tuple[Node, ...], separator: str) -> list[Part]:
        out: list[Part] = []
        for i, item in enumerate(items):
            if i:
                out.append(separator)
            out.extend(self.visit(item))
        return out


class _Explanation(_Text):
    """The condition with the value of each field, parameter, date and call beside it, e.g.
    ``quota.amount_t_reo (5,000) < produced.amount_t_reo (5,320)``; comparisons and arithmetic are not
    parenthesised (``and`` / ``or`` groups are)."""

    def __init__(self, show: Show, scope: Scope | None):
        self.show, self.scope = show, scope
        self.values: dict[Node, ValueText] = {}  # one closure per distinct node: a value shown twice is read once

    def value(self, node: Node) -> ValueText:
        """The node's value as ``show`` writes it for one match, ``?`` when unknown."""
        if node not in self.values:
            self.values[node] = self._value(node)
        return self.values[node]

    def _value(self, node: Node) -> ValueText:
        show = self.show
        vtype = type_of(node, self.scope) if self.scope is not None else ""
        if isinstance(node, FieldRef):  # most values shown: read directly (as compile_py reads a field)
            alias, name = node.alias, node.name

            def field(facts: Bindings, params: Mapping[str, Any], as_of: int | None) -> str:
                fact = facts.get(alias)
                v = fact.get(name) if fact is not None else None
                return "?" if v is None else show(v, vtype, node)

            return field
        fn = compile_py(node)

        def value(facts: Bindings, params: Mapping[str, Any], as_of: int | None) -> str:
            try:
                v = fn(facts, params, as_of)
            except UnknownValue:
                return "?"
            return show(v, vtype, node)

        return value

    @handles(FieldRef, ParamRef, AsOf)
    def read(self, node: Node) -> list[Part]:
        return [*_TEXT.visit(node), " (", self.value(node), ")"]

    @handles(Arith, Compare)
    def binary(self, node: Arith | Compare) -> list[Part]:
        return [*self.visit(node.left), f" {node.op} ", *self.visit(node.right)]

    @handles(Call)
    def call(self, node: Call) -> list[Part]:
        return [*super().call(node), " = ", self.value(node)]


_TEXT = _Text()


def to_text(node: Node) -> str:
    """The expression written back in the rule language (for messages and docs)."""
    # _Text gives text parts only (it shows no value closures)
    return "".join(cast(list[str], _TEXT.visit(node)))


def _assemble(parts: list[Part]) -> Explanation:
    """Parts as one function of a match: a format template filled with the value closures' texts (a closure
    that appears twice, the same node shown twice, is called once)."""
    values: list[ValueText] = []
    template = []
    for p in parts:
        if isinstance(p, str):
            template.append(p.replace("{", "{{").replace("}", "}}"))
        else:
            if p not in values:
                values.append(p)
            template.append(f"{{{values.index(p)}}}")
    if not values:
        text = "".join(cast(list[str], parts))  # no value closures: every part is text
        return lambda facts, params, as_of: text
    fill, getters = "".join(template).format, tuple(values)
    return lambda facts, params, as_of: fill(*[v(facts, params, as_of) for v in getters])


def compile_explanation(
    node: Node | Sequence[Node], show: Show = _show_plain, scope: Scope | None = None, separator: str = " and "
) -> Explanation:
    """:func:`explain` compiled once: a function ``(facts, params, as_of) -> text``.

    Given several conditions (a rule's ``where`` clauses), their explanations joined by ``separator``."""
    explanation = _Explanation(show, scope)
    parts: list[Part] = []
    # not a node, so by the signature a sequence of nodes
    for i, n in enumerate([node] if isinstance(node, NODE_TYPES) else cast(Sequence[Node], node)):
        if i:
            parts.append(separator)
        parts.extend(explanation.visit(n))
    return _assemble(parts)


def explain(
    node: Node,
    facts: Bindings,
    params: Mapping[str, Any],
    as_of: int | None = None,
    show: Show = _show_plain,
    scope: Scope | None = None,
) -> str:
    """The condition written out with the values it compared, e.g.
    ``quota.amount_t_reo (5,000) < produced.amount_t_reo (5,320)``; unknown values show as ``?``.

    ``show`` writes a known value (given its condition-level type under ``scope``, or "" without one).
    For many matches of one condition, :func:`compile_explanation` once and call the result."""
    return compile_explanation(node, show, scope)(facts, params, as_of)
