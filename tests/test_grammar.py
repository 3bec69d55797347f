"""The grammar itself: how text becomes statements and values (before any meaning)."""
import re
from importlib.resources import files

import pytest

from cnnspec.errors import SpecError
from cnnspec.lang import parse_module
from cnnspec.lang.ast import Call, Dims, LayerStmt, ListLit, Num, RepeatStmt, Str, TrainStmt, Word
from cnnspec.lang.grammar import OPTIONS, grammar_text, terminal_pattern
from cnnspec.lang.parser import parse_tree, parser


def only_layer(text):
    (stmt,) = [s for s in parse_module(text).statements if isinstance(s, LayerStmt)]
    return stmt


def test_grammar_is_the_packaged_file_and_the_parser_is_made_once():
    assert grammar_text() == (files("cnnspec.grammar") / "cnnspec.lark").read_text()
    assert parser() is parser()
    assert parser().options.parser == "lalr"
    assert parser().options.propagate_positions


def test_a_layer_line_splits_into_label_head_values_and_inputs():
    stmt = only_layer("c1: conv 16 3x3 stride 2 weight he_normal(mode=fan_out) <- input, a\n")
    assert stmt.label == "c1"
    assert stmt.head == Word("conv", stmt.head.span)
    assert [type(v) for v in stmt.items] == [Num, Dims, Word, Num, Word, Call]
    assert stmt.items[1].values == [3, 3]
    call = stmt.items[5]
    assert (call.name, call.args, [k.name for k in call.kwargs]) == ("he_normal", [], ["mode"])
    assert [w.name for w in stmt.inputs] == ["input", "a"]


@pytest.mark.parametrize("text, kind, value", [
    ("5e-4", Num, 5e-4), ("-0.5", Num, -0.5), ("3", Num, 3), ("1x28x28", Dims, [1, 28, 28]),
    ("x", Word, "x"), ('"data/a.npz"', Str, "data/a.npz"),
])
def test_value_tokens(text, kind, value):
    (item,) = only_layer(f"dense {text}\n").items
    assert isinstance(item, kind)
    assert getattr(item, {Num: "value", Dims: "values", Word: "name", Str: "value"}[kind]) == value


def test_integers_stay_integers_and_floats_floats():
    items = only_layer("dense 3 3.0\n").items
    assert [type(i.value) for i in items] == [int, float]


def test_comments_blank_lines_and_crlf_are_ignored():
    module = parse_module("# top\r\n\r\ninput 1x8x8   # the input\r\n\r\n\r\n  # x\r\nrelu")
    assert len(module.statements) == 2


def test_newlines_inside_brackets_do_not_end_a_statement():
    stmt = only_layer("conv 1 3 weight [[1, 0, 1],\n\n   [0, 1, 0],  # middle row\n"
                      "   [1, 0, 1],\n] bias constant(\n 0.5)\n")
    literal = stmt.items[3]
    assert isinstance(literal, ListLit) and len(literal.items) == 3
    assert stmt.items[5].args[0].value == 0.5


def test_keywords_are_names_where_a_keyword_cannot_stand():
    stmt = only_layer("a: add(input, model) <- train\n")
    assert [a.name for a in stmt.head.args] == ["input", "model"]
    assert stmt.inputs[0].name == "train"


def test_blocks():
    module = parse_module("repeat 3 as body {\n  conv 4 3\n\n  relu\n}\ntrain {\n  lr 0.1\n}\n"
                          "repeat 2 {\n}\ntrain {}\n")
    repeat, train, empty_repeat, empty_train = module.statements
    assert isinstance(repeat, RepeatStmt) and repeat.name == "body"
    assert [s.head.name for s in repeat.layers] == ["conv", "relu"]
    assert isinstance(train, TrainStmt) and train.settings[0].key == "lr"
    assert empty_repeat.name is None and empty_repeat.layers == []
    assert empty_train.settings == []


def test_positions_are_one_based_with_exclusive_end():
    stmt = only_layer("\n  conv 16 3x3\n")
    assert (stmt.head.span.line, stmt.head.span.column, stmt.head.span.end_column) == (2, 3, 7)
    assert (stmt.items[1].span.column, stmt.items[1].span.end_column) == (11, 14)


