"""The Flask application factory.

``create_app(config=None, settings=None)`` loads the instruments and rulesets, validates and
compiles them (a shipped ruleset that does not validate stops start-up with
every issue listed), and registers the endpoints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from collections.abc import Mapping

import logging

from flask import Flask

from api.config import Settings, load_settings, split_overrides, spool_dir
from api.errors import register_error_handlers
from api.evaluate import bp as evaluate_bp
from api.json_provider import OrjsonProvider
from api import logs, metrics, openapi, rate_limit, server_errors, web_security
from api.body_limit import ChunkedBodyLimit
from api.auth import load_tokens
from api.decision_log import DecisionLog
from api.decisions import bp as decisions_bp
from api.impact import bp as impact_bp
from api.retention import Retention
from api.legal import bp as legal_bp
from api.ui import bp as ui_bp
from api.ruleset_versions import bp as registry_bp
from api.instrument_registry import bp as instrument_registry_bp
from api.operations import describe_error
from api.reload import RegistryPoller
from api.runtime import Runtime
from engine import Layout
from policy.store import SQLAlchemyError


log = logging.getLogger(__name__)


def create_app(config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """The application for ``settings`` (by default :func:`api.config.load_settings`), with ``config``
    applied over them: keys of settings (``MAX_FACTS``) are checked against the setting's type, other
    keys (``RUNTIME``: a prepared :class:`Runtime`, ``TESTING``) go to the Flask config as they are."""
    overrides, flask_config = split_overrides(config)
    settings = (settings or load_settings()).replace(overrides)
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.update(settings.app_config())
    app.config.update(flask_config)
    app.extensions["repolicy_settings"] = settings
    layout = Layout(settings.partition_min_facts, settings.partition_facts)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    runtime = app.config.get("RUNTIME")
    if runtime is None:
        url = app.config["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
        try:
            runtime = Runtime.with_store(app.config["RULESETS_DIR"], app.config["INSTRUMENTS_DIR"], url, layout)
        except SQLAlchemyError as exc:
            # The registry database is down: serve the shipped rulesets rather than nothing, try the database
            # at every poll, and queue decisions until it answers; /readyz says so meanwhile.
            log.error(
                "registry database unavailable at start-up (%s); serving the shipped rulesets until it answers",
                describe_error(exc),
            )
            runtime = Runtime.awaiting_store(app.config["RULESETS_DIR"], app.config["INSTRUMENTS_DIR"], url, layout)
            runtime.last_refresh_error = f"database unavailable at start-up: {type(exc).__name__}"
    app.extensions["repolicy"] = runtime
    app.extensions["repolicy_tokens"] = load_tokens(app.config)
    decisions = app.extensions["repolicy_decisions"] = DecisionLog(
        runtime.store,
        app.config["DECISION_LOG"],
        max_pending=settings.decision_log_max_pending,
        retry_max=settings.decision_log_retry_max,
        shutdown_seconds=settings.decision_log_shutdown_seconds,
        awaiting=runtime.pending_url is not None,
        spool_dir=spool_dir(app.config),
        durable=app.config["DECISION_LOG_COMMIT"] == "durable",
    )
    if decisions.durable:
        decisions.replay_spool(at_start=True)  # what a crash left (before gunicorn forks its workers)
    retention = app.extensions["repolicy_retention"] = Retention(runtime.store, app.config["DECISION_RETENTION_DAYS"])
    runtime.on_store += [decisions.attach, retention.attach]
    register_error_handlers(app)
    web_security.install(app)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, lambda: app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]
    server_errors.install()
    logs.install(app)
    metrics.install(app)
    rate_limit.install(app)
    api = openapi.install(app)  # the /v1 blueprints through it: the OpenAPI document is generated from them
    api.register_blueprint(evaluate_bp)
    api.register_blueprint(registry_bp)
    api.register_blueprint(instrument_registry_bp)
    api.register_blueprint(decisions_bp)
    api.register_blueprint(impact_bp)
    api.register_blueprint(legal_bp)
    app.register_blueprint(ui_bp)

    # (the decision log's own writer retries its writes; the poller only purges old decisions)
    poller = app.extensions["repolicy_poller"] = RegistryPoller(
        runtime, app.config["RELOAD_INTERVAL"], also=retention.maybe_purge
    )

    @app.before_request
    def _poll_registry() -> None:  # one poller per process, started in the worker that serves
        poller.start()

    return app
