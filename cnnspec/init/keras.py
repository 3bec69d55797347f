"""Keras' named initializers and what each is here: read by the Keras importer, which writes
them, by the language, which answers a Keras name written in a spec (`weight HeNormal`) with
the same init, and by the IR's JSON Schema, which answers it in a JSON IR with the init as the
IR writes it (:func:`name_hints`).

Keras names each ``VarianceScaling`` specialisation (keras/src/initializers/
random_initializers.py); its normal ones draw a normal *truncated* at 2 std, which cnnspec's
he_normal, glorot_normal and lecun_normal (PyTorch's, untruncated) do not, so those are
``variance_scaling(..., distribution=truncated_normal)`` here.
"""
from __future__ import annotations

import functools

from cnnspec.errors import folded
from cnnspec.init.catalogue import NAME_HINTS
from cnnspec.init.describe import init_json, init_text

# Keras' class names of the VarianceScaling specialisations: their (scale, mode, distribution),
# and cnnspec's init of the same variance: the same init for a uniform one, the untruncated
# one for a normal one (Keras' he_normal is cnnspec's he_normal cut at 2 std).
CLASSES = {"GlorotUniform": ((1.0, "fan_avg", "uniform"), "glorot_uniform"),
           "GlorotNormal": ((1.0, "fan_avg", "truncated_normal"), "glorot_normal"),
           "HeUniform": ((2.0, "fan_in", "uniform"), "he_uniform"),
           "HeNormal": ((2.0, "fan_in", "truncated_normal"), "he_normal"),
           "LecunUniform": ((1.0, "fan_in", "uniform"), "lecun_uniform"),
           "LecunNormal": ((1.0, "fan_in", "truncated_normal"), "lecun_normal")}
# The class names by the name as Keras reads it (folded: ``he_normal`` and ``HeNormal`` are
# ``henormal``), and their variance scalings by the same key.
CLASS_NAMES = {folded(name): name for name in CLASSES}
SCALED = {folded(name): scaling for name, (scaling, _) in CLASSES.items()}
# The cnnspec names of exactly these variance scalings.
NAMED = {scaling: {"name": here} for scaling, here in CLASSES.values()
         if scaling[2] == "uniform"}


def scaled_init(scale: float, mode: str, distribution: str) -> dict:
    """The init of a Keras variance scaling: its cnnspec name where one draws exactly it,
    else ``variance_scaling`` with its settings."""
    return NAMED.get((scale, mode, distribution)) or {
        "name": "variance_scaling", "scale": scale, "mode": mode,
        "distribution": distribution}


def truncation_note(name: str) -> str | None:
    """For a Keras name of a truncated normal that cnnspec's name of it draws untruncated
    (``HeNormal``, ``he_normal``): what the ``variance_scaling`` written for it is, which its
    line does not say; None for any other name."""
    key = folded(name)
    if key not in SCALED or SCALED[key][2] != "truncated_normal":
        return None
    plain = CLASSES[CLASS_NAMES[key]][1]
    return f"Keras' {plain}, cut at 2 std (cnnspec's {plain} is not)"


def written(name: str) -> str | None:
    """The init written here for a Keras name of a variance scaling (``HeNormal``,
    ``he_normal``, ``GlorotUniform``), as the importer writes it; None for any other name."""
    scaled = SCALED.get(folded(name))
    return None if scaled is None else init_text(scaled_init(*scaled))


def name_hints(write=init_text, place: str = "here") -> dict[str, str]:
    """The hint for each Keras class name of a variance scaling written as an init, by its
    folded name (:func:`cnnspec.errors.foreign_hint` looks ``HeNormal`` and ``he_Normal`` up
    there): the init written for it by ``write`` (a spec's :func:`init_text`, a JSON IR's
    :func:`~cnnspec.init.describe.init_json`), and what its line's note says."""
    hints = {}
    for key, name in CLASS_NAMES.items():
        note = truncation_note(name)
        text = write(scaled_init(*SCALED[key]))
        hints[key] = f"Keras' {name} is {text} {place}" + (f": {note}" if note else "")
    return hints


# The hints of a name that is no init here but another library's (looked up with
# foreign_hint): other libraries' names (NAME_HINTS) over Keras' class names, as a spec
# writes the init. The IR's JSON Schema holds the same for a JSON IR (cnnspec.init.schema).
SPEC_NAME_HINTS = {**name_hints(), **NAME_HINTS}


@functools.cache
def ir_name_hints() -> dict[str, str]:
    """:data:`SPEC_NAME_HINTS` with the init written as a JSON IR writes it: for an init
    object, a JSON IR's or one given to the Python API (cnnspec.init.canonical). Made when
    first asked for (a JSON IR's writer loads json, which a check of a spec needs not)."""
    return {**name_hints(init_json, "in the IR"), **NAME_HINTS}
