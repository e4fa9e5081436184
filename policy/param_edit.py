"""A parameter changed in a ruleset's YAML in place: a new version whose file differs only where it must.

A regulator changing a figure on a rule's page (the 2,000 t capacity floor, say) gets a new version of the
file they would have written by hand: same comments, same layout, same line numbers, only the version name
and the parameter's value replaced.  The round-trip parser of ``ruamel.yaml`` (as in
:mod:`policy.next_year`) finds where each of those values is written; the value's own characters are then
replaced in the text, so nothing else of the file can move (re-emitting the whole document could, e.g.
strip trailing blanks of a line).  The result is loaded and validated like any other file, with PyYAML
(:mod:`policy.loader`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Mapping

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from policy.functions import from_day
from policy.model import Parameter

# A scalar as written on one line: quoted, or plain up to a comment, a comma or a closing bracket.
_SCALAR = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^']|'')*'|[^\s,#\]\}][^,#\]\}]*?(?=\s*(?:$|#|,|\]|\}))")


class EditError(ValueError):
    """The change cannot be made: the message says why, for the person who asked for it (in English; ``zh``
    the same in Chinese, for the rule page in Chinese, where the form is filled in)."""

    def __init__(self, message: str, zh: str | None = None):
        super().__init__(message)
        self.words = {"en": message, "zh": zh or message}


@dataclass(frozen=True)
class Change:
    """One parameter's value before and after, as the regulator reads them."""

    name: str
    before: str
    after: str


def shown(param: Parameter) -> str:
    """A parameter's value as written in YAML and shown on the pages (a date as YYYY-MM-DD, not a day number)."""
    if param.value is None:
        return "null"
    if param.type == "date":
        return from_day(param.value).isoformat()
    if param.type == "boolean":
        return "true" if param.value else "false"
    return str(param.value)


def parse_value(param: Parameter, text: str) -> Any:
    """The new value typed in a form, read as the parameter's type; EditError when it is not one."""
    text = text.strip()
    if param.type == "number":
        try:
            number = float(text.replace(",", "").replace("，", ""))
        except ValueError:
            raise EditError(f"{param.name}: {text!r} is not a number", f"{param.name}：{text!r} 不是数字") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise EditError(f"{param.name}: {text!r} is not a number", f"{param.name}：{text!r} 不是数字")
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if param.type == "date":
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise EditError(
                f"{param.name}: {text!r} is not a date YYYY-MM-DD", f"{param.name}：{text!r} 不是日期（YYYY-MM-DD）"
            ) from None
    if param.type == "boolean":
        if text.lower() not in ("true", "false"):
            raise EditError(
                f"{param.name}: {text!r} is not true or false", f"{param.name}：{text!r} 不是 true 或 false"
            )
        return text.lower() == "true"
    if not text:
        raise EditError(f"{param.name}: the text is empty", f"{param.name}：未填写")
    return text


def _yaml_scalar(value: Any) -> str:
    """The value as one YAML scalar: numbers and booleans plain, dates and texts double-quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.date):
        return f'"{value.isoformat()}"'
    return json.dumps(str(value), ensure_ascii=False)


def edit_parameters(source: str, version: str, values: Mapping[str, Any]) -> str:
    """``source`` with its ``version`` and the given parameters' values replaced, everything else as written."""
    try:
        doc = YAML(typ="rt").load(source)
    except YAMLError as exc:
        raise EditError(f"the ruleset's YAML cannot be read: {exc}") from None
    if not isinstance(doc, dict) or "version" not in doc:
        raise EditError("the ruleset has no `version`")
    mapping: Any = doc  # ruamel's CommentedMap: positions in .lc
    places = [(mapping.lc.value("version"), _yaml_scalar(version))]
    params = doc.get("parameters")
    for name, value in values.items():
        body = params.get(name) if isinstance(params, dict) else None
        if not isinstance(body, dict) or "value" not in body:
            raise EditError(f"the ruleset has no parameter {name!r} with a value")
        located: Any = body
        places.append((located.lc.value("value"), _yaml_scalar(value)))
    lines = source.splitlines(keepends=True)
    for (line, column), text in sorted(places, reverse=True):  # from the end: earlier positions stay valid
        found = _SCALAR.match(lines[line], column)
        if found is None:
            raise EditError(f"line {line + 1}: the value is not a one-line scalar; edit the file instead")
        lines[line] = lines[line][: found.start()] + text + lines[line][found.end() :]
    return "".join(lines)


def figures_in_texts(source: str, changes: list[Change]) -> list[tuple[int, str]]:
    """Lines of the new file that still state an old figure (a title saying "2000吨"): (line number, line).

    Texts are not rewritten: the regulator decides whether each one must change (as `repolicy new-notice`
    marks them ``# CHECK``).
    """
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.split("#", 1)[0]
        if re.match(r"\s*value:", stripped):
            continue
        for change in changes:
            if change.before and re.search(rf"(?<![\d.]){re.escape(change.before)}(?![\d.])", stripped):
                out.append((number, line.strip()))
                break
    return out
