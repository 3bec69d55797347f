"""``--set KEY=V1,V2,...``: the swept settings, read as the language reads them and applied to
the IR.

A KEY names anything a spec sets:

- a training setting (``lr``, ``batch``, ``optimizer``, ``schedule``, ...; the keys and their
  aliases of :mod:`cnnspec.ir.training_catalogue`), read by the language's own reader;
- ``init`` or ``bias``: the model-wide default weight or bias init, replacing every init the
  spec took from its default (a layer that names its own keeps it, see
  :mod:`cnnspec.lab.variants`);
- ``LAYER.OPTION``: one layer's option as the language writes it (``conv1.filters``,
  ``conv2.kernel``, ``fc1.weight``, ``conv1.stride``), read by that layer kind's reader from
  the kinds registry;
- ``dtype``: the dtype a cell trains in (one of :data:`cnnspec.dtypes.DTYPES`), as train's
  ``--dtype`` sets it for one run; the IR holds no dtype, so it changes the cell, not its IR.

Values are written as in a spec (``normal(0, 0.01)``, ``sgd(momentum=0.9)``, ``5x5``) and
separated by commas outside parentheses and brackets. Every value becomes a change of the
resolved IR; the checker then checks each cell as it checks a spec.
"""
from __future__ import annotations

import copy
from dataclasses import replace

from cnnspec.dtypes import given_dtype
from cnnspec.errors import (
    SettingError,
    SpecError,
    SpecErrors,
    first_error,
    hint_fields,
    hinted,
    literal,
    option_place,
    reworded,
    shortened,
)
from cnnspec.init.describe import init_text
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import foreign_key_hint, value_text
from cnnspec.kinds import field_text
from cnnspec.kinds.fields import BIAS_INIT, WEIGHT_INIT
from cnnspec.lab.variants import refuse_changing_nothing, with_default_weight
from cnnspec.lang.ast import to_ast
from cnnspec.lang.inits import read_bias_init, read_init
from cnnspec.lang.layers import KINDS
from cnnspec.lang.parser import parse_tree
from cnnspec.lang.suggest import did_you_mean
from cnnspec.lang.training import KEY_ALIASES, READERS, given_hint
from cnnspec.records import record

# Settings a sweep sets itself: the seeds come from --seeds. Hints and the messages about
# the form of a setting are SettingError templates: the library names its parameters
# (sets=['lr=0.1'], seeds=K), the command line its options (--set lr=0.1, --seeds K).
NOT_SWEPT = {"seed": "the seeds of a sweep are 0..K-1 with {seeds:K}"}
# The swept setting that is no change of the IR: the dtype a cell trains in.
DTYPE = "dtype"
# The swept settings that replace the model-wide default inits, weight and bias, each with
# the layer field it sets where the layer took that field from the default.
INIT = "init"
BIAS = "bias"
SWEPT_INIT_FIELDS = {INIT: WEIGHT_INIT.name, BIAS: BIAS_INIT.name}


@record(frozen=True)
class Axis:
    """One swept setting: ``key`` as the training catalogue names it (:func:`setting_key`),
    the values as written (``texts``) and as IR values (``values``; None keeps the spec's
    own)."""

    key: str
    texts: tuple[str, ...]
    values: tuple
    # Where each value was given when not by a --set (compare's own --init options).
    places: tuple[str, ...] = ()
    # The key as the --set spelt it, where that is an alias of ``key`` (batch: batch_size).
    alias: str = ""

    @property
    def spelt(self) -> str:
        """The key as the user spelt it, which the messages about its values name."""
        return self.alias or self.key

    @property
    def spelt_note(self) -> str:
        """Where the key was spelt by an alias, a note naming the key as the checker's
        messages name it (`` (learning_rate is lr)``); else nothing."""
        return f" ({self.alias} is {self.key})" if self.alias else ""

    def option(self) -> str:
        """The ``--set`` option that gave this axis, as the user wrote it."""
        return f"--set {self.spelt}={','.join(self.texts)}"

    def typed_values(self, ir: dict) -> list:
        """The values as JSON carries them for the spec whose IR is ``ir`` (:func:`typed`);
        the spec's own (None: compare's spec as written) by its text."""
        return [text if value is None else typed(ir, self.key, value)
                for text, value in zip(self.texts, self.values)]

    def value_text(self, index: int) -> str:
        """Value ``index`` as the user gave it: its own option (``--init "zeros"``), else
        ``KEY=VALUE`` as a cell's label says it."""
        return self.places[index] if self.places else f"{self.key}={self.texts[index]}"


