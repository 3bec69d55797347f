"""The generated parser (cnnspec/lang/standalone.py) is the parser Lark builds from the grammar:
the same trees and comments, and the same failures (where, on which token, expecting what),
over the specs, the syntax-error catalogue and mutants of both; and it is refused when the
grammar has changed since it was generated."""
import random
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput as LarkUnexpectedInput
from test_parser_fuzz import join, mutate, tokens

from cnnspec.cli import main
from cnnspec.errors import RunError, SpecError
from cnnspec.lang import parser as P
from cnnspec.lang.grammar import OPTIONS, canonical_table, grammar_text
from cnnspec.lang.standalone import UnexpectedInput
from cnnspec.lang.syntax_errors import CATALOGUE

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
MUTANTS_PER_TEXT = 25
# Past the post-lexer's limits: brackets and blocks nested too deep.
TOO_DEEP = ["input 1x8x8\nconv 1 3 weight literal([[[[[1]]]]])\n",
            "input 1x8x8\n" + "repeat 2 {\n" * 9 + "relu\n" + "}\n" * 9]


def outcome(parser, newlines, comments, text, start="start"):
    """What a parse gives, as plain data: the tree and comments, or where and how it failed."""
    comments.clear()
    try:
        tree = parser.parse(text, start=start)
    except (UnexpectedInput, LarkUnexpectedInput) as exc:
        token = getattr(exc, "token", None)
        return ("syntax", type(exc).__name__, exc.line, exc.column,
                token and (token.type, str(token)), sorted(getattr(exc, "accepts", None) or ()),
                sorted(getattr(exc, "expected", None) or ()), [t.line for t in newlines.open])
    except SpecError as exc:  # the post-lexer's nesting limits
        return ("spec", exc.message, exc.span)
    return ("tree", plain(tree), [plain(c) for c in comments])


def plain(node):
    """A tree or token as tuples: the rule, where it spans and its children; the token's type,
    text and where it spans. (A rule's name is a str in one parser and a str-like Token in the
    other: both read the same to the transformer.)"""
    if node is None:
        return None
    if hasattr(node, "data"):
        meta = node.meta
        where = None if meta.empty else (meta.line, meta.column, meta.end_line, meta.end_column)
        return (str(node.data), where, [plain(child) for child in node.children])
    return (node.type, str(node), node.line, node.column, node.end_line, node.end_column)


@pytest.fixture(scope="module")
def both():
    """(the generated parser, Lark's from the grammar), each with its own post-lexer."""
    built_comments: list = []
    built_newlines = P._Newlines()
    built = Lark(grammar_text(), **OPTIONS, postlex=built_newlines,
                 lexer_callbacks={"COMMENT": built_comments.append})
    return ((P.parser(), P._NEWLINES, P._comments),
            (built, built_newlines, built_comments))


def texts() -> list[str]:
    originals = [path.read_text() for path in SPECS]
    originals += [snippet for entry in CATALOGUE for snippet in entry.examples] + TOO_DEEP
    rng = random.Random("standalone")
    mutants = []
    for text in originals:
        for _ in range(MUTANTS_PER_TEXT):
            toks = tokens(text)
            for _ in range(rng.randint(1, 3)):
                toks = mutate(toks, rng) if toks else toks
            mutants.append(join(toks))
    return originals + mutants


def test_the_generated_parser_parses_and_fails_as_lark_built_from_the_grammar(both):
    (generated, *ours), (built, *theirs) = both
    cases = texts()
    kinds = {"tree": 0, "syntax": 0, "spec": 0}
    for text in cases:
        expected = outcome(built, *theirs, text)
        assert outcome(generated, *ours, text) == expected, text
        kinds[expected[0]] += 1
    assert all(kinds.values()), kinds  # the cases reach trees, syntax errors and the limits


@pytest.mark.parametrize("text", ["he_normal(mode=fan_out)", "normal(0, 0.01)", "[[1, 0],",
                                  "fashion-mnist", "3x3 )"])
def test_init_expressions_too(both, text):
    (generated, *ours), (built, *theirs) = both
    assert outcome(generated, *ours, text, "init_expr") == outcome(built, *theirs, text,
                                                                   "init_expr")


def test_the_table_is_written_in_one_order_whatever_the_numbering():
    """Lark numbers states and symbols differently from run to run: the canonical table is the
    same for any renumbering of one automaton, and is the same automaton."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, _ = Lark(grammar_text(), **OPTIONS).memo_serialize([TerminalDef, Rule])
    table = data["parser"]["parser"]
    rng = random.Random(0)
    states = list(table["states"])
    symbols = list(table["tokens"])
    state_map = dict(zip(states, rng.sample(states, len(states))))
    symbol_map = dict(zip(symbols, rng.sample(symbols, len(symbols))))
    shuffled = {
        "tokens": {symbol_map[s]: name for s, name in table["tokens"].items()},
        "states": {state_map[state]: {symbol_map[s]: (kind, state_map[arg] if kind == 0 else arg)
                                      for s, (kind, arg) in actions.items()}
                   for state, actions in table["states"].items()},
        "start_states": {k: state_map[v] for k, v in table["start_states"].items()},
        "end_states": {k: state_map[v] for k, v in table["end_states"].items()},
    }
    canonical = canonical_table(table)
    assert canonical_table(shuffled) == canonical
    assert repr(canonical_table(shuffled)) == repr(canonical)  # and in one written order
    assert len(canonical["states"]) == len(table["states"])


def test_a_parser_generated_from_another_grammar_is_refused(monkeypatch, capsys):
    """An edited grammar without the parser made again: every command that reads a spec says
    so and how to fix it, without a traceback."""
    P.parser.cache_clear()
    monkeypatch.setattr(P, "grammar_text", lambda: grammar_text() + "\n// changed\n")
    try:
        with pytest.raises(RunError, match="generated from"):
            P.parser()
        # not the spec's mistake: a failure of the run, 1, as from every command
        for command in ("check", "summary"):
            assert main([command, str(SPECS[0].parent / "digits.cnn")]) == 1
            err = capsys.readouterr().err
            assert "tools/generate.py" in err and "Traceback" not in err
    finally:
        P.parser.cache_clear()


def test_lark_logger_and_pickle_are_made_on_first_use_as_lark_makes_them():
    """The generated module imports neither logging nor pickle (a check logs nothing and
    saves no parser); Lark's code that uses them gets what Lark's own standalone code would
    have set up."""
    import logging
    import subprocess
    import sys

    code = ("import sys; import cnnspec.lang.standalone as s; "
            "print('logging' in sys.modules, 'pickle' in sys.modules); "
            "s.logger.debug('x'); s.pickle.dumps(1); import logging, pickle; "
            "print(s.logger is logging.getLogger('lark'), s.logger.level, s.pickle is pickle)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False", "True", str(logging.CRITICAL), "True"]
