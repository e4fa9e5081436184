"""Rewrites for the engine: ``not`` pushed down to comparisons, a comparison solved for one fact's field.

durable_rules has no negation of a sub-condition and tests one fact's field against an expression, so
the compiler (:mod:`engine.compiler`) rewrites conditions into that shape first.  Both rewrites keep the
meaning under the language's three-valued logic.
"""

from __future__ import annotations

from policy.expr.node_types import (
    NEGATED,
    FLIPPED,
    AsOf,
    Arith,
    BoolOp,
    Call,
    Compare,
    Const,
    ExprError,
    FieldRef,
    Neg,
    Node,
    Not,
    ParamRef,
)
from policy.expr.visitor import Visitor, handles
from policy.expr.walk import field_refs


class _PushNot(Visitor[Node]):
    """A condition with ``not`` removed, negated when ``negate``: De Morgan, comparisons inverted."""

    @handles(Not)
    def not_(self, node: Not, negate: bool) -> Node:
        return self.visit(node.operand, not negate)

    @handles(BoolOp)
    def boolop(self, node: BoolOp, negate: bool) -> Node:
        op = node.op if not negate else ("or" if node.op == "and" else "and")
        return BoolOp(op, tuple(self.visit(o, negate) for o in node.operands))

    @handles(Compare)
    def compare(self, node: Compare, negate: bool) -> Node:
        return Compare(NEGATED[node.op], node.left, node.right) if negate else node

    @handles(FieldRef, Const)
    def boolean(self, node: Node, negate: bool) -> Node:  # a boolean used as a condition
        return Compare("==", node, Const(not negate, "boolean"))

    @handles(ParamRef, AsOf, Neg, Arith, Call)
    def not_a_condition(self, node: Node, negate: bool) -> Node:  # pragma: no cover - type checker prevents it
        raise ExprError(f"not a condition: {node}")


_PUSH_NOT = _PushNot()


def push_not(node: Node, negate: bool = False) -> Node:
    """Rewrite so that ``not`` appears nowhere: De Morgan, comparisons inverted.

    Sound under three-valued logic: ``not`` maps unknown to unknown, and
    ``not (x < 5)`` and ``x >= 5`` agree on known x and are both unknown otherwise.
    """
    return _PUSH_NOT.visit(node, negate)


def isolate(node: Compare, alias: str) -> Compare | None:
    """Rewrite a comparison so its left side is a plain field of ``alias``, or None if impossible.

    The engine tests one fact's field against an expression, so
    ``a.filed_on - a.issued_on > 14`` becomes ``a.filed_on > a.issued_on + 14``.
    Only + and - are moved across (exact for the numbers and day counts used here).
    """

    def own(n: Node) -> bool:
        return isinstance(n, FieldRef) and n.alias == alias

    def reads_alias(n: Node) -> bool:
        return any(r.alias == alias for r in field_refs(n))

    op, left, right = node.op, node.left, node.right
    for _ in range(8):
        if own(left):
            return Compare(op, left, right)
        if own(right) or (reads_alias(right) and not reads_alias(left)):
            left, right, op = right, left, FLIPPED[op]
            continue
        if isinstance(left, Arith) and left.op in ("+", "-"):
            # The sum or difference gets its own name: each rewrite below reassigns ``left`` while
            # still reading the old one's operands.
            moved = left
            if reads_alias(moved.left):  # (x + k) op r  ->  x op r - k
                inverse = "-" if moved.op == "+" else "+"
                left, right = moved.left, Arith(inverse, right, moved.right)
                continue
            if reads_alias(moved.right):
                if moved.op == "+":  # (k + x) op r  ->  x op r - k
                    left, right = moved.right, Arith("-", right, moved.left)
                else:  # (k - x) op r  ->  x flip(op) k - r
                    left, right, op = moved.right, Arith("-", moved.left, right), FLIPPED[op]
                continue
        return None
    return None