def split_values(text: str) -> list[str]:
    """``he_normal, normal(0, 0.01)`` -> ``["he_normal", "normal(0, 0.01)"]``: commas inside
    parentheses or brackets belong to a value."""
    values, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(text[start:i].strip())
            start = i + 1
    values.append(text[start:].strip())
    return values


def setting_key(key: str) -> str:
    """A ``--set`` key as the training catalogue names the setting (``batch``:
    ``batch_size``, ``learning_rate``: ``lr``), so that one setting has one name in a sweep's
    cells, labels and columns however a run spelt it; any other key as written."""
    return KEY_ALIASES.get(key, key)


def parse_set(option: str, spec: Spec) -> Axis:
    """The axis of one ``--set KEY=V1,V2`` text, its values read for ``spec``'s IR."""
    where = option_place("--set", option)
    given = "{sets:" + literal(shortened(option)) + "}"  # the setting as the caller gave it
    key, sep, rest = option.partition("=")
    key = key.strip()
    if not sep or not key or not rest.strip():
        raise SettingError(f"{given} is not KEY=VALUE[,VALUE...]", invalid=True,
                           hint="e.g. {sets:lr=0.1,0.01}")
    texts = split_values(rest)
    if "" in texts:
        raise SettingError(f"{given} has an empty value", invalid=True,
                           hint="separate the values with single commas, e.g. lr=0.1,0.01")
    repeated = sorted({t for t in texts if texts.count(t) > 1})
    if repeated:
        raise SettingError(f"{given} gives {literal(shortened(repeated[0]))} more than once",
                           invalid=True,
                           hint="name each value once; use {seeds:K} for repeated runs")
    if key == DTYPE:  # named as given: the dtype is no value of the language
        return Axis(key, tuple(texts), tuple(
            given_dtype(text, f"{given}: {DTYPE}", "{sets:dtype=float32,float64}")
            for text in texts))
    read = value_reader(key, spec.ir, where, among=len(texts) > 1)
    named = setting_key(key)
    return Axis(named, tuple(texts), tuple(read(text) for text in texts),
                alias="" if named == key else key)


def swept_dtypes(axes: list[Axis], dtype: str) -> tuple[str, ...]:
    """The dtypes a sweep's cells train in: the values of its ``dtype`` axis, else
    ``dtype``."""
    return next((axis.values for axis in axes if axis.key == DTYPE), (dtype,))


def cell_dtype(axes: list[Axis], combination: tuple[int, ...], dtype: str) -> str:
    """The dtype of the cell of ``combination`` (a value index per axis): its value of the
    ``dtype`` axis, else ``dtype``."""
    return next((axis.values[index] for axis, index in zip(axes, combination)
                 if axis.key == DTYPE), dtype)


def value_reader(key: str, ir: dict, where: str, among: bool = False):
    """A function reading one value text of ``key`` into its IR value; its mistakes are a
    :class:`SpecError` naming ``where`` (the option: a line and column inside the value
    would point nowhere the user can look). ``among``: ``where`` gives several values (``--set
    "lr=0.1,abc"``), so a mistake also names the value it is in (``lr=abc: ...``); where it
    gives this one alone it already shows it."""
    if key in NOT_SWEPT:
        raise SettingError(f"{key} cannot be swept with {{sets}}", hint=NOT_SWEPT[key],
                           invalid=True)
    if key == INIT:
        refuse_changing_nothing(ir, where)
        reader = lambda value: read_init(value, "the weight initializer")
    elif key == BIAS:
        reader = read_bias_init
    elif "." in key:
        reader = _layer_option_reader(key, ir, where)
    else:
        name = setting_key(key)
        if name not in READERS:
            known = [k for k in [INIT, BIAS, "LAYER.OPTION", DTYPE, *READERS,
                                 *KEY_ALIASES] if k not in NOT_SWEPT]
            # another library's name (Caffe's base_lr) is told ours, not a close spelling
            # (base_lr: bias); the train block's lines are no --set's
            raise SpecError(f"unknown setting '{shortened(key)}'", file=where,
                            hint=foreign_key_hint(key, lines=False)
                            or did_you_mean(key, known, "settings"))
        what = f"training setting '{key}'"
        reader = lambda value: READERS[name](value, what)

    def read(text: str):
        try:
            return reader(to_ast(parse_tree(text, start="init_expr")))
        except SpecError as exc:
            named = f"{shortened(f'{key}={text}')}: " if among else ""
            raise SpecError(named + exc.message, file=where,
                            **_reworded_hint(given_hint(exc), swept_template)) from None

    return read


