"""Checks across lists that a schema cannot express: ids named must exist, ids must be unique."""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

from policy.facts import FACT_LISTS


_REFERRING = {
    name: tuple(wf for wf in lst.fields if wf.ref is not None or (name, wf.name) == ("reports", "reporter"))
    for name, lst in FACT_LISTS.items()
}


def reference_errors(facts: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, str]]:
    """Every reference to an id not in the request, and every duplicated id, with its path."""
    errors: list[dict[str, str]] = []
    ids: dict[str, set[str]] = {}
    for name, lst in FACT_LISTS.items():
        if lst.identity is None:
            continue
        seen: set[str] = set()
        for i, fact in enumerate(facts.get(name) or ()):
            value = fact[lst.identity]
            if value in seen:
                errors.append(
                    {"path": f"facts.{name}.{i}.{lst.identity}", "message": f"duplicate id {value!r} in {name}"}
                )
            seen.add(value)
        ids[name] = seen
    for name in FACT_LISTS:
        referring = _REFERRING[name]  # the fields that can name another fact (most fields cannot)
        for i, fact in enumerate(facts.get(name) or ()):
            for wf in referring:
                target = wf.ref
                if name == "reports" and wf.name == "reporter":
                    target = "groups" if fact.get("level") == "group" else "enterprises"
                value = fact.get(wf.name)
                if target is None or value is None:
                    continue
                if value not in ids.get(target, ()):
                    errors.append(
                        {
                            "path": f"facts.{name}.{i}.{wf.name}",
                            "message": f"{value!r} is not the id of any of the request's {target}",
                        }
                    )
    return errors
