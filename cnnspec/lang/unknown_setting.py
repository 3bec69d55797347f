"""A training setting the train block does not know, answered with what it is here.

Read by the train block's reader (a setting that parsed) and by the syntax errors (a line that
did not, such as Caffe's ``base_lr: 0.01`` or Darknet's ``steps=400,450``): another library's
name for a setting (:data:`~cnnspec.ir.training_catalogue.FOREIGN_KEYS`), an argument of an
optimizer or schedule written as a setting of its own, and only then a spelling guess, which
offered `monitor` for `max_iter` and `val_split` for `lr_policy`. A training setting written
among the layers, outside the train block, is told to move into it with the line that means it
(:func:`outside_train_hint`).
"""
from __future__ import annotations

from cnnspec.errors import Span, SpecError
from cnnspec.ir.training_catalogue import KEY_ALIASES, KEYS, foreign_key_hint, written_value
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
    """What the unknown setting ``name`` is here, when it is another library's setting or an
    argument written as a setting; None for a name that is neither."""
    meant = [hint for hint in (foreign_key_hint(name, text), _argument_hint(name, text))
             if hint]
    return "; ".join(meant) or None


def outside_train_hint(name: str, text: str | None = None) -> str | None:
    """The hint for a line among the layers whose first word ``name`` is a training setting,
    its value written ``text`` (None: not known): one of ours (``epochs 5``) or another
    library's name for one (Caffe's ``base_lr: 0.01``), told to move into the train block as
    the block writes it; None for any other name. An argument written as a setting is not
    guessed at here, as it is in the block: ``pad``, ``p`` and ``std`` are layer options too."""
    if name in KEYS or name in KEY_ALIASES:
        return (f"'{name}' is a training setting: write it inside the train block, "
                f"e.g. train {{ {name} {text or '...'} }}")
    foreign = foreign_key_hint(name, text)
    return None if foreign is None else \
        f"training settings go inside the train block, `train {{ ... }}`; {foreign}"


def outside_train(name: str, span: Span, text: str | None) -> SpecError | None:
    """The error for a training setting ``name`` written among the layers as another library
    writes it (Caffe's ``base_lr: 0.01``, Darknet's ``steps=400,450``), or ours with a ':'
    (``epochs: 5``), at ``span``; None for a name that is no training setting."""
    hint = outside_train_hint(name, text)
    return None if hint is None else \
        SpecError(f"training setting '{name}' outside the train block", span=span, hint=hint)


def value_text(value: Value) -> str | None:
    """A value as written, for a hint's line: ``0.01``, ``step``, ``"step"`` without its
    quotes (Caffe quotes its words); None for a call or a list."""
    if isinstance(value, Word):
        return value.name
    if isinstance(value, Str):
        return value.value
    return getattr(value, "text", None)


def _argument_hint(name: str, text: str | None) -> str | None:
    """Where a setting written on its own line belongs when it is an argument of an optimizer,
    schedule or transform (``momentum 0.9``, as Keras and PyTorch pass it beside the learning
    rate)."""
    for key in KEYS.values():
        args = [(entry.name, arg) for entry in (key.catalogue or {}).values() if key.objects
                for arg in entry.args if arg.name == name]
        if args:
            owners = [owner for owner, _ in args]
            named = ", ".join(owners[:-1]) + " or " + owners[-1] if owners[1:] else owners[0]
            # a value the argument refuses (`patience x`) is not written into its line
            fits = text is not None and args[0][1].problem(written_value(text)) is None
            return (f"{name} is an argument of the {key.name} ({named}), written in its "
                    f"parentheses: `{key.name} {owners[0]}({name}={text if fits else '...'})`")
    return None
