"""Building the Lark parser (once, lazily) and running it.

The grammar (``grammar/cnnspec.lark``, shipped as ``cnnspec.grammar``) is newline-sensitive: a
statement ends at the end of its line. A small post-lexer makes that comfortable: newlines
inside ``(...)`` and ``[...]`` are dropped (so a kernel literal may span lines) and runs of
newlines collapse into one, so blank lines and comment lines never need grammar rules.

Syntax errors become :class:`~cnnspec.errors.SpecError` in :mod:`cnnspec.lang.syntax_errors`.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedInput
from lark.lark import PostLex

from cnnspec.errors import SpecError
from cnnspec.lang.ast import token_span
from cnnspec.lang.syntax_errors import syntax_error
from cnnspec.usercache import cache_dir, open_own, write_atomic

OPENERS = {"LPAR", "LSQB"}
CLOSERS = {"RPAR", "RSQB"}

# The deepest brackets a spec means anything by: a 4-D kernel literal inside `literal(...)`.
# Deeper nesting is refused where it starts, before the parse tree (whose transformer recurses
# once per level) is built.
MAX_NESTING = 5
# Repeat blocks nest (`repeat 2 as stage { repeat 3 as unit { ... } }`); their counts multiply,
# so a few levels are all a network can use.
MAX_BLOCKS = 8


class _Newlines(PostLex):
    """Drops newlines inside brackets and merges runs of newlines into one ``_NL``."""

    always_accept = ("_NL",)

    def __init__(self) -> None:
        # The brackets open at the point of the last parse (or failure), so a syntax error can
        # point at the '(' that was never closed rather than where the parser gave up.
        self.open: list[Token] = []

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        self.open = []
        blocks = 0
        last_was_newline = False
        for token in stream:
            if token.type == "_NL":
                if self.open or last_was_newline:
                    continue
                last_was_newline = True
            else:
                last_was_newline = False
                if token.type in OPENERS:
                    self.open.append(token)
                    if len(self.open) > MAX_NESTING:
                        raise _too_deep(token)
                elif token.type in CLOSERS and self.open:
                    self.open.pop()
                elif token.type == "LBRACE":
                    blocks += 1
                    if blocks > MAX_BLOCKS:
                        raise SpecError(f"blocks nested more than {MAX_BLOCKS} deep",
                                        span=token_span(token),
                                        hint="repeat counts of nested blocks multiply: write "
                                        "fewer levels")
                elif token.type == "RBRACE":
                    blocks = max(0, blocks - 1)
            yield token


def _too_deep(token: Token) -> SpecError:
    return SpecError(f"brackets nested more than {MAX_NESTING} deep", span=token_span(token),
                     hint="a kernel literal has at most 4 dimensions ([[[[1]]]]), and calls "
                     "nest at most a literal or a list inside them")


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return (files("cnnspec.grammar") / "cnnspec.lark").read_text(encoding="utf-8")


_NEWLINES = _Newlines()

# Comments are skipped by the parser but reported here, so the formatter can keep them. The
# parser is built once; each parse_tree call collects into a fresh list.
_comments: list[Token] = []


# How the parser is built. The first group is saved with a built parser; the second holds
# objects of this process, given again when a saved parser is loaded (Lark accepts exactly
# these on loading).
_BUILD_OPTIONS = {"parser": "lalr", "lexer": "contextual", "start": ["start", "init_expr"],
                  "maybe_placeholders": True}


def _live_options() -> dict:
    return {"propagate_positions": True, "postlex": _NEWLINES,
            "lexer_callbacks": {"COMMENT": _comments.append}}


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser for both start symbols, made on first use.

    Building it from the grammar takes about 0.2 s, a third of a ``cnnspec check``; so a built
    parser is kept in the user's cache directory (:mod:`cnnspec.usercache`, never the
    installed package) under a name keyed by the grammar, Lark's version and the options, and
    later processes load it (a few milliseconds). Loading unpickles, so only a file the
    current user owns and alone may write is read; a missing, stale or unreadable file means
    building (and saving) again. A parser generated at build time (Lark's standalone module)
    was the other way: it has its own exception classes, which the syntax-error messages of
    :mod:`cnnspec.lang.syntax_errors` would have to learn, and it goes stale silently when the
    grammar changes in a source checkout.
    """
    key = parser_cache_key()
    path = parser_cache_path(key)
    cached = load_cached_parser(path, key)
    if cached is not None:
        return cached
    built = Lark(grammar_text(), **_BUILD_OPTIONS, **_live_options())
    save_parser(built, path, key)
    return built


def parser_cache_key() -> str:
    """What a saved parser depends on: the grammar, the build options, Lark's and Python's
    versions (a digest)."""
    import hashlib
    import sys

    import lark

    parts = [grammar_text(), repr(sorted(_BUILD_OPTIONS.items())), lark.__version__,
             "{}.{}".format(*sys.version_info[:2])]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def parser_cache_path(key: str) -> Path:
    return cache_dir() / f"parser-{key[:16]}.pickle"


def load_cached_parser(path: Path, key: str) -> Lark | None:
    """The parser saved at ``path`` under ``key``, or None (missing, not the user's own, made
    for another key, or unreadable)."""
    handle = open_own(path)
    if handle is None:
        return None
    with handle:
        try:
            if handle.readline().rstrip(b"\n") != key.encode():
                return None
            # Lark's own cache loads this way (Lark.load takes no options).
            return Lark.__new__(Lark)._load(handle, **_live_options())
        except Exception:  # a damaged or foreign file: build again  # noqa: BLE001
            return None


def save_parser(built: Lark, path: Path, key: str) -> None:
    """Save ``built`` at ``path`` under ``key``; where the cache cannot be written, nothing
    is saved (the next process builds again)."""
    import io

    data = io.BytesIO()
    data.write(key.encode() + b"\n")
    built.save(data, exclude_options=set(_live_options()))
    try:
        write_atomic(path, data.getvalue())
    except OSError:
        pass  # a read-only home: parse all the same, a little slower


def parse_tree(text: str, start: str = "start", path: str | None = None) -> Tree:
    """The parse tree of ``text``; syntax errors raise :class:`SpecError`."""
    return parse_with_comments(text, start, path)[0]


def parse_with_comments(text: str, start: str = "start",
                        path: str | None = None) -> tuple[Tree, list[Token]]:
    """The parse tree and the ``#`` comment tokens, in source order."""
    lark = parser()
    _comments.clear()
    try:
        tree = lark.parse(text, start=start)
    except UnexpectedInput as exc:
        raise syntax_error(exc, lark, text, path, start, list(_NEWLINES.open)) from None
    except SpecError as exc:  # from the post-lexer
        exc.file = path
        raise
    found = list(_comments)
    _comments.clear()
    return tree, found
