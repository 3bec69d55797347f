"""'Did you mean ...?' hints for unknown names."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cnnspec.errors import closest

RANDOM_PREFIX = "random_"
# At most this many names that begin with an unknown one are offered (`he`: he_normal or
# he_uniform); more would repeat the listing.
MAX_STARTED = 3


def did_you_mean(name: str, valid: Iterable[str], what: str = "",
                 aliases: Mapping[str, str] | None = None) -> str:
    """A hint naming the closest valid name (if any) and listing the valid ones. ``aliases``
    (spelling -> valid name, such as cifar-10 -> cifar10): other spellings a name may be
    close to, suggested as the name they spell and not listed."""
    valid = sorted(set(valid))
    aliases = aliases or {}
    spellings = valid + sorted(set(aliases) - set(valid))
    # Names are case-sensitive; `Conv` is nearly always conv, and Keras' class names
    # (`HeNormal`, `GlorotUniform`) are ours in snake case, whatever difflib scores.
    # torchvision's and Keras' transforms (`RandomCrop`, `RandomFlip`) are ours without
    # their Random
    plain = snake_case(name).removeprefix(RANDOM_PREFIX)
    same = (name.lower(), snake_case(name), plain)
    close = next((v for v in spellings if v.lower() in same), None)
    listing = f"valid {what}: {', '.join(valid)}" if what else f"valid: {', '.join(valid)}"
    # A family's first word (`glorot`, `lecun`) names its members alike: difflib would pick
    # the shorter one (glorot_normal) and hide glorot_uniform, Keras' default.
    family = _started(name.lower() + "_", spellings, aliases)
    if not close and 1 < len(family) <= MAX_STARTED:
        return f"did you mean {' or '.join(family)}? ({listing})"
    close = close or closest(name, spellings) or (
        plain != snake_case(name) and closest(plain, spellings))
    if close:
        return f"did you mean {aliases.get(close, close)}? ({listing})"
    # A name cut short (`he` for he_normal) is too unlike the whole for difflib's ratio.
    started = [] if len(name) < 2 else _started(name.lower(), spellings, aliases)
    if 0 < len(started) <= MAX_STARTED:
        return f"did you mean {' or '.join(started)}? ({listing})"
    return listing


def _started(prefix: str, spellings: list[str], aliases: Mapping[str, str]) -> list[str]:
    """The valid names that the spellings beginning with ``prefix`` (lower case) spell."""
    return list(dict.fromkeys(aliases.get(v, v) for v in spellings
                              if v.lower().startswith(prefix)))


def snake_case(name: str) -> str:
    """``HeNormal`` as ``he_normal``: an underscore before each capital that ends a word."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
