"""``check``: from an IR to a :class:`CheckedSpec`, or every mistake in it at once.

Layers are checked in IR order (a topological order). A layer whose input already failed is
skipped rather than reported again, so one mistake gives one message. Totals: parameters
(trainable and frozen), multiply-adds per image (conv and dense products; pooling and
activations are not counted, as in Keras and torchinfo), and activation memory per image (every
layer's output in float32, 4 bytes per value).
"""
from __future__ import annotations

import dataclasses
import math
import os

from cnnspec.check import lint_catalogue, lints, memory, signal, training
from cnnspec.check.copies import folded
from cnnspec.check.exact import exact
from cnnspec.check.graph import INPUT, structure_errors
from cnnspec.check.inits import describe_inits
from cnnspec.check.layers import check_held, infer
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.silence import Silences, spec_silences
from cnnspec.dtypes import DEFAULT_DTYPE, VALUE_BYTES, given_dtype
from cnnspec.errors import SettingError, SpecError, SpecErrors, literal
from cnnspec.given import given_bytes, given_flag, shown
from cnnspec.ir.spec import Spec
from cnnspec.kinds import KINDS

# More values than this in one weight or one image's layer output (8 GiB of float32) cannot be
# built or trained on one machine; it is almost always a mistyped size.
MAX_VALUES = 2**31


def _too_many(values: int) -> str:
    """The end of a message about an array of ``values`` values above ``MAX_VALUES``."""
    gib = values * memory.BYTES_PER_VALUE // 2**30  # whole numbers: sizes may be huge
    return f"would hold {values:,} values ({gib:,} GiB of float32), more than cnnspec can build"


def _input_size_error(spec: Spec) -> SpecError | None:
    """An error at the input line if one image is too large to build, else None: every layer
    after it would be refused for it, the first one blamed for the input's size."""
    values = math.prod(spec.ir["input"]["shape"])
    if values <= MAX_VALUES:
        return None
    return spec.error(f"one input image {_too_many(values)}", INPUT,
                      hint="check the input's sizes for a mistyped number "
                           "(channels x height x width, e.g. 3x32x32)")


def _size_error(spec: Spec, layer: dict, info: LayerInfo) -> SpecError | None:
    """An error if the layer's weight or output is too large to build, else None."""
    for what, shape in (("weight", info.weight_shape), ("output", info.output_shape)):
        values = math.prod(shape) if shape else 0
        if values > MAX_VALUES:
            return spec.error(
                f"the {what} of {layer['kind']} '{layer['name']}' {_too_many(values)}",
                layer["name"], KINDS[layer["kind"]].size_field,
                hint="check this layer's sizes and the ones before it for a mistyped number")
    return None


def _infer_all(spec: Spec, errors: list[SpecError], dtype: str) -> list[LayerInfo]:
    """LayerInfo for every layer whose inputs are known, its settings and inits checked for
    ``dtype``; errors collected on the way (an input too large to build: that one alone)."""
    too_large = _input_size_error(spec)
    if too_large:
        errors.append(too_large)
        return []
    known: dict[str, tuple[int, ...]] = {INPUT: tuple(spec.ir["input"]["shape"])}
    infos = []
    for layer in spec.ir["layers"]:
        if any(name not in known for name in layer["inputs"]):
            continue  # an earlier error already explains it
        try:
            info = infer(spec, layer, [known[name] for name in layer["inputs"]])
            check_held(spec, layer, dtype)
            too_large = _size_error(spec, layer, info)
            if too_large:
                raise too_large
            describe_inits(spec, layer, info, dtype)
        except SpecError as err:
            errors.append(err)
            continue
        known[info.name] = info.output_shape
        infos.append(info)
    return infos


def _warnings(spec: Spec, infos: list[LayerInfo], dtype: str
              ) -> tuple[list[SpecError], signal.Estimate]:
    """Lints of a spec without errors (so every layer has its LayerInfo), trained in ``dtype``,
    in the catalogue's order, and the signal estimate they read (which summary reads too)."""
    # the layer graph and the signal's moments, worked out once for every lint
    estimate = signal.Estimate.of(spec, infos)
    facts = exact(spec, estimate)  # what holds at every step, for every lint that reads it
    found = lint_catalogue.Found(spec=spec, infos=infos, dtype=dtype, estimate=estimate,
                                 facts=facts)
    return lint_catalogue.run_all(found), estimate


def _given_spec(spec) -> Spec:
    """``spec``, a parsed :class:`Spec`; a :class:`CheckedSpec` is checked again from its own
    (another dtype, ``strict``). A path or a text is a :class:`SettingError` pointing to
    :func:`cnnspec.load`, which reads a file and checks it: it ended in an AttributeError."""
    if isinstance(spec, CheckedSpec):
        return spec.spec
    if isinstance(spec, Spec):
        return spec
    said = "a path" if isinstance(spec, (str, os.PathLike)) else shown(spec)
    raise SettingError(f"check() takes a parsed spec, not {literal(said)}", invalid=True,
                       hint=literal(READ_AND_CHECK))


# How a library caller checks a spec, for a hint: the function that does it, for a file or text.
READ_AND_CHECK = ("cnnspec.load(path) reads a .cnn or .json file and checks it; "
                  "check(cnnspec.parse(text)) checks a spec's text")


def as_error(warning: SpecError) -> SpecError:
    """``warning`` as an error (``--strict``)."""
    return dataclasses.replace(warning, severity="error")


