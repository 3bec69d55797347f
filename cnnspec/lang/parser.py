"""Making the parser (once, lazily) and running it.

The parser is Lark's standalone LALR parser generated from the grammar
(:mod:`cnnspec.lang.grammar`). The grammar (``grammar/cnnspec.lark``) is newline-sensitive: a
statement ends at the end of its line. A small post-lexer makes that comfortable: newlines
inside ``(...)`` and ``[...]`` are dropped (so a kernel literal may span lines) and runs of
newlines collapse into one, so blank lines and comment lines never need grammar rules.

Syntax errors become :class:`~cnnspec.errors.SpecError` in :mod:`cnnspec.lang.syntax_errors`.
"""
from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from cnnspec.errors import RunError, SpecError
from cnnspec.lang import standalone
from cnnspec.lang.ast import token_span
from cnnspec.lang.grammar import grammar_text
from cnnspec.lang.standalone import Lark, PostLex, Token, Tree, UnexpectedInput
from cnnspec.lang.syntax_errors import syntax_error

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


_NEWLINES = _Newlines()

# Comments are skipped by the parser but reported here, so the formatter can keep them. The
# parser is made once; each parse_tree call collects into a fresh list.
_comments: list[Token] = []

STALE = ("grammar/cnnspec.lark differs from the grammar cnnspec/lang/standalone.py was "
         "generated from")
STALE_HINT = ("run `python tools/generate.py` in the source tree (it needs Lark) to generate "
              "the parser from the edited grammar")


@lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser for both start symbols, made on first use from the generated tables
    (:mod:`cnnspec.lang.grammar` says how and why); a table made from another grammar text
    (the grammar edited, the module not regenerated) is refused."""
    if standalone.GRAMMAR != grammar_text():
        raise RunError(STALE, STALE_HINT)
    return standalone.Lark_StandAlone(postlex=_NEWLINES,
                                      lexer_callbacks={"COMMENT": _comments.append})


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
