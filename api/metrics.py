"""Prometheus metrics: requests and latency by endpoint and status, evaluations, violations by rule,
ruleset versions loaded.  ``GET /metrics`` in the Prometheus text format.

Under gunicorn every worker is a process: ``api.serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before the
app is imported, and ``/metrics`` then aggregates all workers (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
import threading
import time

from flask import Flask, Response, g, request
from types import SimpleNamespace

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

_metrics: SimpleNamespace | None = None
_lock = threading.Lock()


def _m() -> SimpleNamespace:
    """The metric objects, created on first use: after ``api.serve`` has set PROMETHEUS_MULTIPROC_DIR,
    whatever was imported before (prometheus_client picks its value storage when imported)."""
    global _metrics
    if _metrics is not None:
        return _metrics
    with _lock:  # two first requests at once in a fresh worker must not register the metrics twice
        if _metrics is not None:
            return _metrics
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            values.ValueClass = values.get_value_class()
        _metrics = SimpleNamespace(
            requests=Counter("repolicy_http_requests_total", "HTTP requests", ["endpoint", "method", "status"]),
            latency=Histogram(
                "repolicy_http_request_seconds",
                "HTTP request latency",
                ["endpoint"],
                buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
            ),
            evaluations=Counter("repolicy_evaluations_total", "Evaluations", ["outcome"]),
            violations=Counter("repolicy_violations_total", "Violations found", ["ruleset", "rule", "severity"]),
            rulesets=Gauge(
                "repolicy_ruleset_versions_loaded",
                "Ruleset versions compiled in this process",
                ["status"],
                multiprocess_mode="livemax",
            ),
            quarantined=Counter(
                "repolicy_decision_log_quarantined_total",
                "Decision records that could not be written, kept aside in the quarantine file",
            ),
        )
    return _metrics


def observe_evaluation(result: dict) -> None:
    """Count the evaluation and its violations: one increment per distinct label set, not per violation
    (each increment takes a lock and, under gunicorn, writes the worker's metrics file)."""
    m = _m()
    m.evaluations.labels("ok").inc()
    counts: dict[tuple[str, str, str], int] = {}
    for v in result["violations"]:
        key = (v["ruleset"], v["rule"], v["severity"])
        counts[key] = counts.get(key, 0) + 1
    for key, n in counts.items():
        m.violations.labels(*key).inc(n)


def install(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _count(response):
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        m = _m()
        m.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if hasattr(g, "started"):
            m.latency.labels(endpoint).observe(time.perf_counter() - g.started)
        return response

    @app.get("/metrics")
    def metrics() -> Response:
        runtime = app.extensions["repolicy"]
        counts: dict[str, int] = {}
        for rs in runtime.registry.all():
            status = runtime.registry.status(rs.ref)
            counts[status] = counts.get(status, 0) + 1
        for status in ("draft", "active", "retired"):
            _m().rulesets.labels(status).set(counts.get(status, 0))
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)


def observe_quarantined() -> None:
    """A decision record kept aside because it could not be written (api.decision_log)."""
    _m().quarantined.inc()
