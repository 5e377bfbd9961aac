"""How a spec names its weights: a hub id (``org/name``) or an absolute local path. Shared by
``specs`` (validation) and ``pipelines`` and ``metrics`` (loading), below both."""

from __future__ import annotations

import re
from pathlib import Path

HUB_ID = re.compile(r"^(?!.*(?:--|\.\.))[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?/[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?$")


def is_local_weights(weights: str) -> bool:
    """Local weights are given by an absolute path; anything else is a hub id (or refused by
    ``validate_config``). A relative path is never looked up: it would name a folder relative to
    whichever process reads it."""
    try:
        return Path(weights).is_absolute()
    except (TypeError, ValueError):
        return False
