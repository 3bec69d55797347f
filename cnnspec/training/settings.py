"""The training settings of one run: the spec's ``training`` block with a run's overrides.

:class:`Settings` holds what a run may change (the CLI's ``--epochs``, ``--lr``,
``--batch-size``, ``--seed``, ``--data``, ``--cores``). The overrides are checked here, recorded in
``summary.json`` and written into the run's ``spec.json``, so that the run folder alone says
exactly how it was trained.
"""
from __future__ import annotations

import copy
import dataclasses
import os

from cnnspec.data import parse_data_arg
from cnnspec.data.names import NPZ_PREFIX, unknown_dataset
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SettingError, SpecError, closest, literal, shortened
from cnnspec.given import keywords_checked, plain, shown
from cnnspec.ir.datasets import DATASETS, canonical_name, problems, with_defaults
from cnnspec.ir.spec import Spec
from cnnspec.ir.training_catalogue import (
    FOREIGN_KEY_NAMES,
    KEY_ALIASES,
    KEYS,
    foreign_key_hint,
    refuse_whole_setting,
)
from cnnspec.lang import parse_data
from cnnspec.lang.training import given_hint
from cnnspec.records import record
from cnnspec.sourcefile import located

OVERRIDABLE = ("epochs", "lr", "batch_size", "seed", "data", "cores")


@record(frozen=True)
class Settings:
    """What a run changes of its spec's training settings; None keeps the spec's own.

    ``data`` is a dataset name (``"digits"``, ``"shapes"``, ``"fashion-mnist"``), ``"npz:PATH"``
    or an IR data object (``{"name": "shapes", "size": 16}``).
    """

    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    seed: int | None = None
    data: str | dict | None = None
    cores: int | None = None

    @property
    def named(self) -> tuple[str, ...]:
        """The keys of the settings given (not None), in :data:`OVERRIDABLE` order."""
        return tuple(key for key in OVERRIDABLE if getattr(self, key) is not None)

    def overrides(self, dtype: str = DEFAULT_DTYPE) -> dict:
        """The settings given (:attr:`named`), each checked against the range the spec's own
        setting has in a run that trains in ``dtype`` (cnnspec/ir/training_catalogue.py);
        raises :class:`SettingError`."""
        given = {key: plain(getattr(self, key)) for key in self.named}
        for key in ("epochs", "batch_size", "seed", "cores"):
            if key in given:
                given[key] = refuse_whole_setting(
                    key, given[key], "e.g. {epochs:10} {batch_size:64} {seed:0} {cores:2}")
        if "lr" in given:
            problem = KEYS["lr"].arg.problem(given["lr"], dtype)
            if problem:  # the spec's own words for it (an lr float32 rounds to 0, say)
                raise SettingError(f"{{lr}} {literal(problem)}", "e.g. {lr:0.01}", invalid=True)
            given["lr"] = float(given["lr"])
        if "data" in given:
            given["data"] = given_data(given["data"])
        return given


def meant_setting(key: str) -> tuple[str, str] | None:
    """The training setting (a key of the train block) a keyword ``key`` means, and how:
    ``"own"`` (it is one), ``"alias"`` (the language's other spelling: ``learning_rate``),
    ``"foreign"`` (another library's name: Caffe's ``base_lr``, FOREIGN_KEYS) or ``"close"``
    (a misspelling: ``epoch``); None where it means none."""
    if key in KEYS:
        return key, "own"
    if key in KEY_ALIASES:
        return KEY_ALIASES[key], "alias"
    # a name of several meanings (decay) is said with all of them by foreign_key_hint
    foreign = [f.key for f in FOREIGN_KEY_NAMES.get(key.lower(), ()) if f.key]
    if foreign:
        return foreign[0], "foreign"
    near = closest(key, [*KEYS, *KEY_ALIASES])
    return (KEY_ALIASES.get(near, near), "close") if near else None


# A keyword this close to an argument of the function refused it (seed to sweep's seeds, a
# letter apart) more likely means that argument than the training setting it names; one that
# only begins an argument's name (data for data_dir, 0.67) means the setting.
OWN_ARGUMENT_CLOSENESS = 0.8


