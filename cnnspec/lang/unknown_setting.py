"""A training setting the train block does not know, answered with what it is here.

Read by the train block's reader (a setting that parsed) and by the syntax errors (a line that
did not, such as Caffe's ``base_lr: 0.01`` or Darknet's ``steps=400,450``): another library's
name for a setting (:data:`~cnnspec.ir.training_catalogue.FOREIGN_KEYS`), an argument of an
optimizer or schedule written as a setting of its own, and only then a spelling guess, which
offered `monitor` for `max_iter` and `val_split` for `lr_policy`. A training setting written
among the layers, outside the train block, is told to move into it with the line that means it
(:func:`outside_train`). Names are matched in any case: Darknet's and Caffe's users write
``MAX_ITER 1000`` as readily as ``max_iter: 1000``.
"""
from __future__ import annotations

import re

from cnnspec.errors import Span, SpecError, listed
from cnnspec.init.catalogue import BY_NAME as INITS
from cnnspec.ir.training_catalogue import KEY_ALIASES, KEYS, foreign_key_hint, written_value
from cnnspec.kinds import KINDS
from cnnspec.lang.ast import Str, Value, Word
from cnnspec.lang.suggest import did_you_mean


def unknown_setting(name: str, span: Span, text: str | None) -> SpecError:
    """The error for a training setting of an unknown ``name`` whose value is written
    ``text`` (None: not a plain value). A name that is both another library's setting and an
    argument here (Keras' ``patience``, plateau's) gets both answers."""
    return SpecError(f"unknown training setting '{name}'", span=span,
                     hint=setting_hint(name, text) or did_you_mean(
                         name, [*KEYS, *KEY_ALIASES], "settings"))


def setting_hint(name: str, text: str | None) -> str | None:
    """What the unknown setting ``name`` is here, when it is one of ours in capitals
    (``LR``), another library's setting or an argument written as a setting; None for a name
    that is none of these."""
    if _our_key(name) is not None:
        return f"settings are written in lower case: `{_our_key(name)} {_plain(text) or '...'}`"
    meant = [hint for hint in (foreign_key_hint(name, _plain(text)), _argument_hint(name, text))
             if hint]
    return "; ".join(meant) or None


def outside_train(name: str, span: Span, text: str | None) -> SpecError | None:
    """The error for a training setting ``name`` written among the layers as another library
    writes it (Caffe's ``base_lr: 0.01``, Darknet's ``steps=400,450``, ``MAX_ITER 1000``), ours
    with a ':' (``epochs: 5``) or an optimizer's argument (``momentum: 0.9``), at ``span``;
    None for a name that is no training setting."""
    found = _outside_train(name, text)  # text: the value, or a tuple's for _argument_hint
    return None if found is None else SpecError(found[0], span=span, hint=found[1])


def _outside_train(name: str, text: str | None) -> tuple[str, str] | None:
    """(message, hint) for a line among the layers whose first word is ``name``: one of our
    settings (``epochs 5``), another library's name for one (Caffe's ``base_lr: 0.01``) or an
    optimizer's or schedule's argument (``momentum 0.9``), told to move into the train block
    as the block writes it; None for any other name. A word a layer's line also reads
    (``pad``, ``p``, ``momentum``, an init's ``std``) is told that first: the line may be a
    layer's option cut off from its layer, and only then an argument of a training setting."""
    tupled, text = text, _plain(text)
    outside = f"training setting '{name}' outside the train block"
    inside = "training settings go inside the train block, `train { ... }`"
    key = _our_key(name)
    if key is not None:  # `loss: SoftmaxWithLoss`, Caffe's loss layer: its entry's name
        named = _foreign_entry(key, text)
        value = named[0] if named else text or "..."
        return outside, (f"'{key}' is a training setting: write it inside the train block, "
                         f"e.g. train {{ {key} {value} }}"
                         + (f" ({named[1]} is {named[0]} here)" if named else ""))
    foreign = foreign_key_hint(name, text)
    if foreign is not None:
        return outside, f"{inside}; {foreign}"
    argument, option = _argument_hint(name, tupled), _layer_option_hint(name, text)
    if option is None:
        return None if argument is None else (outside, f"{inside}: {argument}")
    return (f"'{name}' on a line of its own, among the layers",
            option if argument is None
            else f"{option}; or, if it is meant for training, {inside}: {argument}")