def check(spec: Spec, strict: bool = False, max_memory: int | None = None,
          dtype: str = DEFAULT_DTYPE, for_training: bool = True, ignore=()) -> CheckedSpec:
    """Shapes, parameters, fans and inits of every layer of ``spec`` (each init's values held
    by ``dtype``, the dtype the weights are trained in), and the memory a training step in
    ``dtype`` needs (against ``max_memory`` bytes, the machine's memory when None).
    With ``for_training`` False (a spec summarised, drawn or exported, a trained run evaluated)
    a training process that would not fit, or data of the training settings that does not fit
    the network, is a warning: nothing trains here.

    Raises one :class:`SpecErrors` with every error found (and the warnings, which ``strict``
    turns into errors); otherwise the warnings are in ``CheckedSpec.warnings``. Either way a
    diagnostic that holds alike for several copies of a repeat block is one, which names them
    (:func:`~cnnspec.check.copies.folded`). ``strict``,
    ``max_memory`` and ``dtype`` of the wrong kind are a :class:`SettingError` naming them.
    ``ignore``: the names of lints whose warnings are left out (and so not made errors by
    ``strict``), a comma-separated text or an iterable; a spec's ``# cnnspec: ignore[NAME]``
    comment leaves them out at its line, its ``# cnnspec: ignore-file[NAME]`` everywhere in it
    (:mod:`cnnspec.check.silence`).
    """
    spec = _given_spec(spec)
    strict, dtype = given_flag(strict, "strict"), given_dtype(dtype)
    max_memory = given_bytes(max_memory, "max_memory")
    return _check(spec, strict, max_memory, dtype, for_training, ignore, lint=True)


def refuse(spec: Spec, dtype: str = DEFAULT_DTYPE) -> None:
    """Raise the :class:`SpecErrors` that ``check(spec, dtype=dtype, for_training=False)``
    raises, without running the lints: for a caller that asks only whether a spec is refused
    and why, and never shows a warning (a line tried in the place of the user's,
    :mod:`cnnspec.check.load`; an export's check; a run's spec read back). The lints are most
    of a check's work on a deep spec: the whole command on a 599-layer residual spec with
    such a tried line took 2,399 M instructions (valgrind's ``I refs``) with the tried spec's
    lints, 717 M without."""
    _check(spec, False, None, dtype, False, (), lint=False)


def _check(spec: Spec, strict: bool, max_memory: int | None, dtype: str, for_training: bool,
           ignore, lint: bool) -> CheckedSpec:
    """:func:`check` of its arguments, checked; the lints' warnings looked for where ``lint``
    (else that CheckedSpec's warnings leave them out)."""
    silences, errors = spec_silences(spec, ignore)
    errors += structure_errors(spec)
    if errors:  # names and references must hold before shapes mean anything
        raise SpecErrors(folded(spec, errors))
    errors += lints.softmax_placement(spec) + training.settings_errors(spec, dtype)
    infos = _infer_all(spec, errors, dtype)
    warnings = []
    if not errors:  # the data against the network needs every layer's shape
        misfit = training.data_misfits(spec, infos)
        if for_training:
            errors += misfit
        else:  # described, drawn or exported: what train would refuse is said, not refused
            warnings += lint_catalogue.named(
                training.data_misfits,
                [dataclasses.replace(e, severity="warning") for e in misfit])
    step_memory = memory.training_estimate(spec, infos, dtype) if not errors else None
    if step_memory is not None:
        found = memory.memory_problems(
            spec, step_memory, max_memory,
            memory_at=lambda batch: memory.estimate(memory.at_batch(spec, batch), infos, dtype))
        if not for_training:
            found = [dataclasses.replace(e, severity="warning") for e in found]
        errors += [e for e in found if e.severity == "error"]
        warnings += lint_catalogue.named(memory.memory_problems,
                                         [w for w in found if w.severity == "warning"])
    dies = None
    if errors:
        warnings = []
    elif lint:
        lint_warnings, estimate = _warnings(spec, infos, dtype)
        found = lint_warnings + warnings
        found += lint_catalogue.unused_ignores(spec, silences, found, dtype)
        warnings = silences.kept(found)
        dies = None if estimate.dying is None else estimate.dying.layer.name
    if strict:
        errors += [as_error(w) for w in warnings]
        warnings = []
    if errors:
        raise SpecErrors(folded(spec, errors + warnings))
    return _checked(spec, infos, folded(spec, warnings), step_memory, dtype, dies, silences)


def _checked(spec: Spec, infos: list[LayerInfo], warnings: list[SpecError],
             step_memory: memory.MemoryEstimate, dtype: str,
             signal_dies: str | None, silences: Silences) -> CheckedSpec:
    output = next(info for info in infos if info.name == spec.ir["output"])
    total = sum(info.params for info in infos)
    trainable = sum(info.trainable_params for info in infos)
    return CheckedSpec(
        spec=spec, layers=infos, input_shape=tuple(spec.ir["input"]["shape"]),
        output_shape=output.output_shape, total_params=total, trainable_params=trainable,
        frozen_params=total - trainable, macs=sum(info.macs for info in infos),
        activation_memory=VALUE_BYTES[dtype] * sum(math.prod(i.output_shape) for i in infos),
        step_memory=step_memory, warnings=warnings, dtype=dtype, signal_dies=signal_dies,
        silences=silences)
