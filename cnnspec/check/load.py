"""``load``: a ``.cnn`` spec or ``.json`` IR file, parsed (or validated) and checked."""
from __future__ import annotations

import os
from pathlib import Path

from cnnspec.check.checker import check
from cnnspec.check.model import CheckedSpec
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import SettingError, WordedInputError, literal, shortened
from cnnspec.ir.spec import Spec
from cnnspec.sourcefile import SPEC_SUFFIXES, missing_file, not_a_file


def read_spec(path: str | Path, parameter: str = "path") -> Spec:
    """The parsed spec of a ``.cnn`` file, or the validated IR of a ``.json`` file (unchecked).
    A ``path`` that is no path (a number, None) is a :class:`SettingError` naming it as the
    caller's ``parameter``."""
    if not isinstance(path, (str, os.PathLike)):
        raise SettingError(f"{{{parameter}}} takes a path to a .cnn or .json file, not "
                           f"{literal(shortened(repr(path)))}", invalid=True,
                           hint=f"e.g. {{{parameter}:'specs/digits.cnn'}}")
    path = Path(path)
    if path.is_dir():
        raise not_a_file(path)
    if path.suffix not in SPEC_SUFFIXES:
        if not path.exists():  # missing, whatever its name says
            raise missing_file(path)
        raise WordedInputError(
            literal(f"{path}: not a spec file (expected a .cnn spec or a .json IR file)"),
            hint="`{export_command} SPEC.cnn > SPEC.json` writes an IR file")
    if path.suffix == ".json":
        from cnnspec.ir.io import read_json  # jsonschema loads only for a .json file

        return read_json(path)
    from cnnspec.lang import parse_file  # Lark loads only for a .cnn file

    return parse_file(str(path))


def load(path: str | Path, strict: bool = False, max_memory: int | None = None,
         for_training: bool = True, dtype: str = DEFAULT_DTYPE) -> CheckedSpec:
    """Parse (``.cnn``) or validate (``.json``) the file at ``path`` and check it
    (:func:`~cnnspec.check.checker.check`, with ``for_training``, for weights trained in
    ``dtype``).

    Raises :class:`~cnnspec.errors.SpecErrors` for mistakes in the spec and
    :class:`~cnnspec.errors.RunError` for a missing or unreadable file (an
    :class:`~cnnspec.errors.InputError` for one that is missing or is a directory).
    """
    return check(read_spec(path), strict=strict, max_memory=max_memory,
                 for_training=for_training, dtype=dtype)
