"""Configuration in one place: defaults, then environment variables, then the caller's dict.

| setting | environment variable | default |
| --- | --- | --- |
| MAX_CONTENT_LENGTH (bytes of a request body) | REPOLICY_MAX_BODY_BYTES | 8 MiB |
| RULESETS_DIR | REPOLICY_RULESETS_DIR | the project's ``rulesets/`` |
| INSTRUMENTS_DIR | REPOLICY_INSTRUMENTS_DIR | ``rulesets/instruments/`` |
| MAX_FACTS (facts in one request) | REPOLICY_MAX_FACTS | 100000 |
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from policy.instruments import INSTRUMENTS_DIR
from policy.registry import RULESETS_DIR

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
    "RULESETS_DIR": RULESETS_DIR,
    "INSTRUMENTS_DIR": INSTRUMENTS_DIR,
    "MAX_FACTS": 100_000,
}

_ENV = {
    "MAX_CONTENT_LENGTH": ("REPOLICY_MAX_BODY_BYTES", int),
    "RULESETS_DIR": ("REPOLICY_RULESETS_DIR", Path),
    "INSTRUMENTS_DIR": ("REPOLICY_INSTRUMENTS_DIR", Path),
    "MAX_FACTS": ("REPOLICY_MAX_FACTS", int),
}


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    config = dict(DEFAULTS)
    for key, (var, conv) in _ENV.items():
        if var in os.environ:
            config[key] = conv(os.environ[var])
    config.update(overrides or {})
    return config