def setting_keyword_hint(key: str, value, takes: list[str], via: str | None = None):
    """The hint for a keyword ``key`` (given ``value``) that a function taking ``takes``
    refuses, where ``key`` means a training setting (:func:`meant_setting`): the keyword that
    takes it, or ``via`` (``settings=cnnspec.Settings``, for a function taking a Settings) for
    a run's setting, or the spec's train block for the others (and for a run's setting the
    function is not given), after the function's own argument of a name as close as a letter
    (``seeds=`` for ``seed``, then the setting seed); None where it means no setting, or where
    ``key`` is a misspelling closer to one of ``takes``."""
    hint = _setting_hint(key, value, takes, via)
    own = closest(key, takes, OWN_ARGUMENT_CLOSENESS)
    if hint is None or own is None:
        return hint
    name, how = meant_setting(key)
    if own == name:
        return hint
    if how == "close":
        return None  # a misspelling (seedz) of the argument rather than of the setting
    return f"did you mean {own}=? ({hint})"


def _setting_hint(key: str, value, takes: list[str], via: str | None) -> str | None:
    """:func:`setting_keyword_hint` but for the function's own argument of a close name."""
    meant = meant_setting(key)
    if meant is None:
        return None
    name, how = meant
    other = closest(key, takes)
    if how == "close" and other not in (None, name) and closest(key, [other, name]) == other:
        return None  # a misspelling of another keyword the function takes: that one is meant
    # another library's value may count other things (iterations for epochs): not copied
    given = "..." if how == "foreign" else shortened(repr(plain(value)))
    if name in takes or via is not None and name in OVERRIDABLE:
        where = f"{name}={given}" if name in takes else f"{via}({name}={given})"
        return {"own": f"{key} is a setting of the run: {where}",
                "alias": f"{key} is written {name} here: {where}",
                "foreign": f"{foreign_key_hint(key, lines=False)}; give it as {where}",
                "close": f"did you mean {where}?"}[how]
    if name in OVERRIDABLE:  # a run's setting this function is not given (compare's data)
        taken = [setting for setting in OVERRIDABLE if setting in takes]
        block = (f"{name} is not given here: write it in the spec's train block (`{name} ...`)"
                 + (f"; of a run's settings this takes {', '.join(taken)}" if taken else ""))
    else:
        block = (f"{name} is the spec's own setting, written in its train block (`{name} ...`); "
                 f"a run changes only {', '.join(OVERRIDABLE)}")
    return {"own": block, "alias": f"{key} is written {name} here; {block}",
            "foreign": f"{foreign_key_hint(key, lines=False)}; {block}",
            "close": f"did you mean {name}? {block}"}[how]


# Settings(epoch=3) is told epochs=3, not Python's "unexpected keyword argument".
Settings.__init__ = keywords_checked("cnnspec.Settings", setting_keyword_hint)(Settings.__init__)


def given_data(value) -> dict:
    """The IR data object of a ``data`` setting: a text as :func:`data_setting` reads it, an
    IR data object with its defaults. Anything else is a :class:`SettingError`; a ``Path`` (an
    npz file's, most likely) is told how to write it."""
    if isinstance(value, str):
        return data_setting(value)
    if isinstance(value, dict):
        return _checked_data(with_defaults(_named_data(value)))
    example = f"{NPZ_PREFIX}{value}" if isinstance(value, os.PathLike) else "digits"
    raise SettingError(f"{{data}} takes a dataset's name or an IR data object, not "
                       f"{shown(value)}", hint=f"e.g. {{data:{literal(example)}}}", invalid=True)


# An IR data object, as a hint's example of one.
DATA_OBJECT = {"name": "shapes", "size": 16}


def _named_data(data: dict) -> dict:
    """An IR data object a caller gives (``{"name": "shapes", "size": 16}``), refused unless
    it names a dataset: without a name, or with a name that is no text, it is told the form;
    a name no dataset has is told the valid ones, as ``--data`` is. Otherwise the check
    would say it late and with no hint ("unknown dataset None"). Its NumPy numbers are
    taken as the Python values they hold."""
    name = plain(data.get("name"))
    if not isinstance(name, str):
        said = "has no 'name'" if "name" not in data else f"names it {shown(name)}"
        raise SettingError(f"{{data}} {shown(data)} {said}: an IR data object names its "
                           "dataset by a text, its 'name'",
                           hint=f"e.g. {{data}}={literal(repr(DATA_OBJECT))}", invalid=True)
    if canonical_name(name) is None:
        raise unknown_dataset(name)
    # NumPy's numbers (`"size": np.int64(16)`) read as the values they hold, as other settings'
    return {**{key: _plain_value(value) for key, value in data.items()}, "name": name}


