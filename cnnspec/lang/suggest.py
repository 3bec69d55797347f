"""'Did you mean ...?' hints for unknown names."""
from __future__ import annotations

from collections.abc import Iterable

from cnnspec.errors import closest


def did_you_mean(name: str, valid: Iterable[str], what: str = "") -> str:
    """A hint naming the closest valid name (if any) and listing the valid ones."""
    valid = sorted(set(valid))
    # Names are case-sensitive; `Conv` is nearly always conv, whatever difflib scores.
    close = next((v for v in valid if v.lower() == name.lower()), None) \
        or closest(name, valid, cutoff=0.5)
    listing = f"valid {what}: {', '.join(valid)}" if what else f"valid: {', '.join(valid)}"
    if close:
        return f"did you mean {close}? ({listing})"
    return listing
