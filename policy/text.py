"""Text that can be stored and sent back: no lone surrogates.

A JSON ``"\\ud800"`` escape or a YAML ``"\\ud800"`` escape decodes to a Python string holding half of a
UTF-16 pair.  Such a string cannot be encoded as UTF-8: the database, the decision log, the JSON
response and durable_rules all fail on it, far from where it came in.  It is refused where text enters
(request JSON, ruleset YAML), with the path or line of the value.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Iterator

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text a surrogate can only come from a \\uD800-\\uDFFF escape (UTF-8 cannot encode one).
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
SURROGATE_MESSAGE = "contains a lone surrogate (half of a UTF-16 pair): not valid Unicode text"


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a code point U+D800..U+DFFF (always unpaired in a Python string)."""
    return not text.isascii() and LONE_SURROGATE.search(text) is not None


def printable_key(key: str) -> str:
    """A key as it can be shown in an error path (surrogates escaped)."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def surrogate_paths(value: Any) -> Iterator[str]:
    """Paths (``facts.enterprises.0.name``; ``$`` for the top) of the strings and keys in a JSON value that
    hold a lone surrogate, without recursion (the value may be nested deeply)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if type(item) is str:
            if has_lone_surrogate(item):
                yield path or "$"
        elif type(item) is dict:
            for key, child in item.items():
                child_path = f"{path}.{printable_key(key)}" if path else printable_key(key)
                if has_lone_surrogate(key):
                    yield child_path
                stack.append((child, child_path))
        elif type(item) is list:
            stack.extend((child, f"{path}.{i}" if path else str(i)) for i, child in enumerate(item))
