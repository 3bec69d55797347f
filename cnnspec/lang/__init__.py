"""The cnnspec language: parsing ``.cnn`` text into the IR, and formatting it.

    parse(text, path=None, weight_default=None) -> Spec   # the resolved IR plus source spans
    parse_file(path) -> Spec
    parse_init(text) -> dict                              # one init expression, as an IR init
    format_source(text) -> str                            # canonical layout, comments kept

Grammar: grammar/cnnspec.lark. Pipeline: Lark parse tree -> AST (ast.py) -> IR (resolve.py).
Every mistake raises :class:`cnnspec.errors.SpecError` or :class:`~cnnspec.errors.SpecErrors`.
"""
from __future__ import annotations

from pathlib import Path

from cnnspec.errors import SpecError
from cnnspec.ir.spec import Spec


def parse(text: str, path: str | None = None, weight_default: dict | None = None) -> Spec:
    """Parse and resolve a spec. ``weight_default`` (an IR init object) replaces the model-wide
    default weight init, as if the spec's ``default weight`` said it."""
    from cnnspec.lang.resolve import Resolver

    module = parse_module(text, path)
    return Resolver(path, weight_default).resolve(module, text)


def parse_file(path: str | Path) -> Spec:
    """Read and parse a ``.cnn`` file; ``Spec.path`` is ``path`` as given."""
    from cnnspec.sourcefile import read_spec_text

    return parse(read_spec_text(path), path=str(path))


def parse_init(text: str) -> dict:
    """One initializer expression (``he_normal(mode=fan_out)``, ``normal(0, 0.01)``) as an IR
    init object, parsed by the spec grammar's ``init_expr`` start symbol."""
    from cnnspec.lang.inits import read_init

    value = _transform(_tree(text, "init_expr", None), None)
    return read_init(value)


def format_source(text: str, path: str | None = None) -> str:
    """``text`` in canonical layout (idempotent; comments kept). ``path`` names the file in
    syntax errors."""
    from cnnspec.lang.fmt import format_source as _format

    return _format(text, path)


def parse_module(text: str, path: str | None = None):
    """The AST (:class:`cnnspec.lang.ast.Module`) of a spec, before resolving."""
    return _transform(_tree(text, "start", path), path)


def _tree(text: str, start: str, path: str | None):
    from cnnspec.lang.parser import parse_tree

    return parse_tree(text, start=start, path=path)


def _transform(tree, path: str | None):
    from lark.exceptions import VisitError

    from cnnspec.lang.ast import ToAst

    try:
        return ToAst().transform(tree)
    except VisitError as exc:  # an error raised inside a transformer method
        if isinstance(exc.orig_exc, SpecError):
            exc.orig_exc.file = exc.orig_exc.file or path
            raise exc.orig_exc from None
        raise


__all__ = ["Spec", "format_source", "parse", "parse_file", "parse_init", "parse_module"]