def _plain_value(value):
    """A value of an IR data object as JSON holds it: NumPy's scalars as :func:`plain` reads
    them, a tuple or a NumPy array of class names (``classes``) as a list of them."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", 0) == 1:
        value = value.tolist()
    return [plain(item) for item in value] if isinstance(value, (list, tuple)) else plain(value)


def _checked_data(data: dict) -> dict:
    """``data``, an IR data object with its defaults, refused at its first mistake
    (:func:`~cnnspec.ir.datasets.problems`: a value out of range, an argument the dataset does
    not take, arguments that do not fit together) as a :class:`SettingError` naming the key
    (``data['size']``) with what it takes. The check would say it late, as a mistake of the
    spec's, with no hint of the range."""
    found = problems(data)
    if not found:
        return data
    problem = found[0]
    arg = next((a for a in DATASETS[data["name"]].args if a.name == problem.arg), None)
    # the range where the value is out of it; not where values in range do not fit together
    out_of_range = arg is not None and arg.problem(data.get(arg.name)) is not None
    takes = f"{arg.name} takes {arg.accepted()}; " if out_of_range else ""
    raise SettingError(f"{{data}}[{literal(repr(problem.arg))}]: {literal(problem.message)}",
                       hint=f"{literal(takes)}{problem.hint_template or literal(problem.hint)}",
                       invalid=True)


def given_settings(settings) -> Settings:
    """The ``settings`` a run was given (None: the spec's own), refused by name unless a
    :class:`Settings` (a dict of them read as the keyword arguments of one would take a
    misspelt key for another mistake)."""
    if settings is None:
        return Settings()
    if isinstance(settings, Settings):
        return settings
    raise SettingError(f"{{settings}} takes a Settings, not {shown(settings)}", invalid=True,
                       hint="e.g. settings=cnnspec.Settings(epochs=1, lr=0.01)")


def data_setting(text: str) -> dict:
    """The IR data object of a dataset written as text: what a spec's ``data`` setting accepts
    (``digits``, ``shapes(size=8, classes=[x, o])``), or ``npz:PATH``. Its mistakes are a
    :class:`SettingError` quoting the text (a line and column inside it would point nowhere)."""
    if text.strip().startswith(NPZ_PREFIX) or "(" not in text:
        return parse_data_arg(text)  # a name alone: with its --data spellings and hints
    try:
        return parse_data(text)
    except SpecError as exc:
        hint = given_hint(exc)
        raise SettingError(f"{{data}} {literal(repr(text))}: {literal(exc.message)}",
                           hint["hint_template"] or (literal(hint["hint"]) if hint["hint"]
                                                     else None), invalid=True) from None


def overridden_spec(spec: Spec, overrides: dict) -> Spec:
    """``spec`` with the overrides in its training settings (:func:`effective_ir`); a mistake
    check finds in one of them is the run's setting's, not at the line the spec wrote
    (:attr:`cnnspec.ir.spec.Spec.overridden`)."""
    return dataclasses.replace(spec, ir=effective_ir(spec.ir, overrides),
                               overridden=frozenset(overrides))


def effective_ir(ir: dict, overrides: dict) -> dict:
    """A copy of the IR whose ``training`` block has the overrides applied. An ``npz`` path
    stays as written, so that a missing file is named as the user wrote it, as ``check``
    names it (:func:`cnnspec.sourcefile.not_found`); :func:`recorded_ir` makes it absolute."""
    ir = copy.deepcopy(ir)
    ir["training"].update(copy.deepcopy(overrides))
    return ir


def recorded_ir(ir: dict) -> dict:
    """A copy of the IR as a run folder records it (and a sweep hands its cells, trained
    elsewhere): an ``npz`` data path where it was read from (:func:`~cnnspec.sourcefile.located`,
    absolute), so that ``eval`` and ``--resume`` find the arrays from any working directory."""
    ir = copy.deepcopy(ir)
    if "data" in ir["training"]:
        ir["training"]["data"] = recorded_data(ir["training"]["data"])
    return ir


def recorded_data(data):
    """The ``data`` setting as a run records it (:func:`recorded_ir`): an ``npz`` path made
    absolute, any other value as it is."""
    if isinstance(data, dict) and data.get("name") == "npz" and isinstance(data.get("path"), str):
        return {**data, "path": str(located(data["path"]))}
    return data
