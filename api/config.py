"""The service's settings: one typed object, built once from defaults, then a TOML file, then the environment.

:func:`load_settings` reads them (``REPOLICY_CONFIG_FILE`` names the file; its keys are the settings'
names, ``max_facts = 500``; the environment variable of a setting is ``REPOLICY_`` and the name in upper
case, ``REPOLICY_MAX_FACTS=500``, and wins over the file).  A name the service does not know, in the file
or among the ``REPOLICY_`` variables, stops start-up with the name and where it was found, as does a value
of the wrong type.  The result is passed down: :func:`api.app.create_app` puts it in the app config and
gives the runtime, the decision log and the engines their values; :mod:`api.serve` reads the server's
settings from it.  Nothing reads the environment at import time or while evaluating.

README.md's table of settings is generated from :data:`FIELDS` (``python -m api.config``), and a test
checks that the two agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Mapping

from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR

PROJECT_DIR = RULESETS_DIR.parent
PREFIX = "REPOLICY_"
CONFIG_FILE_VARIABLE = PREFIX + "CONFIG_FILE"
# REPOLICY_ variables that are not settings of the service: the file's name, the command line's server and
# token, and switches of the test suite.
NOT_SETTINGS = frozenset({"CONFIG_FILE", "SERVER", "TOKEN", "REQUIRE_POSTGRES", "REQUIRE_BROWSER", "UPDATE_GOLDEN"})
MIB = 1024 * 1024


class ConfigError(ValueError):
    """A setting that does not exist, or a value that is not of its type; names the setting and its source."""


def _setting(
    default: Any, help: str, *, shown: str | None = None, config_key: str | None = None, choices: tuple[str, ...] = ()
) -> Any:
    """A field of :class:`Settings`: its default, what it does (the README's table), the default as shown
    there when it is not the value itself, and the app config key when not the name in upper case."""
    return field(default=default, metadata={"help": help, "shown": shown, "config_key": config_key, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, typed.  Immutable: a changed setting is a new object."""

    log_level: str = _setting("INFO", "`DEBUG`, `INFO`, `WARNING`, `ERROR` (JSON lines on stderr)")
    bind: str = _setting("127.0.0.1:8080", "address:port of `repolicy-serve`")
    workers: int | None = _setting(None, "gunicorn worker processes", shown="the machine's CPUs")
    threads: int = _setting(
        16, "connection threads per worker (they read requests and send answers; slow clients hold only these)"
    )
    evaluation_slots: int = _setting(
        1,
        "requests with a body a worker runs at once, once their body is read in "
        "full (evaluation is CPU-bound: one at a time measured best, "
        "`bench/http.md`)",
    )
    read_timeout: float = _setting(
        10.0,
        "seconds a client may stay silent, and may take to send a whole request body (then `408`, connection closed)",
    )
    worker_max_memory_mb: float = _setting(
        1024.0, "a worker holding more memory than this (MB) finishes its requests and is replaced"
    )
    max_requests: int = _setting(50_000, "a worker is replaced after this many requests (±10%)")
    partition_min_facts: int = _setting(
        4000, "from this many facts in a request its joins run in partitioned sessions (0: always; `docs/engine.md`)"
    )
    partition_facts: int = _setting(1000, "facts per partitioned session (`docs/engine.md`)")
    database_url: str = _setting(
        "sqlite:///" + str(PROJECT_DIR / "var" / "repolicy.db"),
        "registry, audit, sign-offs and decision log (SQLAlchemy URL; "
        "`postgresql+psycopg://…?connect_timeout=5` for PostgreSQL: the timeout keeps "
        "writes from hanging on a network that drops packets)",
        shown="`sqlite:///var/repolicy.db` in the project",
    )
    reload_interval: float = _setting(2.0, "seconds between polls of the registry (hot reload)")
    tokens: str = _setting(
        "", "`name:role:sha256hex` entries separated by `;` (roles `regulator`, `legal`, `caller`)", shown="none"
    )
    tokens_file: Path | None = _setting(None, "file of `name:role:sha256hex` entries, one a line", shown="none")
    open_evaluate: bool = _setting(False, "evaluate without a token", shown="false (`bin/serve`: true)")
    dev_mode: bool = _setting(False, "development only: accept `dev-regulator`, `dev-legal`, `dev-caller`")
    decision_log: str = _setting(
        "full", "`full` (input kept), `digest` (only its hash), `off`", choices=("full", "digest", "off")
    )
    decision_log_commit: str = _setting(
        "durable",
        "`durable`: a decision is answered only once it is on local "
        "disk (see below); `async`: answered at once, written later",
        choices=("durable", "async"),
    )
    decision_log_durable_timeout: float = _setting(
        10.0, "seconds an answer waits for its decision to reach the disk, then `503 decision_not_recorded`"
    )
    decision_spool_dir: Path | None = _setting(
        None,
        "decision-log spool and quarantine files",
        shown="`<db file>.spool` beside a SQLite file, else `var/decision-spool/<hash of the URL>`",
    )
    decision_retention_days: float = _setting(
        0.0, "decisions older than this are deleted (checked hourly); 0 keeps them all"
    )
    decision_log_max_pending: int = _setting(
        10_000,
        "decisions kept per worker while the database is down (the oldest are lost beyond that, counted in `/readyz`)",
    )
    decision_log_retry_max: float = _setting(5.0, "longest wait in seconds between write retries")
    decision_log_shutdown_seconds: float = _setting(5.0, "how long a stopping worker tries to write its queue")
    maker_checker: bool | None = _setting(
        None,
        "activation waits until each changed rule is signed off by a "
        "`legal` reviewer other than its publisher (a regulator may "
        "override in an emergency with a written reason); see "
        "`docs/regulators.md`",
        shown="on under `repolicy-serve`, off in `create_app()`'s development server",
    )
    impact_inline_max: int = _setting(
        1000, "an impact preview over more recorded decisions than this runs in a pool of processes"
    )
    impact_workers: int | None = _setting(None, "processes of that pool", shown="the machine's CPUs")
    max_body_bytes: int = _setting(
        8 * MIB, "largest request body (413 beyond)", shown="8 MiB", config_key="MAX_CONTENT_LENGTH"
    )
    max_facts: int = _setting(100_000, "facts in one request (413 beyond)")
    max_violations: int = _setting(
        5_000,
        "violations one evaluate response returns; beyond, the first are "
        "returned and `truncated` says how many were found "
        "(`docs/contract-evaluate-v1.md`, large responses)",
    )
    max_response_bytes: int = _setting(
        16 * MIB, "bytes of one evaluate response; violations are dropped from the end beyond", shown="16 MiB"
    )
    shared_citations_from: int = _setting(
        1_000, "above this many violations, each provision's text is sent once (`citation_texts`)"
    )
    rate_limit: str = _setting(
        "",
        "evaluations per caller (token name, or address without a token) and "
        "worker, e.g. `50/second;2000/minute`; `429` beyond",
        shown="none",
    )
    echo_endpoint: bool = _setting(False, "`POST /v1/echo`, a baseline for HTTP benchmarks")
    rulesets_dir: Path = _setting(RULESETS_DIR, "where the shipped rulesets live", shown="`rulesets/`")
    instruments_dir: Path = _setting(
        INSTRUMENTS_DIR, "where the shipped instruments (the law's texts) live", shown="`rulesets/instruments/`"
    )
    secret_key: str | None = _setting(
        None,
        "signs the web pages' session cookie and CSRF tokens (at least 32 "
        "characters); every server that should accept the same logins "
        "needs the same key",
        shown="read from `REPOLICY_SECRET_KEY_FILE`",
    )
    secret_key_file: Path = _setting(
        PROJECT_DIR / "var" / "secret_key",
        "file holding the key; created with a random key (mode 600) at first "
        "start if missing. The app is built in the gunicorn master before forking, "
        "so all workers share it; the file keeps logins across restarts. If it can "
        "be neither read nor created, a random key for that process is used "
        "(logged; logins end at restart)",
        shown="`var/secret_key`",
    )
    session_hours: float = _setting(
        8.0, "a page login lasts this long (absolute, not extended by use), then the token is asked again"
    )
    cookie_secure: str = _setting(
        "auto",
        "`auto`: the session cookie is `Secure` when the request came over "
        "HTTPS; `true` always (e.g. behind a TLS proxy that does not say so); "
        "`false` never",
        choices=("auto", "true", "false"),
    )
    trust_proxy: int = _setting(
        0,
        "number of proxies in front whose `X-Forwarded-Proto`/`-Host`/`-For` are "
        "believed (for `Secure` cookies and the same-origin check behind a TLS "
        "proxy); 0 believes none",
    )

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if f.metadata["choices"] and getattr(self, f.name) not in f.metadata["choices"]:
                raise ConfigError(
                    f"{f.name}: {getattr(self, f.name)!r} is not one of {', '.join(f.metadata['choices'])}"
                )

    def app_config(self) -> dict[str, Any]:
        """The Flask app config these settings make (every setting, under its config key)."""
        return {config_key(f): getattr(self, f.name) for f in FIELDS.values()}

    def replace(self, values: Mapping[str, Any], source: str = "the caller") -> Settings:
        """A copy with ``values`` (by setting name) applied, each checked against its type."""
        return dataclasses.replace(self, **{name: _converted(name, value, source) for name, value in values.items()})


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(Settings)}
_TYPES = typing.get_type_hints(Settings)
BY_CONFIG_KEY: dict[str, str] = {}  # app config key -> setting name


