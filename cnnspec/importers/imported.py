"""What an importer gives back, and the checks every importer shares."""
from __future__ import annotations

import re
from dataclasses import field
from typing import TYPE_CHECKING

from cnnspec.errors import listed
from cnnspec.lang.layers import STATEMENT_KEYWORDS
from cnnspec.lang.resolve import BLOCK_INPUT
from cnnspec.records import record

if TYPE_CHECKING:
    from cnnspec.check.model import CheckedSpec

# Words a layer cannot be called: the language's statement keywords, and the name a repeat
# block gives its instance's input.
RESERVED = (*STATEMENT_KEYWORDS, BLOCK_INPUT)


# The layers a note names one by one; past this many, the first few and a count.
SHOWN_LAYERS = 5
NAMED_BEFORE_COUNT = 3


@record(frozen=True)
class LayerNote:
    """A header note said of one layer: its name and what is said of it (``(Accuracy) left
    out: in the TEST phase only``), which other layers may share (:func:`grouped`)."""

    layer: str
    said: str


def layers_named(names: list[str]) -> str:
    """``a, b and c``: the layers a note speaks of; many of them, the first few and how many
    more (``bn0, bn1, bn2 and 47 more``), so that a net of many alike layers gets one short
    line."""
    if len(names) <= SHOWN_LAYERS:
        return listed(names)
    return f"{', '.join(names[:NAMED_BEFORE_COUNT])} and {len(names) - NAMED_BEFORE_COUNT} more"


def grouped(notes: list[str | LayerNote]) -> list[str]:
    """The header's lines for ``notes``: the layer notes that say the same, one line naming
    their layers (:func:`layers_named`), where the first of them stood; every other note as
    it is, each distinct note kept."""
    layers: dict[str, list[str]] = {}
    for note in notes:
        if isinstance(note, LayerNote):
            layers.setdefault(note.said, []).append(note.layer)
    lines = []
    for note in notes:
        if not isinstance(note, LayerNote):
            lines.append(note)
        elif note.layer == layers[note.said][0]:
            lines.append(f"{layers_named(layers[note.said])} {note.said}")
    return lines


@record
class Imported:
    """An imported network: the ``.cnn`` text (formatted, with a header saying where it came
    from), its checked spec (``checked.total_params``, per-layer output shapes) and the notes
    on what the import changed or left out (also in the text's header)."""

    text: str
    checked: CheckedSpec
    notes: list[str] = field(default_factory=list)


class Names:
    """Layer names as the language allows them, unique within one spec: ``conv1/3x3`` becomes
    ``conv1_3x3``, ``1a`` becomes ``l_1a``; a name taken (or a keyword) gets ``_2``,
    ``_3``."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def reserve(self, name: str) -> None:
        """A name the language makes itself (``fc_softmax`` for ``fc: dense 10 softmax``)."""
        self.taken.add(name)

    def make(self, wanted: str) -> str:
        name = re.sub(r"\W", "_", wanted.strip(), flags=re.ASCII) or "layer"
        if not re.match(r"[A-Za-z_]", name):
            name = "l_" + name
        base, n = name, 1
        while name in self.taken or name in RESERVED:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        return name


def model_name(wanted: str | None, path: str | None) -> str:
    """The ``model`` name: the source's name for the network, else its file's stem."""
    from pathlib import Path

    text = wanted if isinstance(wanted, str) and wanted else (
        Path(path).stem if path else "imported")
    name = re.sub(r"\W", "_", text, flags=re.ASCII) or "imported"
    return name if re.match(r"[A-Za-z_]", name) else "m_" + name
