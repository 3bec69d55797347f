"""The ``train { ... }`` block -> the IR's ``training`` object (docs/ir.md, "Training").

Each key has one reader; unknown keys are errors with a suggestion, never ignored. The result
always holds every key, defaults filled in, so the trainer reads the IR only.

The keys, their defaults and ranges, and the optimizers, schedules, preprocessings and losses
with their arguments are declared in :mod:`cnnspec.ir.training_catalogue`, the datasets in
:mod:`cnnspec.ir.datasets`; each reader here follows from a declared type and range.
"""
from __future__ import annotations

import copy
from collections.abc import Callable

from cnnspec.errors import Mend, Span, SpecError, hint_fields, hinted, listed, literal
from cnnspec.ir import training_catalogue as catalogue
from cnnspec.ir.datasets import ALIASES as DATASET_ALIASES
from cnnspec.ir.datasets import DATASETS as DATASET_KINDS
from cnnspec.ir.datasets import SHAPE_CLASSES, Arg, canonical_name, problems
from cnnspec.ir.training_catalogue import Arg as TrainingArg
from cnnspec.ir.training_catalogue import Entry, Key, meant_names, name_hints
from cnnspec.lang import values as read
from cnnspec.lang.ast import Call, ListLit, Setting, Value, Word, describe
from cnnspec.lang.calls import REQUIRED, Param, argument, bind
from cnnspec.lang.source_text import one_line
from cnnspec.lang.suggest import did_you_mean
from cnnspec.lang.syntax_errors import layer_in_train, layer_written
from cnnspec.lang.unknown_setting import unknown_setting, value_text
from cnnspec.records import record


def _path(value: Value, what: str) -> str:
    path = read.string(value, what)
    if not path:
        raise SpecError(f"{what} is empty", span=value.span,
                        hint='write the file\'s path between the quotes, e.g. "data/train.npz"')
    return path


def _shape_classes(value: Value, least: int) -> list[str]:
    classes = read.word_list(value, "shape classes", list(SHAPE_CLASSES), "shape class")
    if len(classes) < least:
        raise SpecError(f"shapes needs at least {least} classes, got {len(classes)}",
                        span=value.span,
                        hint=f"a classifier needs something to tell apart: add one of "
                        f"{', '.join(c for c in SHAPE_CLASSES if c not in classes)}")
    return classes


# How the language reads each kind of dataset argument (cnnspec.ir.datasets.Arg.kind); the
# ranges are the declared ones.
_ARG_READERS: dict[str, Callable[[Value, str, Arg], object]] = {
    "int": lambda v, what, arg: read.whole_number(v, what, int(arg.minimum), arg.hint),
    "number": lambda v, what, arg: read.number(v, what),
    "classes": lambda v, what, arg: _shape_classes(v, int(arg.minimum)),
    "path": lambda v, what, arg: _path(v, what),
    "bool": lambda v, what, arg: read.boolean(v, what),
}


def _dataset_param(arg: Arg) -> Param:
    """A dataset argument as a parameter of the call that names the dataset."""

    def reader(value: Value, what: str) -> object:
        out = _ARG_READERS[arg.kind](value, what, arg)
        problem = arg.problem(out)
        if problem:
            raise SpecError(f"{what} {problem}", span=value.span, hint=arg.hint)
        return out

    return Param(arg.name, REQUIRED if arg.default is None else arg.default, reader)


DATASETS: dict[str, list[Param]] = {
    name: [_dataset_param(arg) for arg in kind.args] for name, kind in DATASET_KINDS.items()}


def _check_dataset(call: Word | Call, settings: dict) -> None:
    """Arguments that are fine one by one but not together (a few images for each class)."""
    name = canonical_name(call.name)
    for problem in problems({"name": name, **settings}):
        value = argument(call, DATASETS[name], problem.arg)
        raise SpecError(problem.message, span=value.span if value is not None else call.span,
                        hint=problem.hint)


def value_reader(arg: TrainingArg) -> Callable[[Value, str], object]:
    """How the language reads a value of ``arg``, from its declared type and range."""
    if arg.type == "bool":
        return read.boolean
    if arg.type == "int":
        high = None if arg.high is None else int(arg.high)
        return lambda value, what: read.whole_number(value, what, int(arg.low), arg.hint, high)
    if arg.type == "ints":
        return lambda value, what: read.increasing_whole_numbers(value, what, int(arg.low),
                                                                 arg.hint)
    if arg.type == "numbers":
        return read.list_of(value_reader(arg.each()))
    return read.bounded_number(arg.hint, arg.low, arg.high, arg.low_open, arg.high_open)


