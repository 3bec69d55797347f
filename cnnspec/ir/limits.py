"""The largest values the IR holds, so that no number a user writes overflows a float or an
allocation before ``check`` can say what is wrong with it.

- :data:`MAX_INT`: every whole number in the IR (a size, a count, a padding, an epoch count, a
  seed) is at most 2^31 - 1, the largest index of a 32-bit integer; a size beyond it is always a
  mistyped number, and products of a few such sizes stay far inside a float's range.
- :data:`MAX_LAYERS`: the most layers a network has, so that a typo cannot make checking it
  take minutes.
- :data:`FLOAT32_MAX`: the largest finite float32, the default dtype; a whole number beyond it
  is no finite number there.
- :func:`unheld`: a real-valued setting (a layer's ``elu`` alpha or norm eps, an lr, an
  optimizer's eps) is read as the widest dtype holds it, and is held to the dtype the run
  computes in once that is known (``check --dtype`` as ``train --dtype``): beyond its range it
  would be infinity, and a value that must be above 0 but that it rounds to 0 divides by 0.
"""
from __future__ import annotations

from cnnspec.dtypes import FORMATS, WIDEST_DTYPE
from cnnspec.errors import float_text, literal, rounded_text
from cnnspec.records import record

MAX_INT = 2**31 - 1
# A model name names its run folder (runs/<name>-<time>), so it is a short file name: the IR
# schema's `model_name` pattern allows letters, digits, '_', '-' and '.', this many at most.
MAX_MODEL_NAME = 100
FLOAT32_MAX = FORMATS["float32"].largest
# Who computes in the run's dtype, as messages say it: "the dtype training computes in".
TRAINING = "training"
NETWORK = "the network"


# The most layers a network has (the IR's `layers`, a .cnn spec's after its repeat blocks are
# copied): room for the deepest nets of the init literature, Xiao et al. 2018's 10,000 conv
# layers each with its tanh, while a typo (a long body in `repeat 1000`, a file of a million
# lines) is refused at once instead of taking minutes and gigabytes to check.
MAX_LAYERS = 25_000


def too_many_layers(count: int | None = None) -> str:
    """The message for a network of more than :data:`MAX_LAYERS` layers, ``count`` of them
    where it is known (an IR's; a spec's expansion stops at the limit)."""
    has = f"{count:,} layers" if count is not None else f"more than {MAX_LAYERS:,} layers"
    return f"the network has {has}, and cnnspec checks and trains {MAX_LAYERS:,} at most"


def too_large_int(value: int) -> str | None:
    """What is wrong with a whole number beyond :data:`MAX_INT` (in words), or None."""
    if abs(value) <= MAX_INT:
        return None
    return f"must be at most {MAX_INT:,} (2^31 - 1), not {short_number(value)}"


def short_number(value: float | str) -> str:
    """A number as messages quote it: a 300-digit integer as its first digits and its length;
    a float as a spec writes it (:func:`float_text`)."""
    text = float_text(value) if isinstance(value, float) else str(value)
    return text if len(text) <= 24 else f"{text[:12]}... ({len(text.lstrip('-'))} digits)"



@record(frozen=True)
class Unheld:
    """Why a dtype cannot hold a setting's value: ``problem`` continues the setting's name
    ("eps must be greater than 0 in float32, ..."), ``hint`` names the dtype's limit and, where
    the widest dtype holds the value, the dtype that would: a hint template naming
    ``{dtype:float64}`` (``--dtype float64`` on the command line, ``dtype='float64'`` in the
    library; :meth:`cnnspec.errors.SpecError.worded_hint`)."""

    problem: str
    hint: str


def unheld(value, dtype: str, computes: str, above_zero: bool = False) -> Unheld | None:
    """Why ``dtype``, the dtype ``computes`` (:data:`TRAINING`, :data:`NETWORK`) computes in,
    cannot hold the number ``value``, or None (also for a value that is no number: its own
    check says so): beyond its range it is infinity (``lr 1e40``, ``elu 1e300`` in float32:
    every weight or output infinite or NaN); one that must be ``above_zero`` but that it
    rounds to 0 (``adam(eps=1e-50)``, ``batchnorm eps 1e-50`` in float32) divides by 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    layout = FORMATS[dtype]
    where = f"in {dtype}, the dtype {computes} computes in"
    if abs(value) > layout.largest:
        return Unheld(f"must be at most {layout.largest_text} in size {where}, which holds "
                      f"{short_number(value)} as infinity",
                      literal(f"{dtype} holds numbers up to about {layout.largest_text} in "
                              "size: write a smaller one") + _wider(value, dtype))
    if above_zero and 0 < value <= layout.rounds_to_zero:
        return Unheld(f"must be greater than 0 {where}, which rounds {short_number(value)} "
                      f"to 0", literal(f"write a number of at least "
                                       f"{rounded_text(layout.smallest_subnormal, 2)}, the "
                                       f"smallest {dtype} above 0") + _wider(value, dtype))
    return None


def _wider(value: float, dtype: str) -> str:
    """The advice to train in the widest dtype, if it holds ``value`` and ``dtype`` is not it,
    as a hint template: the dtype named as the caller gives it."""
    if dtype == WIDEST_DTYPE or unheld(value, WIDEST_DTYPE, NETWORK, above_zero=True):
        return ""
    return f", or train in {WIDEST_DTYPE} (`{{dtype:{WIDEST_DTYPE}}}`), which holds it"
