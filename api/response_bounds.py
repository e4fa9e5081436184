"""Bounds on what one evaluate response may cost to build, send and keep.

A request of tens of thousands of joinable facts can find tens of thousands of violations, each citing
the law's full text: one such request once produced a 165 MB answer.  Three bounds, all marked in the
response so nothing is cut silently (docs/contract-evaluate-v1.md, "Large responses"):

- at most ``MAX_VIOLATIONS`` violations are rendered (the engine does that; ``truncated`` says so);
- above ``SHARED_CITATIONS_FROM`` violations, or on ``?citations=shared``, each provision's text is
  sent once, in ``citation_texts``, and a violation's citations refer to it by ``text_ref``;
- the encoded response is at most ``MAX_RESPONSE_BYTES``: beyond, violations are dropped from the end
  (the least severe, in the contract's order) until it fits, and ``truncated`` says so.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable

CITATION_MODES = ("inline", "shared")


def text_ref(citation: dict[str, Any]) -> str:
    return f"{citation['instrument']}/{citation['eid']}"


def share_citations(result: dict[str, Any]) -> None:
    """Move each cited provision's text (and translation) to ``result["citation_texts"]``, once."""
    texts: dict[str, dict[str, str]] = result.setdefault("citation_texts", {})
    for violation in result["violations"]:
        for citation in violation.get("citations", ()):
            if "text" not in citation:
                continue
            ref = text_ref(citation)
            entry = {"text": citation.pop("text")}
            if "text_en" in citation:
                entry["text_en"] = citation.pop("text_en")
            texts.setdefault(ref, entry)
            citation["text_ref"] = ref


def encode_bounded(result: dict[str, Any], encode: Callable[[dict[str, Any]], str], max_bytes: int) -> bytes:
    """The response body, at most ``max_bytes``: violations dropped from the end (and marked) if need be."""
    data = encode(result).encode("utf-8")
    if len(data) <= max_bytes:
        return data
    found = result.get("truncated", {}).get("violations_found", len(result["violations"]))
    violations = result["violations"]
    while len(data) > max_bytes and violations:
        keep = int(len(violations) * max_bytes * 0.9 / len(data))  # sizes are roughly per violation
        violations = result["violations"] = violations[: min(keep, len(violations) - 1)]
        result["truncated"] = {
            "violations_returned": len(violations),
            "violations_found": found,
            "reason": "max_response_bytes",
        }
        data = encode(result).encode("utf-8")
    return data


def bound(result: dict[str, Any], citations: str | None, share_from: int) -> None:
    """Apply the citation mode: ``shared`` on request, or by default above ``share_from`` violations."""
    if citations == "shared" or (citations is None and len(result["violations"]) > share_from):
        share_citations(result)
