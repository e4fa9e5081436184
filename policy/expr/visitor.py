"""One dispatch on node type, written once, for every walk over a condition tree.

A visitor is a class whose methods are marked with :func:`handles`; :meth:`Visitor.visit` calls the
method marked for the node's exact type.  Each concrete visitor handles every type in
:data:`policy.expr.node_types.NODE_TYPES` (a handler may be marked for several), which
``tests/test_expr_visitors.py`` checks for every subclass, so a new node type cannot be forgotten by
one walk and silently mishandled.
"""

from __future__ import annotations

from typing import Any, ClassVar, Generic, TypeVar
from collections.abc import Callable

from policy.expr.node_types import NODE_TYPES

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])


def handles(*types: type) -> Callable[[F], F]:
    """Mark a visitor method as the handler of ``types`` (node classes)."""

    def mark(method: F) -> F:
        method._handles = types  # type: ignore[attr-defined]
        return method

    return mark


class Visitor(Generic[R]):
    """Base of every walk over nodes: ``visit(node, *args)`` dispatches on ``type(node)``.

    The dispatch table is built once per class from the methods marked with :func:`handles` (a subclass
    may override a handler by marking its own method for the same type).
    """

    _dispatch: ClassVar[dict[type, Callable[..., Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, Callable[..., Any]] = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for node_type in getattr(attr, "_handles", ()):
                    table[node_type] = attr
        cls._dispatch = table

    def visit(self, node: Any, *args: Any) -> R:
        handler = self._dispatch.get(type(node))
        if handler is None:
            raise TypeError(f"{type(self).__name__} has no handler for {type(node).__name__}")
        return handler(self, node, *args)


def missing_handlers(visitor: type[Visitor]) -> list[type]:
    """The node types ``visitor`` has no handler for (empty for a complete visitor)."""
    return [t for t in NODE_TYPES if t not in visitor._dispatch]
