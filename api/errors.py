"""Every error leaves the service as JSON, at this one boundary.

Body: ``{"error": CODE, "message": TEXT, "errors": [{"path", "message"}]}``.
A 500 carries the request id and, for an evaluation, the decision id (also
in ``X-Decision-Id``), and the traceback is logged with both, so an operator
can find the failed request from what the caller received.
"""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from policy.ids import new_id

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error the API reports to the caller with a status code."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        errors: list[dict] | None = None,
        headers: dict[str, str] | None = None,
        **extra,
    ):
        super().__init__(message)
        self.status, self.code, self.message, self.errors, self.extra = status, code, message, errors, extra
        self.headers = headers or {}


def error_body(code: str, message: str, errors: list[dict] | None = None, **extra) -> dict:
    body = {"error": code, "message": message}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return body


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return jsonify(error_body(exc.code, exc.message, exc.errors, **exc.extra)), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
        )
        message = exc.description or exc.name
        if exc.code == 413:
            message = f"request body over the limit of {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = jsonify(error_body(code, message))
        response.status_code = exc.code or 500
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        ids = {"request_id": g.get("request_id")}
        decision_id = g.get("decision_id")
        if decision_id is None and request.endpoint == "evaluate.evaluate":
            # the evaluation failed before it had its id: name it now (the access log and header use g)
            decision_id = g.decision_id = new_id()
        if decision_id is not None:
            ids["decision_id"] = decision_id
        log.exception(
            "unexpected error on %s %s (request %s, decision %s)",
            request.method,
            request.path,
            ids["request_id"],
            decision_id,
            extra={**ids, "path": request.path},
        )
        return jsonify(error_body("internal_error", "the service failed on this request", **ids)), 500
