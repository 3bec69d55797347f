"""Init variants: one spec, checked several times with a different model-wide weight init.

``--init he_normal`` means "this spec, with he_normal as its default weight init": it replaces
every weight init the spec took from its model-wide default (or the built-in one), while
a layer that names its own init keeps it — a hand-written, frozen kernel stays what the author
wrote. The IR records which inits came from the default (``default_inits``), so a variant is a
transform of the IR: it works on a ``.json`` IR as on the ``.cnn`` it came from, and the spec's
source positions still locate its mistakes. The init text uses the language's own grammar
(``normal(0, 0.01)``, ``he_uniform(mode=fan_out)``...).
"""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

from cnnspec.check import check
from cnnspec.check.lint_catalogue import as_written
from cnnspec.check.load import load, read_spec
from cnnspec.check.model import CheckedSpec
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import (
    SpecError,
    SpecErrors,
    first_error,
    hint_fields,
    option_place,
    shell_word,
)
from cnnspec.ir.spec import Spec
from cnnspec.kinds.fields import WEIGHT_INIT_KEY
from cnnspec.lang import parse_init
from cnnspec.records import record

# What marks the spec as written among init variants; alone, its label where it names no init.
SPEC_LABEL = "spec"


def spec_init_label(name: str) -> str:
    """One weight init of the spec as written, as the lab's and compare's tables, pictures and
    JSON name it: the init's catalogue name marked as the spec's, ``he_normal (spec)``."""
    return f"{name} ({SPEC_LABEL})"


def spec_label(ir: dict) -> str:
    """The spec as written (its resolved ``ir``) among init variants: named by the weight
    init its layers start from (:func:`spec_init_label`; ``spec's inits: he_normal,
    glorot_uniform`` for several), where a bare "spec" named no init."""
    names = list(dict.fromkeys(layer[WEIGHT_INIT_KEY]["name"] for layer in ir["layers"]
                               if WEIGHT_INIT_KEY in layer))
    if not names:
        return SPEC_LABEL
    if len(names) == 1:
        return spec_init_label(names[0])
    return f"{SPEC_LABEL}'s inits: {names_text(names)}"


@record
class Variant:
    """A checked spec and the init text that made it (:func:`spec_label` for the spec as
    written, whose ``sets`` is None)."""

    label: str
    checked: CheckedSpec
    # The layers whose weight init the init text set (None for the spec as written), and
    # those with weights that kept their own.
    sets: list[str] | None = None
    keeps: list[str] = dataclasses.field(default_factory=list)


def load_variant(path: str | Path, init: str | None = None,
                 dtype: str = DEFAULT_DTYPE, ignore=(), data=None) -> Variant:
    """Load and check ``path`` (``.cnn`` or ``.json``) with ``init`` (language syntax) as the
    default weight init, as a spec measured here in ``dtype``, not trained; the warnings of
    the lints ``ignore`` names left out; ``data`` (as :class:`cnnspec.Settings` takes it, or
    None for the spec's) the dataset in place of the spec's."""
    # Measured on a batch of the lab's own, not trained: the training settings' memory does
    # not refuse it (cnnspec.lab.memory checks the measurement's).
    own = _loaded(path, dtype, ignore, data)
    if init is None:
        return Variant(spec_label(own.spec.ir), own)
    init_ir = _parse_init_option(init)
    refuse_changing_nothing(own.spec.ir, init_place(init))
    try:
        checked = check(with_default_weight(own.spec, init_ir), for_training=False, dtype=dtype,
                        ignore=ignore)
    except (SpecError, SpecErrors) as exc:  # the text's mistake: the spec's positions would
        first = first_error(exc)            # point at the layers it replaced the init of
        raise SpecError(first.message, **hint_fields(first), file=init_place(init)) from None
    # A warning the spec as written does not get is the init text's: located at the layers it
    # replaced the init of (in the spec), and said to be the option's, which the spec's line
    # under the caret does not show.
    checked.warnings = [w if w in own.warnings else
                        dataclasses.replace(w, message=f"with {init_place(init)}: {w.message}")
                        for w in as_written(checked.warnings, own.warnings)]
    return Variant(init, checked, default_weight_layers(own.spec.ir),
                   own_weight_layers(own.spec.ir))


def load_variants(path: str | Path, inits: list[str] | None,
                  dtype: str = DEFAULT_DTYPE, ignore=(), data=None) -> list[Variant]:
    """One variant per ``--init`` text, or the spec as written when there is none, checked
    for ``dtype``, the warnings of the lints ``ignore`` names left out, on ``data`` in place
    of the spec's dataset where given (:func:`load_variant`)."""
    return [load_variant(path, init, dtype, ignore, data) for init in (inits or [None])]