def _params(entries: dict[str, Entry]) -> dict[str, list[Param]]:
    return {name: [Param(a.name, a.default, value_reader(a)) for a in entry.args]
            for name, entry in entries.items()}


# Settings written as a call, and the parameters of each name.
CALLS: dict[str, dict[str, list[Param]]] = {
    "data": DATASETS,
    **{name: _params(key.catalogue) for name, key in catalogue.KEYS.items() if key.objects}}
DEFAULTS = catalogue.defaults()


def _named(catalogue: dict[str, list[Param]], what: str, aliases: dict[str, str] | None = None,
           check: Callable[[Word | Call, dict], None] | None = None,
           entries: dict[str, Entry] | None = None,
           first_argument: str | None = None,
           setting: str | None = None) -> Callable[[Value, str], dict]:
    """A reader for `name` or `name(args)` among ``catalogue``; ``entries``: the catalogue's
    entries, whose other libraries' names (:func:`name_hints`) and arguments
    (``foreign_args``) are answered; ``first_argument``: why a name given first, where every
    entry's first parameter takes a number, is PyTorch's object the call leaves out
    (:data:`catalogue.TORCH_FIRST_ARGUMENTS`); ``setting``: the training key whose value the
    call is (None: an item of a list)."""
    foreign = name_hints(entries) if entries is not None else {}
    meant = meant_names(catalogue, entries)

    def reader(value: Value, _what: str) -> dict:
        if not isinstance(value, (Word, Call)):
            raise SpecError(f"{what} must be a name such as {next(iter(catalogue))}, "
                            f"not {describe(value)}", span=value.span,
                            hint=f"valid {what}s: {', '.join(sorted(catalogue))}")
        name = (aliases or {}).get(value.name, value.name)
        if name not in catalogue:
            span = value.name_span if isinstance(value, Call) else value.span
            target = meant.get(value.name.lower())
            raise SpecError(f"unknown {what} '{value.name}'", span=span,
                            hint=(foreign.get(value.name.lower())
                                  or did_you_mean(value.name, catalogue, what + "s", aliases))
                            + _with_arguments(value, target, catalogue),
                            # the name mended, the rest of the call is checked in turn
                            # (PyTorch's SGD(lr=0.1): its lr is a line of its own here)
                            mend=None if target is None else Mend(
                                span, target, f"{value.name} is {target} here"))
        _refuse_first_argument(value, first_argument)
        _refuse_settings_as_arguments(value, catalogue[name], what, setting)
        if entries is not None:
            _refuse_foreign_args(value, entries[name], what)
        settings = bind(value, catalogue[name], f"{what} {value.name}")
        if check is not None:
            check(value, settings)
        return {"name": name, **settings}

    return reader


def _with_arguments(value: Word | Call, name: str | None,
                    catalogue: dict[str, list[Param]]) -> str:
    """For a call of another name of ``name`` (PyTorch's ``StepLR(step_size=5)``, ``SGD``)
    whose arguments are all ``name``'s own keywords: the call under that name, arguments
    kept ("; with its arguments, `step(step_size=5)`"); else nothing, the hint's bare name
    leaving an argument that is no parameter of it to the next check to tell. Values by
    position are another library's order (torchvision's ``RandomCrop(2)`` is its size, not
    crop's pad), so a call with them gets nothing."""
    if name is None or not isinstance(value, Call) or value.args or not value.kwargs:
        return ""
    params = {param.name for param in catalogue[name]}
    if any(kwarg.name not in params for kwarg in value.kwargs):
        return ""
    return f"; with its arguments, `{name}{one_line(value)[len(value.name):]}`"


def _refuse_foreign_args(value: Word | Call, entry: Entry, what: str) -> None:
    """Stop at an argument another library gives ``entry`` (PyTorch's ``betas=``), with the
    arguments it is here and the values written given to them."""
    for kwarg in value.kwargs if isinstance(value, Call) else []:
        foreign = entry.foreign_arg(kwarg.name)
        if foreign is not None:
            raise SpecError(f"{what} {value.name} has no parameter '{kwarg.name}'",
                            span=kwarg.name_span, hint=foreign.hint(entry))


