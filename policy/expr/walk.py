"""Reading a tree without changing it: its nodes in order, the fields it reads, its ``and`` parts."""

from __future__ import annotations

from policy.expr.node_types import AsOf, Arith, BoolOp, Call, Compare, Const, FieldRef, Neg, Node, Not, ParamRef
from policy.expr.visitor import Visitor, handles


class _Children(Visitor[tuple[Node, ...]]):
    """The nodes directly below a node, in order of appearance."""

    @handles(Const, FieldRef, ParamRef, AsOf)
    def leaf(self, node: Node) -> tuple[Node, ...]:
        return ()

    @handles(Neg, Not)
    def unary(self, node: Neg | Not) -> tuple[Node, ...]:
        return (node.operand,)

    @handles(Arith, Compare)
    def binary(self, node: Arith | Compare) -> tuple[Node, ...]:
        return (node.left, node.right)

    @handles(BoolOp)
    def boolop(self, node: BoolOp) -> tuple[Node, ...]:
        return node.operands

    @handles(Call)
    def call(self, node: Call) -> tuple[Node, ...]:
        return node.args


_CHILDREN = _Children()


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly below ``node``, in order of appearance."""
    return _CHILDREN.visit(node)


def nodes(node: Node) -> list[Node]:
    """The node and all nodes below it, in order of appearance."""
    out: list[Node] = []

    def walk(n: Node) -> None:
        out.append(n)
        for c in _CHILDREN.visit(n):
            walk(c)

    walk(node)
    return out


def field_refs(node: Node) -> list[FieldRef]:
    """Every field the expression reads, in order of appearance."""
    return [n for n in nodes(node) if isinstance(n, FieldRef)]


def uses_as_of(node: Node) -> bool:
    """Whether the expression reads the evaluation date."""
    return any(isinstance(n, AsOf) for n in nodes(node))


class _Conjuncts(Visitor[list[Node]]):
    """An ``and`` is its operands' conjuncts; any other node (an ``or`` too) is one conjunct."""

    @handles(BoolOp)
    def boolop(self, node: BoolOp) -> list[Node]:
        if node.op != "and":
            return [node]
        out: list[Node] = []
        for o in node.operands:
            out.extend(self.visit(o))
        return out

    @handles(Compare, FieldRef, Const, ParamRef, AsOf, Neg, Not, Arith, Call)
    def part(self, node: Node) -> list[Node]:
        return [node]


_CONJUNCTS = _Conjuncts()


def conjuncts(node: Node) -> list[Node]:
    """The top-level ``and`` parts of a condition (after ``not`` is pushed down)."""
    return _CONJUNCTS.visit(node)