def _layer_option_reader(key: str, ir: dict, where: str):
    layer_name, _, word = key.partition(".")
    layers = {layer["name"]: layer for layer in ir["layers"]}
    if layer_name not in layers:
        raise SpecError(f"the spec has no layer '{shortened(layer_name)}'", file=where,
                        hint=did_you_mean(layer_name, list(layers), "layers"))
    kind = layers[layer_name]["kind"]
    options = layer_options(kind)
    if word not in options:
        raise SpecError(f"a {kind} layer has no option '{shortened(word)}'", file=where,
                        hint=did_you_mean(word, list(options), f"{kind} options")
                        if options else f"a {kind} layer has no options to sweep")
    reader = options[word][1]
    what = f"{layer_name}.{word}"
    return lambda value: reader(value, what)


def layer_options(kind: str) -> dict:
    """Option word -> (IR field, reader) of a layer kind, as the language writes it: the
    positional values by their field name (``filters``, ``kernel``) and the named options
    (``stride``, ``pad``, ``weight``...)."""
    syntax = KINDS[kind]
    return {**{name: (name, reader) for name, reader in syntax.positional},
            **syntax.options}


def written_value(ir: dict, key: str) -> str | None:
    """What ``ir`` holds for the ``--set`` key ``key`` of a model-wide default init (``init``,
    ``bias``) or a layer's option (``LAYER.OPTION``), as the language writes it: the init of
    the layers that take the default (each init once, `` / `` between several), or the
    layer's value; None for another key, where no layer takes the default, or the IR has no
    such layer or value (a layer without a bias)."""
    if key in SWEPT_INIT_FIELDS:
        field = SWEPT_INIT_FIELDS[key]
        texts = dict.fromkeys(init_text(layer[field]) for layer in ir["layers"]
                              if field in layer.get("default_inits", ()) and field in layer)
        return " / ".join(texts) or None
    found = _layer_field(ir, key)
    if found is None or found[1] not in found[0]:
        return None
    layer, field = found
    return field_text(layer["kind"], field, layer[field])


def _layer_field(ir: dict, key: str) -> tuple[dict, str] | None:
    """The layer of ``ir`` and its IR field that the layer option ``key`` (``LAYER.OPTION``)
    sets; None for another key, or where the IR has no such layer or option."""
    layer_name, dot, word = key.partition(".")
    layer = next((layer for layer in ir["layers"] if layer["name"] == layer_name), None)
    if not dot or layer is None or word not in layer_options(layer["kind"]):
        return None
    return layer, layer_options(layer["kind"])[word][0]


def training_text(value) -> str:
    """A training setting's IR value as the language writes it: ``0.1``,
    ``sgd(momentum=0.9)``."""
    if not isinstance(value, dict):
        return value_text(value)
    args = ", ".join(f"{k}={training_text(v)}" for k, v in value.items() if k != "name")
    name = str(value.get("name", ""))
    return f"{name}({args})" if args and name else name or args


def held_value(ir: dict, key: str):
    """The value of the ``--set`` key ``key`` that ``ir`` holds, as JSON carries a setting
    (:func:`typed`); None where the IR does not say it. The default init (``init``,
    ``bias``) is :func:`written_value`'s text: the layers that take it may hold several."""
    if key in SWEPT_INIT_FIELDS:
        return written_value(ir, key)
    if "." in key:
        found = _layer_field(ir, key)
        return None if found is None else typed(ir, key, found[0].get(found[1]))
    return typed(ir, key, ir["training"].get(setting_key(key)))


def typed(ir: dict, key: str, value):
    """``value``, an IR value of the ``--set`` key ``key`` for the spec whose IR is ``ir``, as
    JSON carries a setting (results.json): a number, true or false, or a list of them (a
    kernel, class weights) as the IR holds it; a name as text (the dtype, a loss); an init,
    optimizer, schedule, dataset or transform as the language writes it
    (``normal(std=0.01)``, ``sgd(momentum=0.9, nesterov=false)``); None stays None (the
    spec's own, or not said), and so does the value of a layer option ``ir`` has no layer
    or option for, as :func:`held_value` finds none there."""
    if key in SWEPT_INIT_FIELDS and value is not None:
        return init_text(value)
    if "." in key:
        found = _layer_field(ir, key)
        if found is None:
            return value
        layer, field = found
        return _plain(value, lambda each: field_text(layer["kind"], field, each))
    return _plain(value, training_text)


def _plain(value, text):
    """``value`` with each object in it (an init, an optimizer) as ``text`` writes it; numbers,
    true or false, texts and None as they are."""
    if isinstance(value, dict):
        return text(value)
    if isinstance(value, list):
        return [_plain(each, text) for each in value]
    return value