def _call_text(value: Call, args: list[Value], kwargs: list) -> str:
    """``value`` written with ``args`` and ``kwargs`` alone: its name bare without either."""
    return one_line(Call(value.name, value.name_span, args, kwargs, value.span)) \
        if args or kwargs else value.name


def _refuse_first_argument(value: Word | Call, why: str | None) -> None:
    """Stop at a name given first to an optimizer or a schedule (PyTorch's ``SGD(params,
    lr=0.1)``, ``StepLR(optimizer, 30)``), with the call without it as the mend."""
    if why is None or not isinstance(value, Call) or not value.args \
            or not isinstance(value.args[0], Word) \
            or value.args[0].name.lower() in ("true", "false"):  # a flag given out of place
        return
    first = value.args[0]
    call = _call_text(value, value.args[1:], value.kwargs)
    raise SpecError(f"{value.name} takes numbers, not '{first.name}'", span=first.span,
                    hint=f"leave `{first.name}` out, `{call}`: {why}",
                    mend=Mend(value.span, call, f"`{first.name}` left out"))


@record
class SettingsInCall(SpecError):
    """A training setting written as an argument of a call (``adam(lr=0.001)``). ``hint``
    tells the train block's lines; ``as_settings`` is the hint for a value given as a run's
    setting (sweep's ``--set``, train's ``--data``, the library's ``data=``), where there is
    no train block: a template (:class:`~cnnspec.errors.WordedError`) naming each moved
    setting with its value (``{setting:lr=0.001}``, :class:`~cnnspec.errors.SettingAsGiven`:
    as the front end can give it, which may be no way at all) and the call without them as
    the setting it is (``{optimizer:adam}``), which each front end words its way."""

    as_settings: str | None = None


def given_hint(error: SpecError) -> dict:
    """``error``'s hint fields for a value a run was given rather than a spec's line: a
    setting written as an argument is told as a setting of the run (``--set lr=0.01``), not
    as a line of the train block."""
    if isinstance(error, SettingsInCall) and error.as_settings is not None:
        return hinted(error.as_settings)
    return hint_fields(error)


def _refuse_settings_as_arguments(value: Word | Call, params: list[Param], what: str,
                                  setting: str | None) -> None:
    """Stop at a training setting written as an argument, as PyTorch's and Keras' optimizers
    take them (``optimizer adam(lr=0.001)``, ``sgd(weight_decay=5e-4)``): here each is a line
    of the train block, read by every optimizer alike. The hint writes every such argument
    as its line and the call without them, which the error's mend writes in the call's place.
    ``setting``: the training key the call is the value of, by which a run is given it (None
    for an item of a list, which a run gives as the whole list)."""
    names = {param.name for param in params}
    settings = [kwarg for kwarg in (value.kwargs if isinstance(value, Call) else [])
                if kwarg.name not in names and KEY_ALIASES.get(kwarg.name, kwarg.name)
                in catalogue.KEYS]
    if not settings:
        return
    moved = [(KEY_ALIASES.get(kwarg.name, kwarg.name), kwarg.name, one_line(kwarg.value))
             for kwarg in settings]
    lines = listed([f"`{key} {text}`" for key, _, text in moved])
    kept = [kwarg for kwarg in value.kwargs if all(kwarg is not s for s in settings)]
    call = _call_text(value, value.args, kept)
    them = "it" if len(settings) == 1 else "each"
    given = None if setting is None else (
        f"give {them} as a setting of its own: "
        + listed(["{setting:" + literal(f"{key}{'' if written == key else ':' + written}="
                                        f"{text}") + "}" for key, written, text in moved])
        + f", and the {what} as {{{setting}:{literal(call)}}}")
    raise SettingsInCall(f"'{settings[0].name}' is a training setting of its own, not an "
                         f"argument of {what} {value.name}", span=settings[0].name_span,
                         hint=f"write {them} on its own line in the train block: {lines}, "
                         f"and the {what} as `{call}`",
                         mend=Mend(value.span, call, f"{lines} on " + (
                             "a line of its own" if len(settings) == 1
                             else "lines of their own")),
                         as_settings=given)


