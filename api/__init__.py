"""HTTP interface, command line and the application around the engine.

``create_app(config=None, settings=None)`` (:mod:`api.app`) builds the Flask application.  It is imported on first
use, so the command line and the scenario runner, which live in this package too, load neither Flask
nor the blueprints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from collections.abc import Mapping

if TYPE_CHECKING:
    from flask import Flask

    from api.config import Settings


def create_app(config: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Flask:
    """The Flask application (:func:`api.app.create_app`)."""
    from api.app import create_app as build

    return build(config, settings)
