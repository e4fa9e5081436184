"""The checks of an evaluate body, without HTTP: used by ``POST /v1/evaluate``, the scenario runner
(and so the command line) and impact analysis alike.

A body that fails raises :class:`InvalidEvaluateRequest`, a plain exception; the HTTP edge
(:mod:`api.evaluate`) turns it into the contract's 400 or 413.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError

from api.references import reference_errors
from api.schemas import EvaluateRequestSchema, flatten_errors

_schema = EvaluateRequestSchema()


class InvalidEvaluateRequest(Exception):
    """An evaluate body that does not pass the checks: ``code`` (``invalid_request``, or ``too_many_facts``
    when over the size limit), a message, and each problem with its field path."""

    def __init__(self, code: str, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code, self.message, self.errors = code, message, errors

    @property
    def too_large(self) -> bool:
        return self.code == "too_many_facts"


def validate_request(body: dict, max_facts: int) -> dict:
    """Schema, size and reference checks of an evaluate body; raise InvalidEvaluateRequest with every problem."""
    try:
        data = _schema.load(body)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        raise InvalidEvaluateRequest("invalid_request", f"{len(errors)} invalid field(s)", errors) from None
    facts = data["facts"]
    count = sum(len(v) for v in facts.values())
    if count > max_facts:
        raise InvalidEvaluateRequest("too_many_facts", f"{count} facts, over the limit of {max_facts} per request")
    errors = reference_errors(facts)
    if errors:
        raise InvalidEvaluateRequest("invalid_request", f"{len(errors)} invalid reference(s)", errors)
    return data


def request_as_of(data: dict) -> dt.date:
    """The date obligations are judged at: the request's ``as_of``, by default today (contract)."""
    return dt.date.fromisoformat(data["as_of"]) if "as_of" in data else dt.date.today()