def _foreign_entry(key: str, text: str | None) -> tuple[str, str] | None:
    """The entry of ``key``'s catalogue that another library names ``text`` (Caffe's
    SoftmaxWithLoss: the loss cross_entropy), and that library's name for it; else None."""
    catalogue = KEYS[KEY_ALIASES.get(key, key)].catalogue or {}
    return next(((entry.name, there) for entry in catalogue.values()
                 for foreign, there in entry.foreign
                 if text is not None and foreign == text.lower()), None)


def _our_key(name: str) -> str | None:
    """The training key ``name`` is in any case (``LR``: lr), as written (an alias stays an
    alias: `learning_rate`); None for a name that is none."""
    lower = name.lower()
    return lower if lower in KEYS or lower in KEY_ALIASES else None


def _layer_option_hint(name: str, text: str | None) -> str | None:
    """For a word that sets an option of a layer (``pad``, ``momentum``) or an argument of an
    init (``std``): that it goes on the line of its layer; None for any other word."""
    lower = name.lower()
    kinds = [kind.name for kind in KINDS.values()
             if any(lower in f.option for f in kind.fields)]
    if kinds:
        first = KINDS[kinds[0]]
        rest = " ..." if any(f.required and lower not in f.option for f in first.fields) \
            else ""
        listed = ", ".join(kinds[:4]) + (", ..." if kinds[4:] else "")
        return (f"'{lower}' is an option of a layer ({listed}), written on the layer's line "
                f"after its kind: `{first.name}{rest} {lower} {text or '...'}`")
    inits = [init.name for init in INITS.values() if any(p.name == lower for p in init.params)]
    if inits:
        return (f"'{lower}' is an argument of an init ({', '.join(inits[:3])}), written in "
                f"its parentheses on a layer's line: `conv 16 3x3 weight {inits[0]}({lower}="
                f"{text or '...'})`")
    return None


def value_text(value: Value) -> str | None:
    """A value as written, for a hint's line: ``0.01``, ``step``, ``"step"`` without its
    quotes (Caffe quotes its words); None for a call or a list."""
    if isinstance(value, Word):
        return value.name
    if isinstance(value, Str):
        return value.value
    return getattr(value, "text", None)


def tuple_text(values: list[Value]) -> str | None:
    """Values written in parentheses, as PyTorch writes a tuple (``(0.9, 0.95)``), for a hint
    to give them to the arguments they are here; None unless each is a plain value."""
    texts = [value_text(value) for value in values]
    return None if None in texts or len(texts) < 2 else f"({', '.join(texts)})"


def tuple_values(text: str | None) -> list[str] | None:
    """The numbers of :func:`tuple_text`'s ``(0.9, 0.95)``; None for any other text."""
    found = None if text is None else re.fullmatch(r"\(([^()]*)\)", text)
    values = [] if found is None else [value.strip() for value in found[1].split(",")]
    return values if values and all(map(_is_number, values)) else None


def _plain(text: str | None) -> str | None:
    """``text`` unless it is a tuple's (:func:`tuple_text`), which only an argument given as
    one tuple is written with."""
    return None if text is not None and text.startswith("(") else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _argument_hint(name: str, text: str | None) -> str | None:
    """Where a setting written on its own line belongs when it is an argument of an optimizer,
    schedule or transform (``momentum 0.9``, as Keras and PyTorch pass it beside the learning
    rate), or another library's argument of one (PyTorch's ``betas``), in any case."""
    name = name.lower()
    for key in KEYS.values():
        entries = list((key.catalogue or {}).values()) if key.objects else []
        args = [(entry.name, arg) for entry in entries for arg in entry.args if arg.name == name]
        if args:
            owners = [owner for owner, _ in args]
            named = listed(owners, "or")
            # a value the argument refuses (`patience x`) is not written into its line
            fits = _plain(text) is not None and args[0][1].problem(written_value(text)) is None
            return (f"{name} is an argument of the {key.name} ({named}), written in its "
                    f"parentheses: `{key.name} {owners[0]}({name}={text if fits else '...'})`")
        foreign = next(((entry, entry.foreign_arg(name)) for entry in entries
                        if entry.foreign_arg(name)), None)
        if foreign is not None:
            values = tuple_values(text)
            return f"{key.name} {foreign[0].name}: {foreign[1].hint(foreign[0], values)}"
    return None
