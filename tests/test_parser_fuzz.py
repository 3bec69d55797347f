"""Robustness: mutated specs (tokens deleted, duplicated, swapped) either parse or raise a
SpecError / SpecErrors, never anything else; every error is located and has a hint; what parses
also validates against the IR schema and formats to the same meaning."""
import random
import re
from pathlib import Path

import pytest

from cnnspec.errors import SpecError, SpecErrors
from cnnspec.ir.io import validate
from cnnspec.lang import format_source, parse, parse_init

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
MUTATIONS_PER_SPEC = 60

# Comments, newlines, numbers (5e-4, 3x3), names, strings and single punctuation marks.
TOKEN = re.compile(r'#[^\n]*|\n|<-|-?[0-9][0-9.]*(?:e-?[0-9]+)?(?:x[0-9]+)*|[A-Za-z_]\w*'
                   r'|"[^"\n]*"|\S')


def tokens(text):
    return TOKEN.findall(text)


def mutate(toks, rng):
    toks = list(toks)
    i = rng.randrange(len(toks))
    how = rng.choice(["delete", "duplicate", "swap", "swap_far", "replace"])
    if how == "delete":
        del toks[i]
    elif how == "duplicate":
        toks.insert(i, toks[i])
    elif how == "swap" and i + 1 < len(toks):
        toks[i], toks[i + 1] = toks[i + 1], toks[i]
    elif how == "swap_far":
        j = rng.randrange(len(toks))
        toks[i], toks[j] = toks[j], toks[i]
    else:
        toks[i] = toks[rng.randrange(len(toks))]
    return toks


def join(toks):
    # A space between words keeps them apart; newlines and punctuation need none.
    return " ".join(toks).replace(" \n ", "\n")


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_mutated_specs_raise_only_spec_errors(path):
    rng = random.Random(f"fuzz:{path.name}")
    original = tokens(path.read_text())
    outcomes = {"parsed": 0, "rejected": 0}
    for _ in range(MUTATIONS_PER_SPEC):
        toks = original
        for _ in range(rng.randint(1, 3)):
            toks = mutate(toks, rng)
        text = join(toks)
        try:
            spec = parse(text, path="fuzz.cnn")
        except (SpecError, SpecErrors) as exc:
            for err in exc.errors if isinstance(exc, SpecErrors) else [exc]:
                assert err.span is not None and err.hint, (text, err.message)
            outcomes["rejected"] += 1
            continue
        outcomes["parsed"] += 1
        validate(spec.ir)  # nothing the parser accepts fails the schema
        assert parse(format_source(text), path="fuzz.cnn").ir == spec.ir, text
    assert outcomes["rejected"] > 0  # the mutations do break specs


def test_the_unmutated_token_stream_still_parses():
    for path in SPECS:
        assert parse(join(tokens(path.read_text()))).ir == parse(path.read_text()).ir


INIT_EXPRESSIONS = [
    "he_normal(mode=fan_out, gain=leaky_relu(0.2))",
    "variance_scaling(scale=2, mode=fan_in, distribution=truncated_normal)",
    "normal(0, 0.01)",
    "[[1, 0, 1], [0, 1, 0], [1, 0, 1]]",
    "glorot_uniform(gain=tanh)",
]


def test_mutated_init_expressions_raise_only_spec_errors():
    rng = random.Random("fuzz:init")
    for _ in range(200):
        toks = mutate(tokens(rng.choice(INIT_EXPRESSIONS)), rng)
        try:
            init = parse_init(join(toks))
        except (SpecError, SpecErrors):
            continue
        assert isinstance(init, dict) and "name" in init