def config_key(f: dataclasses.Field) -> str:
    return f.metadata["config_key"] or f.name.upper()


BY_CONFIG_KEY.update({config_key(f): f.name for f in FIELDS.values()})


def environment_variable(name: str) -> str:
    return PREFIX + name.upper()


def _converted(name: str, value: Any, source: str) -> Any:
    """``value`` (text from the environment, or a TOML value) as setting ``name``'s type."""
    if name not in FIELDS:
        raise ConfigError(f"{source}: unknown setting {name!r}; known: {', '.join(sorted(FIELDS))}")
    kind = _TYPES[name]
    optional = isinstance(kind, types.UnionType) and type(None) in typing.get_args(kind)
    if optional:
        kind = next(t for t in typing.get_args(kind) if t is not type(None))
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError("not a yes/no value")
        if kind is int:
            if isinstance(value, bool) or isinstance(value, float):
                raise ValueError("not an integer")
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError("not a number")
            return float(value)
        if kind is Path:
            if not isinstance(value, (str, Path)):
                raise ValueError("not a path")
            return Path(value)
        if not isinstance(value, str):
            raise ValueError("not a text")
        return value
    except ValueError as exc:
        raise ConfigError(
            f"{source}: setting {name!r} takes {getattr(kind, '__name__', kind)}, not {value!r} ({exc})"
        ) from None


