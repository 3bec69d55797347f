"""Keras' named initializers and what each is here: read by the Keras importer, which writes
them, and by the language, which answers a Keras name written in a spec (`weight HeNormal`)
with the same init, as the IR's JSON Schema answers it in a JSON IR (:func:`name_hints`).

Keras names each ``VarianceScaling`` specialisation (keras/src/initializers/
random_initializers.py); its normal ones draw a normal *truncated* at 2 std, which cnnspec's
he_normal, glorot_normal and lecun_normal (PyTorch's, untruncated) do not, so those are
``variance_scaling(..., distribution=truncated_normal)`` here.
"""
from __future__ import annotations

from cnnspec.init.describe import init_text

# Keras' names (lower case, no underscores) of the VarianceScaling specialisations:
# (scale, mode, distribution).
SCALED = {"glorotuniform": (1.0, "fan_avg", "uniform"),
          "glorotnormal": (1.0, "fan_avg", "truncated_normal"),
          "heuniform": (2.0, "fan_in", "uniform"),
          "henormal": (2.0, "fan_in", "truncated_normal"),
          "lecununiform": (1.0, "fan_in", "uniform"),
          "lecunnormal": (1.0, "fan_in", "truncated_normal")}
# The cnnspec names of exactly these variance scalings.
NAMED = {(1.0, "fan_avg", "uniform"): {"name": "glorot_uniform"},
         (2.0, "fan_in", "uniform"): {"name": "he_uniform"},
         (1.0, "fan_in", "uniform"): {"name": "lecun_uniform"}}


def folded(name: str) -> str:
    """A Keras name as Keras reads it: lower case, no underscores (``HeNormal`` and
    ``he_normal`` are ``henormal``)."""
    return name.replace("_", "").lower()


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
    plain = f"{key[:-len('normal')]}_normal"
    return f"Keras' {plain}, cut at 2 std (cnnspec's {plain} is not)"


def written(name: str) -> str | None:
    """The init written here for a Keras name of a variance scaling (``HeNormal``,
    ``he_normal``, ``GlorotUniform``), as the importer writes it; None for any other name."""
    scaled = SCALED.get(folded(name))
    return None if scaled is None else init_text(scaled_init(*scaled))


def name_hint(name: str) -> str | None:
    """The hint for a Keras class name written as an init (``HeNormal``, ``GlorotUniform``):
    the init written here for it, and what its line's note says; None for any other name."""
    text = written(name)
    if text is None:
        return None
    note = truncation_note(name)
    return f"Keras' {name} is {text} here" + (f": {note}" if note else "")


def class_name(key: str) -> str:
    """Keras' class name of a key of :data:`SCALED`: ``henormal`` is ``HeNormal``."""
    scheme = key.removesuffix("uniform").removesuffix("normal")
    return scheme.capitalize() + key[len(scheme):].capitalize()


def name_hints() -> dict[str, str]:
    """:func:`name_hint` of each Keras class name of a variance scaling, by the name in lower
    case (as a JSON IR's check looks a name up: ``"HeNormal"`` and ``"henormal"`` alike),
    for the IR's JSON Schema."""
    return {key: name_hint(class_name(key)) for key in SCALED}