def _key_reader(key: Key) -> Callable[[Value, str], object]:
    """How the language reads the value of a training key. Arguments of an optimizer that are
    fine one by one but not together (nesterov without momentum) are left to the checker,
    which reports the catalogue's rules for a ``.cnn`` file and a ``.json`` IR alike."""
    if key.name == "data":
        return _named(DATASETS, "dataset", DATASET_ALIASES, _check_dataset, setting="data")
    if key.arg is not None:
        return value_reader(key.arg)
    if key.many:
        return _many(_named(CALLS[key.name], key.words, entries=key.catalogue))
    if key.objects:
        return _named(CALLS[key.name], key.words, entries=key.catalogue,
                      first_argument=catalogue.TORCH_FIRST_ARGUMENTS.get(key.name),
                      setting=key.name)
    hints, meant = name_hints(key.catalogue), meant_names(key.catalogue, key.catalogue)
    return lambda value, what: read.choice(value, key.words, list(key.catalogue), hints, meant)


def _many(read_each: Callable[[Value, str], dict]) -> Callable[[Value, str], list]:
    """A reader of a list of named calls (``[crop(pad=2), flip]``; one alone needs no
    brackets: ``augment flip``)."""

    def reader(value: Value, what: str) -> list:
        items = value.items if isinstance(value, ListLit) else [value]
        return [read_each(item, what) for item in items]

    return reader


# IR key -> reader. Written keys are these, plus the aliases.
READERS: dict[str, Callable[[Value, str], object]] = {
    name: _key_reader(key) for name, key in catalogue.KEYS.items()}
KEY_ALIASES = catalogue.KEY_ALIASES


def read_training(settings: list[Setting], errors: list[SpecError],
                  spans: dict[tuple[str, str | None], Span], opened: int | None = None) -> dict:
    """The full training object; mistakes are appended to ``errors``, spans recorded.
    ``opened``: the line of `train {`, for a layer written inside the block."""
    training = copy.deepcopy(DEFAULTS)
    seen: dict[str, Setting] = {}
    for setting in settings:
        key = KEY_ALIASES.get(setting.key, setting.key)
        # `dropout 0.5`, `dense 10`, `c1 relu`: a layer that reads as a setting with one value
        layer = layer_written(setting.key, _head_word(setting.value))
        if layer is not None:
            kind, label = layer
            message, hint = layer_in_train(kind, opened, label)
            errors.append(SpecError(message, span=setting.span, hint=hint))
            continue
        if key not in READERS:
            errors.append(unknown_setting(setting.key, setting.key_span,
                                          value_text(setting.value)))
            continue
        if key in seen:
            errors.append(SpecError(f"training setting '{setting.key}' is given twice",
                                    span=setting.key_span,
                                    hint=f"first given on line {seen[key].span.line}"))
            continue
        seen[key] = setting
        try:
            training[key] = READERS[key](setting.value, f"training setting '{setting.key}'")
        except SpecError as err:
            errors.append(err)
            continue
        spans[("training", key)] = setting.span
        _record_argument_spans(key, setting.value, training[key], spans)
    return training


def _head_word(value: Value) -> str | None:
    """The name a setting's value starts with (`relu`, `conv` of `conv(8, 3)`), else None."""
    return value.name if isinstance(value, (Word, Call)) else None


def _record_argument_spans(key: str, value: Value, read: object,
                           spans: dict[tuple[str, str | None], Span]) -> None:
    """Where each argument written in a call such as ``sgd(momentum=0, nesterov=true)`` is, as
    ``("training", "optimizer.nesterov")``, so the checker can point at the argument."""
    catalogue = CALLS.get(key)
    if catalogue is not None and isinstance(read, list):  # a list of calls: augment[i].arg
        items = value.items if isinstance(value, ListLit) else [value]
        for i, (item, one) in enumerate(zip(items, read)):
            spans[("training", f"{key}[{i}]")] = item.span
            _record_call_spans(f"{key}[{i}]", item, catalogue[one["name"]], spans)
        return
    if catalogue is None or not isinstance(value, Call):
        return
    _record_call_spans(key, value, catalogue[read["name"]], spans)


def _record_call_spans(where: str, value: Value, params: list[Param],
                       spans: dict[tuple[str, str | None], Span]) -> None:
    if not isinstance(value, Call):
        return
    for param in params:
        written = argument(value, params, param.name)
        if written is not None:
            spans[("training", f"{where}.{param.name}")] = written.span