def _file_values(path: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} (named by {CONFIG_FILE_VARIABLE}): {exc}") from None
    source = f"{path} (named by {CONFIG_FILE_VARIABLE})"
    return {name: _converted(name, value, source) for name, value in data.items()}


def _environment_values(environ: Mapping[str, str]) -> dict[str, Any]:
    values = {}
    for var, text in environ.items():
        if not var.startswith(PREFIX) or var[len(PREFIX) :] in NOT_SETTINGS:
            continue
        name = var[len(PREFIX) :].lower()
        values[name] = _converted(name, text, f"environment variable {var}")
    return values


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings: defaults, then the file named by ``REPOLICY_CONFIG_FILE``, then the environment."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    path = environ.get(CONFIG_FILE_VARIABLE)
    if path:
        settings = dataclasses.replace(settings, **_file_values(path))
    return dataclasses.replace(settings, **_environment_values(environ))


def split_overrides(config: Mapping[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ``create_app`` config dict as (setting name -> value, other Flask config keys -> value)."""
    settings, other = {}, {}
    for key, value in (config or {}).items():
        if key in BY_CONFIG_KEY:
            settings[BY_CONFIG_KEY[key]] = value
        else:
            other[key] = value
    return settings, other


def spool_dir(config: Mapping[str, Any]) -> Path:
    """The decision-log spool folder: the setting, else one that belongs to the database (a spool is
    replayed into the database it was written for): ``<file>.spool`` beside a SQLite file, else
    ``var/decision-spool/<hash of the URL>`` in the project."""
    if config.get("DECISION_SPOOL_DIR"):
        return Path(config["DECISION_SPOOL_DIR"])
    url = str(config["DATABASE_URL"])
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :] + ".spool")
    return PROJECT_DIR / "var" / "decision-spool" / hashlib.sha256(url.encode()).hexdigest()[:16]


def settings_table() -> str:
    """README.md's table of settings, one row per field of :class:`Settings`."""
    rows = [
        "| variable (file key) | meaning | default |",
        "| --- | --- | --- |",
        f"| `{CONFIG_FILE_VARIABLE}` | optional TOML file with any of the settings below | none |",
    ]
    for f in FIELDS.values():
        shown = f.metadata["shown"]
        if shown is None:
            value = f.default
            shown = (
                str(value).lower()
                if isinstance(value, bool)
                else f"{value:,}"
                if isinstance(value, int)
                else f"{value:g}"
                if isinstance(value, float)
                else f"`{value}`"
            )
        rows.append(f"| `{environment_variable(f.name)}` (`{f.name}`) | {f.metadata['help']} | {shown} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_table())
