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
| MAX_VIOLATIONS (violations returned by one evaluation; the rest counted, ``truncated``) | REPOLICY_MAX_VIOLATIONS | 5000 |
| MAX_RESPONSE_BYTES (an evaluate response; violations dropped from the end beyond) | REPOLICY_MAX_RESPONSE_BYTES | 16 MiB |
| SHARED_CITATIONS_FROM (violations above which citation texts are sent once) | REPOLICY_SHARED_CITATIONS_FROM | 1000 |
| RATE_LIMIT (evaluations per caller and worker, e.g. ``100/second;3000/minute``; empty: none) | REPOLICY_RATE_LIMIT | none |
| DATABASE_URL (registry of versions, audit) | REPOLICY_DATABASE_URL | SQLite file ``var/repolicy.db`` in the project |
| RELOAD_INTERVAL (seconds between registry polls) | REPOLICY_RELOAD_INTERVAL | 2 |
| TOKENS (``name:role:sha256hex;...``) | REPOLICY_TOKENS | none |
| TOKENS_FILE (one ``name:role:sha256hex`` a line) | REPOLICY_TOKENS_FILE | none |
| OPEN_EVALUATE (evaluate without a token) | REPOLICY_OPEN_EVALUATE | false |
| DEV_MODE (accept the well-known dev-* tokens) | REPOLICY_DEV_MODE | false |
| DECISION_LOG (``full``: input kept; ``digest``: only its hash; ``off``) | REPOLICY_DECISION_LOG | full |
| DECISION_LOG_COMMIT (``durable``: answer once the decision is on disk; ``async``) | REPOLICY_DECISION_LOG_COMMIT | durable |
| DECISION_LOG_DURABLE_TIMEOUT (seconds an answer waits for the disk, then 503) | REPOLICY_DECISION_LOG_DURABLE_TIMEOUT | 10 |
| DECISION_SPOOL_DIR (decision-log spool and quarantine files) | REPOLICY_DECISION_SPOOL_DIR | one per database (:func:`spool_dir`) |
| ECHO_ENDPOINT (``POST /v1/echo``, a baseline for HTTP benchmarks) | REPOLICY_ECHO_ENDPOINT | false |
| DECISION_RETENTION_DAYS (decisions older are deleted, hourly; 0 keeps all) | REPOLICY_DECISION_RETENTION_DAYS | 0 |
| SECRET_KEY (signs the pages' session cookie and CSRF tokens) | REPOLICY_SECRET_KEY | read from SECRET_KEY_FILE |
| SECRET_KEY_FILE (made with a random key, mode 600, when missing) | REPOLICY_SECRET_KEY_FILE | ``var/secret_key`` in the project |
| SESSION_HOURS (a page login lasts this long, then the token is asked again) | REPOLICY_SESSION_HOURS | 8 |
| COOKIE_SECURE (``auto``: Secure when the request came over HTTPS; ``true``; ``false``) | REPOLICY_COOKIE_SECURE | auto |
| TRUST_PROXY (proxies in front whose X-Forwarded-Proto/-Host/-For are believed) | REPOLICY_TRUST_PROXY | 0 |
| MAKER_CHECKER (activation needs each changed rule signed off by another, ``legal``, principal) | REPOLICY_MAKER_CHECKER | on under ``repolicy-serve``, off in the development server |
"""
from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR

PROJECT_DIR = RULESETS_DIR.parent

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "RULESETS_DIR": RULESETS_DIR,
    "INSTRUMENTS_DIR": INSTRUMENTS_DIR,
    "MAX_FACTS": 100_000,
    "MAX_VIOLATIONS": 5_000,
    "MAX_RESPONSE_BYTES": 16 * 1024 * 1024,
    "SHARED_CITATIONS_FROM": 1_000,
    "RATE_LIMIT": "",
    "DATABASE_URL": "sqlite:///" + str(PROJECT_DIR / "var" / "repolicy.db"),
    "RELOAD_INTERVAL": 2.0,
    "TOKENS": "",
    "TOKENS_FILE": None,
    "OPEN_EVALUATE": False,
    "DEV_MODE": False,
    "DECISION_LOG": "full",
    "DECISION_LOG_COMMIT": "durable",
    "DECISION_LOG_DURABLE_TIMEOUT": 10.0,
    "DECISION_SPOOL_DIR": None,
    "ECHO_ENDPOINT": False,
    "DECISION_RETENTION_DAYS": 0.0,
    "SECRET_KEY": None,
    "SECRET_KEY_FILE": PROJECT_DIR / "var" / "secret_key",
    "SESSION_HOURS": 8.0,
    "COOKIE_SECURE": "auto",
    "TRUST_PROXY": 0,
    "MAKER_CHECKER": False,  # repolicy-serve turns it on unless REPOLICY_MAKER_CHECKER says otherwise
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
SERVER_SETTINGS = {"bind", "workers", "threads", "evaluation_slots", "read_timeout", "worker_max_memory_mb",
                   "max_requests", "log_level", "decision_log_max_pending", "decision_log_retry_max",
                   "decision_log_shutdown_seconds", "impact_inline_max", "impact_workers"}


def _bool(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")

_ENV = {
    "MAX_CONTENT_LENGTH": ("REPOLICY_MAX_BODY_BYTES", int),
    "RULESETS_DIR": ("REPOLICY_RULESETS_DIR", Path),
    "INSTRUMENTS_DIR": ("REPOLICY_INSTRUMENTS_DIR", Path),
    "MAX_FACTS": ("REPOLICY_MAX_FACTS", int),
    "MAX_VIOLATIONS": ("REPOLICY_MAX_VIOLATIONS", int),
    "MAX_RESPONSE_BYTES": ("REPOLICY_MAX_RESPONSE_BYTES", int),
    "SHARED_CITATIONS_FROM": ("REPOLICY_SHARED_CITATIONS_FROM", int),
    "RATE_LIMIT": ("REPOLICY_RATE_LIMIT", str),
    "DATABASE_URL": ("REPOLICY_DATABASE_URL", str),
    "RELOAD_INTERVAL": ("REPOLICY_RELOAD_INTERVAL", float),
    "TOKENS": ("REPOLICY_TOKENS", str),
    "TOKENS_FILE": ("REPOLICY_TOKENS_FILE", str),
    "OPEN_EVALUATE": ("REPOLICY_OPEN_EVALUATE", _bool),
    "DEV_MODE": ("REPOLICY_DEV_MODE", _bool),
    "DECISION_LOG": ("REPOLICY_DECISION_LOG", str),
    "DECISION_LOG_COMMIT": ("REPOLICY_DECISION_LOG_COMMIT", str),
    "DECISION_LOG_DURABLE_TIMEOUT": ("REPOLICY_DECISION_LOG_DURABLE_TIMEOUT", float),
    "DECISION_SPOOL_DIR": ("REPOLICY_DECISION_SPOOL_DIR", Path),
    "ECHO_ENDPOINT": ("REPOLICY_ECHO_ENDPOINT", _bool),
    "DECISION_RETENTION_DAYS": ("REPOLICY_DECISION_RETENTION_DAYS", float),
    "SECRET_KEY": ("REPOLICY_SECRET_KEY", str),
    "SECRET_KEY_FILE": ("REPOLICY_SECRET_KEY_FILE", Path),
    "SESSION_HOURS": ("REPOLICY_SESSION_HOURS", float),
    "COOKIE_SECURE": ("REPOLICY_COOKIE_SECURE", str),
    "TRUST_PROXY": ("REPOLICY_TRUST_PROXY", int),
    "MAKER_CHECKER": ("REPOLICY_MAKER_CHECKER", _bool),
}


def spool_dir(config: Mapping[str, Any]) -> Path:
    """The decision-log spool folder: the setting, else one that belongs to the database (a spool is
    replayed into the database it was written for): ``<file>.spool`` beside a SQLite file, else
    ``var/decision-spool/<hash of the URL>`` in the project."""
    if config.get("DECISION_SPOOL_DIR"):
        return Path(config["DECISION_SPOOL_DIR"])
    url = str(config["DATABASE_URL"])
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///"):] + ".spool")
    import hashlib
    return PROJECT_DIR / "var" / "decision-spool" / hashlib.sha256(url.encode()).hexdigest()[:16]


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for key, (var, conv) in _ENV.items():
        value = setting(var)
        if value is not None:
            config[key] = conv(value)
    config.update(overrides or {})
    return config
