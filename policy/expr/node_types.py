"""The condition language's node types: the typed tree every other module of :mod:`policy.expr` reads.

Nodes are frozen dataclasses, so a parsed condition can be shared, hashed and cached with the rule
version that holds it.  :data:`NODE_TYPES` lists them all: every visitor
(:class:`policy.expr.visitor.Visitor`) has one handler for each, and a test fails when a node type is
added without one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping


class ExprError(ValueError):
    """A condition that does not parse or type-check; ``column`` is 1-based in the expression."""

    def __init__(self, message: str, column: int = 1, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.column = column
        self.hint = hint


@dataclass(frozen=True)
class Const:
    value: Any
    type: str  # number | string | boolean | date


@dataclass(frozen=True)
class FieldRef:
    alias: str
    name: str


@dataclass(frozen=True)
class ParamRef:
    name: str


@dataclass(frozen=True)
class AsOf:
    pass


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node = Const | FieldRef | ParamRef | AsOf | Neg | Not | Arith | Compare | BoolOp | Call
NODE_TYPES: tuple[type, ...] = (Const, FieldRef, ParamRef, AsOf, Neg, Not, Arith, Compare, BoolOp, Call)

FLIPPED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
NEGATED = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}

# The facts a condition reads, by alias (fact alias -> field -> value).
Bindings = Mapping[str, Mapping[str, Any]]
