"""'Did you mean ...?' hints for unknown names."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, valid: Iterable[str], what: str = "") -> str:
    """A hint naming the closest valid name (if any) and listing the valid ones."""
    valid = sorted(set(valid))
    # Names are case-sensitive; `Conv` is nearly always conv, whatever difflib scores.
    close = ([v for v in valid if v.lower() == name.lower()]
             or difflib.get_close_matches(name, valid, n=1, cutoff=0.5))
    listing = f"valid {what}: {', '.join(valid)}" if what else f"valid: {', '.join(valid)}"
    if close:
        return f"did you mean {close[0]}? ({listing})"
    return listing
