"""Structured JSON logs, one object a line, each request with its request id and decision id."""

from __future__ import annotations

import logging
import sys
import time

from flask import Flask, g, request
from pythonjsonlogger.json import JsonFormatter

from policy.ids import new_id

log = logging.getLogger("repolicy.request")


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def install(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or new_id()
        g.t0 = time.perf_counter()

    @app.after_request
    def _access_log(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        decision = g.get("decision_id")
        if decision:
            response.headers["X-Decision-Id"] = decision
        if not log.isEnabledFor(logging.INFO):  # the record's fields cost more than the check
            return response
        log.info(
            "request",
            extra={
                "request_id": g.get("request_id"),
                "decision_id": decision,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "ms": round((time.perf_counter() - g.get("t0", time.perf_counter())) * 1000, 2),
                "caller": getattr(g.get("principal"), "name", None),
            },
        )
        return response
