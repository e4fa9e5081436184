"""Safe YAML loading that remembers where each value came from.

Regulators edit rulesets by hand, so every validation error must point at a
line and column.  PyYAML's safe loader builds plain Python objects and forgets
positions; this loader keeps them: every mapping becomes a :class:`LocatedDict`
that knows the line/column of itself and of each of its keys.

It is also the first defence against hostile YAML: only the safe constructors
are used (no Python objects), documents over a size limit are refused, and
anchors/aliases are refused outright (they serve no purpose in a ruleset and
are the vector of "billion laughs" expansion attacks).  Dates stay strings:
the ruleset model parses them itself, with its own error messages.  Nesting
deeper than :data:`MAX_DEPTH` (PyYAML composes recursively), integers longer
than :data:`MAX_INT_DIGITS` digits (Python refuses to convert 4,300 and more,
and the engine holds 64-bit integers), ``.nan`` and ``.inf`` (a NaN parameter
makes every comparison false: no finding, silently) and text with a lone
surrogate (a ``"\\ud800"`` escape: it cannot be stored) are refused with their line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml

from policy.text import SURROGATE_MESSAGE, has_lone_surrogate

MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64  # shipped rulesets nest at most 8 levels
MAX_INT_DIGITS = 18  # within the engine's 64-bit integers


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a source file."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


class LocatedDict(dict):
    """A dict that remembers the location of itself and of each key's value."""

    location: Location
    key_locations: dict[str, Location]

    def where(self, key: str | None = None) -> Location:
        if key is not None and key in self.key_locations:
            return self.key_locations[key]
        return self.location


class LocatedList(list):
    """A list that remembers its own location and each item's."""

    location: Location
    item_locations: list[Location]

    def where(self, index: int | None = None) -> Location:
        if index is not None and 0 <= index < len(self.item_locations):
            return self.item_locations[index]
        return self.location


class YamlSourceError(ValueError):
    """The text is not a YAML document this service will read."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.location = location
        self.hint = hint


# PyYAML's words for the mistakes people make in hand-written files, and what to do about each.
_SYNTAX_HINTS = (
    (
        "but got ':'",
        "a text containing a colon inside {...} must be quoted ('...'); in Chinese text use the full-width colon ："
        " / {...} 中含冒号的文本须加引号或改用全角冒号",
    ),
    (
        "mapping values are not allowed",
        "a text containing a colon followed by a space (\": \") must be quoted ('...') or written as a "
        "block (|-); in Chinese law text use the full-width colon ：/ 含有“: ”的文本须加引号或改用全角冒号",
    ),
    ("found character '\\t'", "indent with spaces, not tabs / 请用空格缩进，不要用制表符"),
    (
        "could not find expected ':'",
        "a key is missing its colon, or a quoted text is not closed / 键缺少冒号或引号未闭合",
    ),
    ("expected <block end>", "the indentation of this line does not match the lines above / 本行缩进与上文不一致"),
    ("found undefined alias", "`*` starts an alias: quote the text / `*` 开头的文本须加引号"),
    ("found unexpected end of stream", "a quoted text is not closed / 引号未闭合"),
)


def syntax_hint(problem: str) -> str | None:
    """A hint for a PyYAML syntax problem, or None when there is no better advice than the message."""
    for words, hint in _SYNTAX_HINTS:
        if words in problem:
            return hint
    return None


def _loc(node: yaml.Node) -> Location:
    return Location(node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader without implicit timestamps and with locations kept."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if self.check_event(yaml.AliasEvent):
            raise YamlSourceError(
                "anchors and aliases (*name) are not allowed in rulesets",
                Location(event.start_mark.line + 1, event.start_mark.column + 1),
            )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YamlSourceError(
                    f"nested more than {MAX_DEPTH} levels deep",
                    Location(event.start_mark.line + 1, event.start_mark.column + 1),
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_yaml_str(self, node):
        value = super().construct_yaml_str(node)
        if has_lone_surrogate(value):
            raise YamlSourceError(f"text {SURROGATE_MESSAGE}", _loc(node))
        return value

    def construct_yaml_int(self, node):
        digits = len(node.value.replace("_", "").lstrip("+-"))
        if digits > MAX_INT_DIGITS:
            raise YamlSourceError(f"integer of {digits} digits: at most {MAX_INT_DIGITS} are read", _loc(node))
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise YamlSourceError(f"{node.value} is not a finite number", _loc(node))
        return value

    def construct_mapping(self, node, deep=False):
        if not isinstance(node, yaml.MappingNode):  # pragma: no cover - defensive
            raise YamlSourceError("expected a mapping", _loc(node))
        result = LocatedDict()
        result.location = _loc(node)
        result.key_locations = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise YamlSourceError("a mapping key must be a plain scalar", _loc(key_node))
            key = str(key)
            if key in result:
                raise YamlSourceError(f"duplicate key {key!r}", _loc(key_node))
            result[key] = self.construct_object(value_node, deep=True)
            result.key_locations[key] = _loc(value_node)
        return result

    def construct_sequence(self, node, deep=False):
        result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        result.location = _loc(node)
        result.item_locations = [_loc(child) for child in node.value]
        return result


# Dates and times stay strings: "2021-09-01" is parsed by the model, not by YAML.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# Booleans are only true/false (YAML 1.2): in YAML 1.1 `on`, `no`, `yes` are booleans, a trap for editors.
for _first in list(_Loader.yaml_implicit_resolvers):
    _Loader.yaml_implicit_resolvers[_first] = [
        (tag, regexp) for tag, regexp in _Loader.yaml_implicit_resolvers[_first] if tag != "tag:yaml.org,2002:bool"
    ]
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)
_Loader.add_constructor("tag:yaml.org,2002:str", _Loader.construct_yaml_str)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def load_yaml(text: str | bytes, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Parse one YAML document safely, keeping locations; raise YamlSourceError."""
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if len(raw) > max_bytes:
        raise YamlSourceError(f"document is {len(raw)} bytes, over the limit of {max_bytes}")
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSourceError(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(decoded, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except YamlSourceError:
        raise
    except RecursionError:  # MAX_DEPTH keeps it far away; a last guard all the same
        raise YamlSourceError(f"nested too deeply (at most {MAX_DEPTH} levels)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(mark.line + 1, mark.column + 1) if mark else None
        problem = exc.problem or exc.context or "syntax error"
        raise YamlSourceError(f"YAML syntax: {problem}", loc, syntax_hint(problem)) from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(f"YAML: {exc}") from None
