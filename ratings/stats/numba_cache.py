"""Where numba keeps compiled kernels: next to the sources when that folder is writable, else in
the user cache (numba's own fallbacks); when neither is writable (a read-only install run by a
service user without a home), in a temporary folder rather than failing. Import this module
before numba."""

from __future__ import annotations

import os
import sys
import tempfile


def choose_cache_dir(environ=os.environ) -> str | None:
    """Set NUMBA_CACHE_DIR to a temporary folder when numba has nowhere to cache; returns the
    folder it set, or None when numba's defaults work (or NUMBA_CACHE_DIR is already set)."""
    if environ.get("NUMBA_CACHE_DIR"):
        return None
    if os.access(os.path.dirname(os.path.abspath(__file__)), os.W_OK):
        return None
    user_cache = os.path.join(os.path.expanduser("~"), ".cache")
    probe = user_cache if os.path.isdir(user_cache) else os.path.dirname(user_cache)
    if os.access(probe, os.W_OK):
        return None
    folder = os.path.join(tempfile.gettempdir(), "evalsite-numba-cache")
    environ["NUMBA_CACHE_DIR"] = folder
    if "numba" in sys.modules:  # numba read its settings already
        sys.modules["numba"].config.reload_config()
    return folder


choose_cache_dir()
