"""Configuration in one place: defaults, then environment variables, then the caller's dict.

| setting | environment variable | default |
| --- | --- | --- |
| MAX_CONTENT_LENGTH (bytes of a request body) | REPOLICY_MAX_BODY_BYTES | 8 MiB |
| RULESETS_DIR | REPOLICY_RULESETS_DIR | the project's ``rulesets/`` |
| INSTRUMENTS_DIR | REPOLICY_INSTRUMENTS_DIR | ``rulesets/instruments/`` |
| MAX_FACTS (facts in one request) | REPOLICY_MAX_FACTS | 100000 |
| DATABASE_URL (registry of versions, audit) | REPOLICY_DATABASE_URL | SQLite file ``var/repolicy.db`` in the project |
| RELOAD_INTERVAL (seconds between registry polls) | REPOLICY_RELOAD_INTERVAL | 2 |
| TOKENS (``name:role:sha256hex;...``) | REPOLICY_TOKENS | none |
| TOKENS_FILE (one ``name:role:sha256hex`` a line) | REPOLICY_TOKENS_FILE | none |
| OPEN_EVALUATE (evaluate without a token) | REPOLICY_OPEN_EVALUATE | false |
| DEV_MODE (accept the well-known dev-* tokens) | REPOLICY_DEV_MODE | false |
| DECISION_LOG (``full``: input kept; ``digest``: only its hash; ``off``) | REPOLICY_DECISION_LOG | full |
| ECHO_ENDPOINT (``POST /v1/echo``, a baseline for HTTP benchmarks) | REPOLICY_ECHO_ENDPOINT | false |
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR

PROJECT_DIR = RULESETS_DIR.parent

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "RULESETS_DIR": RULESETS_DIR,
    "INSTRUMENTS_DIR": INSTRUMENTS_DIR,
    "MAX_FACTS": 100_000,
    "DATABASE_URL": "sqlite:///" + str(PROJECT_DIR / "var" / "repolicy.db"),
    "RELOAD_INTERVAL": 2.0,
    "TOKENS": "",
    "TOKENS_FILE": None,
    "OPEN_EVALUATE": False,
    "DEV_MODE": False,
    "DECISION_LOG": "full",
    "ECHO_ENDPOINT": False,
}


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")

_ENV = {
    "MAX_CONTENT_LENGTH": ("REPOLICY_MAX_BODY_BYTES", int),
    "RULESETS_DIR": ("REPOLICY_RULESETS_DIR", Path),
    "INSTRUMENTS_DIR": ("REPOLICY_INSTRUMENTS_DIR", Path),
    "MAX_FACTS": ("REPOLICY_MAX_FACTS", int),
    "DATABASE_URL": ("REPOLICY_DATABASE_URL", str),
    "RELOAD_INTERVAL": ("REPOLICY_RELOAD_INTERVAL", float),
    "TOKENS": ("REPOLICY_TOKENS", str),
    "TOKENS_FILE": ("REPOLICY_TOKENS_FILE", str),
    "OPEN_EVALUATE": ("REPOLICY_OPEN_EVALUATE", _bool),
    "DEV_MODE": ("REPOLICY_DEV_MODE", _bool),
    "DECISION_LOG": ("REPOLICY_DECISION_LOG", str),
    "ECHO_ENDPOINT": ("REPOLICY_ECHO_ENDPOINT", _bool),
}


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for key, (var, conv) in _ENV.items():
        if var in os.environ:
            config[key] = conv(os.environ[var])
    config.update(overrides or {})
    return config
