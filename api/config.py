"""Configuration in one place: defaults, then an optional file, then environment variables, then the caller's dict.

The file (``REPOLICY_CONFIG_FILE``, TOML) takes the environment variables' names without the prefix, in
lower case: ``database_url = "postgresql+psycopg://..."``, ``workers = 4``, ``log_level = "INFO"``.
An environment variable wins over the file.  The server settings (bind, workers, threads, log level,
decision-log tuning) are read through :func:`setting` as well.

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
| DECISION_RETENTION_DAYS (decisions older are deleted, hourly; 0 keeps all) | REPOLICY_DECISION_RETENTION_DAYS | 0 |
"""
from __future__ import annotations

import os
import tomllib
from functools import lru_cache
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
    "DECISION_RETENTION_DAYS": 0.0,
}
PREFIX = "REPOLICY_"


class ConfigError(ValueError):
    """The configuration file cannot be read, or names a setting that does not exist."""


@lru_cache(maxsize=4)
def _file_settings(path: str) -> dict[str, str]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    known = {var[len(PREFIX):].lower() for var, _ in _ENV.values()} | SERVER_SETTINGS
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return {PREFIX + k.upper(): str(v).lower() if isinstance(v, bool) else str(v) for k, v in data.items()}


def setting(var: str, default: str | None = None) -> str | None:
    """One setting by its environment variable name: the environment, else the config file, else ``default``."""
    if var in os.environ:
        return os.environ[var]
    path = os.environ.get(PREFIX + "CONFIG_FILE")
    if path:
        return _file_settings(path).get(var, default)
    return default


# Read by the server and the decision log rather than the app config (see README's table).
SERVER_SETTINGS = {"bind", "workers", "threads", "log_level", "decision_log_max_pending",
                   "decision_log_retry_max", "decision_log_shutdown_seconds",
                   "impact_inline_max", "impact_workers"}


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
    "DECISION_RETENTION_DAYS": ("REPOLICY_DECISION_RETENTION_DAYS", float),
}


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for key, (var, conv) in _ENV.items():
        value = setting(var)
        if value is not None:
            config[key] = conv(value)
    config.update(overrides or {})
    return config
