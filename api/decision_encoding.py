"""The decision log's encoder: what the request path queues for a decision, and the table row made of it.

The request path queues the bytes it already has: the request body as received and the response body as
sent.  The row stores them as they are (decoded as UTF-8, which both are: a body that is not was refused
with a 400) and digests the received bytes, so nothing is serialised twice and a caller can check the
digest against the bytes it sent (``sha256:`` of them).  Where no bytes are given (the CLI, tests, the
replay of an old caller) the objects are serialised here, with orjson (:mod:`policy.jsonio`), and the
input's digest is that of its canonical JSON (sorted keys), as every decision logged before the bytes
were kept.  Either way, reading a row (:func:`read_shape`, and the store) parses the same JSON texts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from policy import jsonio

QUEUED_MARK = "_result"  # a queued decision has it; a table row (already encoded) does not


def canonical_digest(body: Any) -> str:
    """The digest of a body given as an object: sha256 of its canonical JSON (sorted keys, compact)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def bytes_digest(data: bytes) -> str:
    """The digest of a body as received."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def queued(
    *,
    decision_id: str,
    at: dt.datetime,
    caller: str | None,
    result: dict[str, Any],
    keep_input: bool,
    body: Any = None,
    body_bytes: bytes | None = None,
    response_bytes: bytes | None = None,
) -> dict[str, Any]:
    """A decision as the request path queues it: cheap to make (no serialising, no digest)."""
    return {
        "decision_id": decision_id,
        "at": at,
        "caller": caller,
        "as_of": result["as_of"],
        "_body": body,
        "_body_bytes": body_bytes,
        QUEUED_MARK: result,
        "_response_bytes": response_bytes,
        "_full": keep_input,
    }


def _text(obj: Any) -> str:
    """JSON text of an object (raises for what JSON or UTF-8 cannot hold: a set, a lone surrogate)."""
    return jsonio.dumps(obj).decode("utf-8")


def table_row(row: dict[str, Any]) -> dict[str, Any]:
    """The table row of a queued decision (a row already encoded is returned as is).

    Runs in the writer (or spool) thread, off the request path: sha256 of a large body releases the GIL.
    Raises for a record that cannot be stored; the caller quarantines it.
    """
    if QUEUED_MARK not in row:
        return row
    result, raw_body, sent = row[QUEUED_MARK], row.get("_body_bytes"), row.get("_response_bytes")
    if raw_body is not None:
        input_text = raw_body.decode("utf-8") if row["_full"] else None
        digest = bytes_digest(raw_body)
    else:
        input_text = _text(row["_body"]) if row["_full"] else None
        digest = canonical_digest(row["_body"])
    return {
        "decision_id": row["decision_id"],
        "at": row["at"],
        "caller": row["caller"],
        "as_of": row["as_of"],
        "rulesets": _text([{k: r[k] for k in ("id", "version", "digest")} for r in result["rulesets"]]),
        "input": input_text,
        "input_digest": digest,
        "result": sent.decode("utf-8") if sent is not None else _text(result),
        "violations": len(result["violations"]),
    }


def read_shape(row: dict[str, Any]) -> dict[str, Any]:
    """A queued decision or table row in the shape ``GET /v1/decisions/{id}`` gives (as the store reads it)."""
    row = table_row(row)
    return {
        "decision_id": row["decision_id"],
        "at": row["at"].isoformat(),
        "caller": row["caller"],
        "as_of": row["as_of"],
        "rulesets": jsonio.loads(row["rulesets"]),
        "input": jsonio.loads(row["input"]) if row["input"] is not None else None,
        "input_digest": row["input_digest"],
        "result": jsonio.loads(row["result"]),
        "violations": row["violations"],
    }


def escaped(value: Any) -> str:
    """JSON text of anything, ASCII only: a lone surrogate becomes ``\\ud800``, bytes and objects their repr."""
    try:
        return json.dumps(value, ensure_ascii=True, default=repr)
    except (TypeError, ValueError, RecursionError):
        return json.dumps(repr(value))
