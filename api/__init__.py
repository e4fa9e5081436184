"""HTTP interface: the Flask application factory.

``create_app(config=None)`` loads the instruments and rulesets, validates and
compiles them (a shipped ruleset that does not validate stops start-up with
every issue listed), and registers the endpoints.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from api.config import load_config
from api.errors import register_error_handlers
from api.evaluate import bp as evaluate_bp
from engine.service import Runtime


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(load_config(config))
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    runtime = app.config.get("RUNTIME") or Runtime.from_directories(
        app.config["RULESETS_DIR"], app.config["INSTRUMENTS_DIR"])
    app.extensions["repolicy"] = runtime
    register_error_handlers(app)
    app.register_blueprint(evaluate_bp)
    return app
