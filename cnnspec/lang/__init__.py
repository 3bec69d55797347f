"""The cnnspec language: parsing ``.cnn`` text into the IR, and formatting it.

    parse(text, path=None) -> Spec                        # the resolved IR plus source spans
    parse_file(path) -> Spec
    parse_init(text) -> dict                              # one init expression, as an IR init
    parse_data(text) -> dict                              # a dataset as `data` writes it
    format_source(text) -> str                            # canonical layout, comments kept

Grammar: grammar/cnnspec.lark (parser generated from it: grammar.py). Pipeline: parse tree -> AST
(ast.py) -> IR (resolve.py). Every mistake raises :class:`cnnspec.errors.SpecError` or
:class:`~cnnspec.errors.SpecErrors`.
"""
from __future__ import annotations

from pathlib import Path

from cnnspec.ir.spec import Spec
from cnnspec.lang.ast import to_ast
from cnnspec.lang.inits import read_init
from cnnspec.lang.parser import parse_tree
from cnnspec.lang.resolve import Resolver
from cnnspec.lang.training import READERS
from cnnspec.lang.trying import read_lines_with
from cnnspec.sourcefile import read_spec_text


def parse(text: str, path: str | None = None) -> Spec:
    """Parse and resolve a spec. An error whose hint writes a line in place of the user's
    (another library's layer) says nothing of what the checker makes of that line there:
    :func:`cnnspec.parse` does (:func:`cnnspec.check.load.rewrite_checked`)."""
    module = parse_module(text, path)
    return Resolver(path).resolve(module, text)


# the lines cnnspec.lang.foreign suggests for other libraries' layers are tried with it
read_lines_with(parse)


def parse_file(path: str | Path) -> Spec:
    """Read and parse a ``.cnn`` file; ``Spec.path`` is ``path`` as given."""
    return parse(read_spec_text(path), path=str(path))


def parse_init(text: str) -> dict:
    """One initializer expression (``he_normal(mode=fan_out)``, ``normal(0, 0.01)``) as an IR
    init object, parsed by the spec grammar's ``init_expr`` start symbol."""
    return read_init(to_ast(parse_tree(text, start="init_expr")))


def parse_data(text: str) -> dict:
    """A dataset written as the spec's ``data`` setting writes it (``digits``,
    ``shapes(size=8, classes=[x, o])``, ``fashion-mnist``) as an IR data object, defaults
    filled in; mistakes are :class:`SpecError` located in ``text``."""
    return READERS["data"](to_ast(parse_tree(text, start="init_expr")), "the dataset")


def format_source(text: str, path: str | None = None) -> str:
    """``text`` in canonical layout (idempotent; comments kept). ``path`` names the file in
    syntax errors."""
    # The formatter's ~5 ms of imports are for `cnnspec fmt`, not for every parse.
    from cnnspec.lang.fmt import format_source as format_text

    return format_text(text, path)


def parse_module(text: str, path: str | None = None):
    """The AST (:class:`cnnspec.lang.ast.Module`) of a spec, before resolving."""
    return to_ast(parse_tree(text, start="start", path=path), path)


__all__ = ["Spec", "format_source", "parse", "parse_data", "parse_file", "parse_init",
           "parse_module"]
