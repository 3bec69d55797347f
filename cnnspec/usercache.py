"""The user's cache directory.

cnnspec keeps things that are slow to make and cheap to make again in
``$XDG_CACHE_HOME/cnnspec`` (default ``~/.cache/cnnspec``): the engine's thresholds
(:mod:`cnnspec.engine.calibrate`). Never in the installed package, which may be shared or
read-only.
"""
from __future__ import annotations

import os
from pathlib import Path

# where cache_dir() is, in words (for help texts)
CACHE_DIR_TEXT = "$XDG_CACHE_HOME/cnnspec, else ~/.cache/cnnspec"


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cnnspec``, or ``~/.cache/cnnspec`` (not created here). A relative
    ``$XDG_CACHE_HOME`` is ignored, as the XDG Base Directory Specification says: it would put
    a cache folder into whatever folder a command runs in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "cnnspec"
