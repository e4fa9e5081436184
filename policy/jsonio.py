"""JSON reading and writing with orjson, giving what the standard library gives.

The service reads and writes JSON on every evaluation (the request body, the
engine's fact batches and matches, the response); the standard library's
``json`` costs 10-20x orjson there.  These functions use orjson and fall back
to ``json`` for whatever orjson would treat differently, so callers see the
same values, the same bytes and the same exceptions as before:

- integers of 19 digits or more: orjson reads integers beyond 64 bits as
  floats, ``json`` as ints, so a body with such a digit run is read by ``json``;
- anything orjson refuses (``NaN``, ``1e400``, lone surrogate escapes, nesting
  deeper than 1,024, non-string keys, integers beyond 64 bits, types it does
  not know): ``json`` does it, or raises its own error with its own message.

One legitimate difference remains in what is written: a nonzero float below
1e-4 in magnitude may be written in another form (orjson ``0.000015`` and
``1e-7`` where ``json`` writes ``1.5e-05`` and ``1e-07``); both read back as
the same double.  Every other float is written alike (``0.1``, ``1e+16``,
``1500.0``).
"""

from __future__ import annotations

import json
from typing import Any
from collections.abc import Callable

import orjson

# A run of 19 ASCII digits or more, found with two C passes (every digit to "0", everything else to a
# space, then a substring search): ``re.search(r"\d{19}")`` tries a match at every digit and cost more
# than parsing (250 us on a 4 KB body, 160 ms on a 1.8 MB one, against 30 us and 12 ms).  Only ASCII
# digits make JSON numbers; a run inside a string merely sends that text to ``json`` (same value).
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19


def _has_long_digit_run(data: bytes | bytearray | str) -> bool:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    return _LONG_RUN in raw.translate(_DIGITS_AS_ZERO)


def loads(data: bytes | str, **stdlib_options: Any) -> Any:
    """Parse JSON text or UTF-8 bytes to the same value ``json.loads(data, **stdlib_options)`` gives.

    ``stdlib_options`` (e.g. ``parse_constant``) apply where ``json`` reads:
    orjson never accepts what those hooks would see (``NaN``, ``Infinity``).
    """
    if not _has_long_digit_run(data):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data, **stdlib_options)


def dumps(obj: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Compact UTF-8 JSON (no ``\\u`` escapes beyond those JSON requires), keys in insertion order.

    The bytes of ``json.dumps(obj, separators=(",", ":"), ensure_ascii=False,
    default=default).encode()`` (but for the small floats in the module
    docstring).  Dates and dataclasses go to ``default`` as they do in ``json``.
    """
    try:
        return orjson.dumps(
            obj, default=default, option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
        )
    except orjson.JSONEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=default).encode("utf-8")


def dumps_text(obj: Any) -> str:
    """:func:`dumps` as a ``str`` (for the durable_rules C module, which takes text)."""
    return dumps(obj).decode("utf-8")