def apply(ir: dict, key: str, value) -> dict:
    """A copy of ``ir`` with setting ``key`` at IR value ``value`` (None, or the dtype, which
    the IR does not hold: unchanged)."""
    if value is None or key == DTYPE:
        return ir
    if key == INIT:
        return with_default_weight(Spec(ir), value).ir
    ir = copy.deepcopy(ir)
    if key == BIAS:
        field = SWEPT_INIT_FIELDS[BIAS]
        for layer in ir["layers"]:
            if field in layer.get("default_inits", ()):
                layer[field] = copy.deepcopy(value)
    elif "." in key:
        layer, field = _layer_field(ir, key)
        layer[field] = copy.deepcopy(value)
        # Set by hand now: a swept default init no longer replaces it.
        if field in layer.get("default_inits", ()):
            layer["default_inits"] = [f for f in layer["default_inits"] if f != field]
    else:
        ir["training"][setting_key(key)] = copy.deepcopy(value)
    return ir


def check_value(spec: Spec, axis: Axis, index: int, check):
    """``spec`` with value ``index`` of ``axis`` alone, checked; a mistake is reported against
    the ``--set`` that produced it (the spec's own positions would point at what the value
    replaced)."""
    ir = apply(spec.ir, axis.key, axis.values[index])
    try:
        return check(swept_spec(spec, ir, [axis.key]))  # its positions kept: a warning's caret
    except (SpecError, SpecErrors) as exc:
        first = first_error(exc)
        if axis.places:  # an option of its own, which names the value
            raise SpecError(first.message, file=axis.places[index],
                            **hint_fields(first)) from None
        raise SpecError(f"{axis.spelt}={axis.texts[index]}{axis.spelt_note}: {first.message}",
                        file=axis.option(), **swept_hint(first, spec.overridden, [axis.spelt])
                        ) from None


def swept_spec(spec: Spec, ir: dict, keys) -> Spec:
    """``spec`` with the IR ``ir`` that a sweep's settings ``keys`` (its axes' keys) made of
    it, each training setting among them a run's, not the text's (:attr:`Spec.swept`):
    a hint names it as its ``--set`` (``--set loss=cross_entropy``), not as a line of the
    spec (``loss cross_entropy``)."""
    swept = {setting_key(key) for key in keys} & READERS.keys()
    return replace(spec, ir=ir, overridden=spec.overridden | swept, swept=frozenset(swept))


def swept_hint(error: SpecError, given=frozenset(), keys=()) -> dict:
    """``error``'s hint fields, each training setting it names as a run is given it (train's
    ``--data digits``) named as a sweep is given it (:func:`swept_template`). ``given``: the
    settings the sweep was given otherwise (its ``--epochs``), named as they were; ``keys``:
    the swept settings as the user spelt them (``batch`` for batch_size)."""
    return _reworded_hint(hint_fields(error),
                          lambda template: swept_template(template, given, keys))


def _reworded_hint(fields: dict, reword) -> dict:
    """An error's hint ``fields``, their template (where there is one) passed through
    ``reword``."""
    if fields["hint_template"] is None:
        return {"hint": fields["hint"]}
    return hinted(reword(fields["hint_template"]))


def swept_template(template: str, given=frozenset(), keys=()) -> str:
    """A hint ``template`` (see :class:`~cnnspec.errors.WordedError`) with each training
    setting it names as a run is given it (train's ``--data digits``, ``--lr 0.05``) named as
    a sweep is given it, ``--set data=digits`` (the library's ``sets=['data=digits']``): a
    sweep has no option of its own for them. ``given``: the settings the sweep was given
    otherwise (its ``--epochs``), named as they were; ``keys``: the swept settings as the user
    spelt them (``batch`` for batch_size; a swept ``dtype`` is named by its ``--set`` too, else
    as train's ``--dtype``, which a sweep takes as well)."""
    spelt = {setting: setting for setting in READERS if setting not in given}
    for key in keys:
        spelt[setting_key(key)] = key
    names = {setting: _as_set(written) for setting, written in spelt.items()}
    return reworded(template, {**names, "setting": _setting_as_set(names)})


def _setting_as_set(names: dict):
    """How a hint template names a setting given with its value in one field
    (``{setting:lr=0.1}``, :class:`~cnnspec.errors.SettingAsGiven`): as its ``--set``, spelt
    as it was written (``{sets:batch=8}``: a --set takes every spelling), where ``names``
    names it so; else (one the sweep was given otherwise) as it was."""
    def named(value: str) -> str:
        key, _, text = value.partition("=")
        canonical, _, written = key.partition(":")
        if canonical not in names:
            return "{setting:" + literal(value) + "}"
        return _as_set(written or canonical)(text)

    return named


def _as_set(key: str):
    """How a hint template names the setting ``key`` given by a ``--set`` (``{sets:KEY=V}``),
    from the value it was named with (none: the option itself)."""
    return lambda value: "{sets:" + literal(f"{key}={value}") + "}" if value else "{sets}"