def test_the_init_expression_start_symbol():
    tree = parse_tree("he_normal(mode=fan_out, gain=leaky_relu(0.2))", start="init_expr")
    assert tree.data == "init_expr"
    assert tree.children[0].data == "call"


def test_list_trailing_comma_and_empty_call():
    stmt = only_layer("conv 1 1 weight [[1,],] bias zeros()\n")
    assert isinstance(stmt.items[3], ListLit)
    assert stmt.items[5].args == [] and stmt.items[5].kwargs == []


def _language_doc() -> str:
    from pathlib import Path

    return (Path(__file__).resolve().parent.parent / "docs" / "language.md").read_text()


def _doc_examples():
    """The untagged code blocks of docs/language.md that are spec text."""
    blocks = _language_doc().split("```")[1::2]
    return [b.lstrip("\n") for b in blocks
            if not b.startswith(("python", "json")) and "error:" not in b and "[NAME" not in b]


@pytest.mark.parametrize("example", _doc_examples(), ids=lambda b: b.splitlines()[0][:30])
def test_the_language_reference_examples_parse(example):
    from cnnspec.lang import parse

    text = example if "\ninput " in "\n" + example else "input 1x8x8\n" + example
    spec = parse(text + "relu\n")
    assert spec.ir["layers"]


@pytest.mark.parametrize("name, alphabet, longest", [
    ("SIGNED_NUMBER", "+-.eE09x ", 6), ("WS_INLINE", " \t\nx", 8)])
def test_short_terminals_match_as_lark_common_ones(name, alphabet, longest):
    """The grammar writes two of Lark's common terminals in a short form (the lexer compiles
    them often): each matches exactly what common.lark's does, on every string of its
    characters up to ``longest``."""
    import itertools
    import re

    from lark import Lark

    def pattern(lark):
        (terminal,) = [t for t in lark.terminals if t.name == name]
        return re.compile(terminal.pattern.to_regexp())

    common = pattern(Lark(f"%import common.{name}\nstart: {name}", parser="lalr"))
    ours = pattern(Lark(grammar_text(), parser="lalr", start=["start", "init_expr"]))
    assert ours.pattern != common.pattern
    for size in range(1, longest + 1):
        for chars in itertools.product(alphabet, repeat=size):
            text = "".join(chars)
            theirs, mine = common.match(text), ours.match(text)
            assert (theirs and theirs.group()) == (mine and mine.group()), text


def _line_rule():
    """The lexical rule of docs/language.md on statements and lines: its text, up to the next
    rule."""
    return re.search(r"^- One statement per line.*?(?=^- )", _language_doc(),
                     re.MULTILINE | re.DOTALL).group()


def test_the_rule_on_lines_says_what_the_grammar_does():
    """The docs said "one statement per line" and nothing of a block's braces, while
    ``train { epochs 2 }`` parses: the rule now shows a block of one on one line, which
    parses, and names a line of two, which is refused."""
    from cnnspec.lang import parse

    rule = _line_rule()
    shown = rule.split("```")[1].strip().splitlines()
    assert len(shown) == 2
    for line in shown:
        assert parse(f"input 1x8x8\nconv 8 3\n{line.strip()}\n").ir["layers"]
    refused = re.search(r"Two on one line, `([^`]+)`, are refused", rule).group(1)
    with pytest.raises(SpecError, match="one to a line"):
        parse(f"input 1x8x8\nconv 8 3\n{refused}\n")


def test_each_terminals_pattern_is_read_as_lark_makes_it_from_the_grammar():
    """terminal_pattern reads the generated parser's tables: every terminal's pattern there is
    the one Lark makes of the shipped grammar (a stale table is refused by parser())."""
    from lark import Lark

    terminals = Lark(grammar_text(), **OPTIONS).terminals
    assert {"DIMS", "SIGNED_NUMBER"} <= {terminal.name for terminal in terminals}
    for terminal in terminals:
        assert terminal_pattern(terminal.name) == terminal.pattern.to_regexp(), terminal.name
    with pytest.raises(KeyError):
        terminal_pattern("NO_SUCH_TERMINAL")