def _loaded(path: str | Path, dtype: str, ignore, data) -> CheckedSpec:
    """The spec at ``path`` checked as measured here (:func:`load_variant`), on ``data`` in
    place of its own dataset where given (as ``train --data`` trains it)."""
    if data is None:
        return load(path, for_training=False, dtype=dtype, ignore=ignore)
    from cnnspec.training.settings import Settings, overridden_spec

    overrides = Settings(data=data).overrides(dtype)
    return check(overridden_spec(read_spec(path), overrides), for_training=False, dtype=dtype,
                 ignore=ignore)


def default_weight_layers(ir: dict) -> list[str]:
    """The layers whose weight init came from the model-wide default: those a default weight
    init (``--init``, ``--set init=``) sets."""
    return [layer["name"] for layer in ir["layers"]
            if WEIGHT_INIT_KEY in layer.get("default_inits", ())]


def own_weight_layers(ir: dict) -> list[str]:
    """The layers with weights that name their own weight init: a default one leaves them."""
    return [layer["name"] for layer in ir["layers"]
            if WEIGHT_INIT_KEY in layer and WEIGHT_INIT_KEY not in layer.get("default_inits", ())]


def refuse_changing_nothing(ir: dict, place: str) -> None:
    """Refuse a default weight init (given at ``place``, the option that gave it) for a spec
    none of whose layers takes its weight init from the default: every variant would be the
    spec as written, measured or trained again under another name."""
    if default_weight_layers(ir):
        return
    own = own_weight_layers(ir)
    why = (f"every layer with weights names its own ({names_text(own)})" if own
           else "the spec has no layer with weights")
    raise SpecError(f"would change nothing: it replaces the default weight init, and {why}",
                    hint="drop `weight ...` from the layers it should set: a layer without one "
                         "takes the default weight init",
                    file=place)


def reach_text(sets: list[str] | None, keeps: list[str]) -> str:
    """Which layers a default weight init sets where some layers keep their own
    (:func:`default_weight_layers`, :func:`own_weight_layers`): ``sets the weights of c2; c1,
    fc name their own``, as ``init-report`` heads a variant's table and ``compare`` notes
    under its own; empty where it sets every layer with weights, or for the spec as written
    (``sets`` None)."""
    if sets is None or not keeps:
        return ""
    return (f"sets the weights of {names_text(sets)}; {names_text(keeps)} "
            f"{'name their' if len(keeps) > 1 else 'names its'} own")


def names_text(names: list[str], shown: int = 6) -> str:
    """``names`` comma-separated, the first ``shown`` of a longer list and how many more."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def with_default_weight(spec: Spec, init_ir: dict) -> Spec:
    """``spec`` with ``init_ir`` as the weight init of every layer whose weight init came from
    the model-wide default; other layers, and the spec itself, unchanged."""
    ir = copy.deepcopy(spec.ir)
    for layer in ir["layers"]:
        if WEIGHT_INIT_KEY in layer.get("default_inits", ()):
            layer[WEIGHT_INIT_KEY] = copy.deepcopy(init_ir)
    return dataclasses.replace(spec, ir=ir)


def _parse_init_option(init: str) -> dict:
    """The IR init of an ``--init`` text. Its mistakes name the option and its text: the text
    is no file, so a line and column inside it would point nowhere the user can look."""
    try:
        return parse_init(init)
    except SpecError as exc:
        raise init_option_error(exc, init) from exc


def init_option_error(error: SpecError, init: str) -> SpecError:
    """``error`` of the ``--init`` text ``init``, named by the option; where the text lists
    several inits with commas (`he_normal,zeros`, as ``--ignore`` lists lints), its hint
    repeats the option for each."""
    listed = _inits_listed(init)
    fields = hint_fields(error) if listed is None else {
        "hint": "each --init gives one init; repeat the option for each: "
                + " ".join(f"--init {shell_word(one)}" for one in listed)}
    return SpecError(error.message, **fields, file=init_place(init))


def _inits_listed(init: str) -> list[str] | None:
    """The inits of an ``--init`` text that lists several with commas (`he_normal,zeros`),
    each of which reads alone; None for any other text. A call's own commas
    (`normal(0, 0.01)`) part no inits: a text with brackets is not split."""
    parts = [part.strip() for part in init.split(",")]
    if len(parts) < 2 or any(bracket in init for bracket in "([{"):
        return None
    try:
        for part in parts:
            parse_init(part)
    except SpecError:
        return None
    return parts


def init_place(init: str) -> str:
    """The ``--init`` option that gave ``init``, as the file of its errors."""
    return option_place("--init", init)
