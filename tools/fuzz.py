"""Mutation fuzzing of everything a user can hand cnnspec as a spec: ``.cnn`` text, ``.json`` IR,
and the Caffe and Keras models ``cnnspec import`` reads.

Every example spec (``specs/*.cnn``) and every spec-like example in the docs is mutated (tokens
deleted, duplicated, swapped, replaced; numbers made huge, negative, fractional, NaN; brackets
nested deep; unicode inserted; text cut short; lines spliced in from other specs; line
endings made CRLF, CR or mixed; a byte-order mark added; training settings put on one line
and layer options written as keyword arguments, as other tools write them; a layer line
replaced by another library's: a Keras or PyTorch call with odd arguments, a Caffe type, a
Darknet section, their option names on a cnnspec line; a training setting given an odd
number; an init called with odd numbers for each of its parameters; a layer line copied into
a long block repeated a thousand times; layer lines wrapped in repeat blocks nested two to four
deep with odd counts and names; `# cnnspec: ignore[...]` comments well and badly written, two
in one comment; a layer's lr_mult and decay_mult given odd pairs under a weight decay; the
last layer's bias made huge under mse or cross_entropy; a training setting that names
catalogue entries, the data, optimizer, schedule or transforms, given one with odd
arguments, an npz path naming a pipe, a folder of .npz files, a gzip-compressed, cut or text
file), and the IR that
``cnnspec export`` writes for each is mutated too (keys deleted, types changed, huge values,
deep nesting, long strings, names that would be paths). Each mutant goes through
``cnnspec check``, ``summary`` and ``export`` in this process, through ``cnnspec.cli.main``.
A quarter of the spec cases of every stage below are generated instead (:func:`corner_spec`,
a third of them then mutated): kernels wider than their input, paddings and strides far
beyond the map, dilations, 1x1 maps, inits of std 1e-30 and 1e30, constant and negative
biases, stacks of up to 300 tanh or sigmoid layers, twin branches, dropout before batch norm
and softmax or sigmoid outputs, the corners of check's warnings that mutants seldom reach.
A run tallies the outcomes: exit codes, tracebacks (any exception out of ``main``), hangs
(one command taking over 2 s) and commands that printed a Python warning (NumPy's
RuntimeWarnings: every one recorded, not only each place's first); it prints the first few
tracebacks in full.

The timed stage (``--timed``) gives one to three fields of a small example's IR a value they
may well take elsewhere (an output of one to three scores, another loss, lr_mult 0, a batch
norm's momentum 0 or 1, a batch of 1; ``PLAUSIBLE_VALUES``), and runs each mutant through
``check``, ``time`` (one step of two images) and ``init-report --input gaussian``, which run a
step of a spec check refuses for training, on random inputs and labels.

The import stage (``--imports``) mutates the importers' example files (``tests/data/import/``)
the same ways: a Caffe ``.prototxt`` as spec text is (tokens, numbers such as 1e999 and
400-digit integers, unicode, deep brackets, cuts), alone or with its solver (itself mutated
or not) and the importer's ``--input`` and ``--epoch-images``; a Keras model JSON as an IR
is (wrong types, huge values, deep nesting, truncation). A fifth of the cases damage a file's
bytes instead: cut, changed, saved as UTF-16 or Latin-1, or a Keras model packed in a
``.keras`` archive (compressed as Keras does and as it never does) cut, changed or with its
compressed stream damaged, some given another format's suffix. Each goes through
``cnnspec import``.

The placed-dataset stage (``--placed``) places tiny copies of the files of the datasets
downloaded on first use (MNIST's four IDX files, CIFAR-10's archive) in a fresh cache by
hand, as a user without a network does: each under its published ``.gz`` name or the name
without it, gzip-compressed or not whatever the name says, whole, cut short, with bytes
changed, with a deflate block that is none past the part that opens (the tar headers), or
another file of the set in its place, and loads them through the datasets' readers with no
mirror to download from (the SHA-256 of what was placed taken as the published one, so the
readers meet the damage). Each must load or end in a RunError.

The run-folder stage (``--runs``) trains one small run (batch norm, Adam, dropout,
standardisation), then damages copies of it: one or two of its files removed, truncated,
emptied, replaced by another file's bytes or with bytes flipped, or damaged in their own terms (a
checkpoint's array given float16, complex, object, integer or datetime dtype, another shape, no
dimensions, NaN, infinities, huge or negative values, a terabyte declared, a member deleted
or added; its position in training, JSON in a text array, mutated as an IR is; a JSON
file's values given wrong types, negative numbers or deep nesting; the spec
mutated). Each copy goes through ``eval`` (best and last), ``predict``, ``filters``,
``features``, ``export`` (ONNX and PyTorch), ``train --weights-from`` and ``train --resume``.
A command that changes the folder it only reads, or a resume that fails after changing it,
has lost work and is counted with the tracebacks.

The sweep stage (``--sweeps``) runs one small sweep (two cells of one epoch), then damages
copies of its folder as the run-folder stage damages a run: one or two files of the folder or
of one of its cells (the sweep's description, results, a cell's summary, metrics or spec)
removed, cut, emptied, replaced or changed in their own terms, or a cell replaced by an empty
folder or file, and runs the same sweep into each copy again, which goes on where it stopped.
A sweep that fails after changing the folder has lost work and is counted with the
tracebacks.

The input stage (``--inputs``) hands the same kind of run the files a user gives it. Half
the cases are pictures (PNG, JPEG, GIF, BMP, TIFF, WebP, PPM and the other formats Pillow
writes; grey, colour, transparent and one-bit) and ``.npy`` arrays, whole, cut short, with
bytes changed, given another format's suffix, or (arrays) of odd dtypes, shapes and values or
declaring a terabyte, through ``predict`` and ``features``; the other half are damaged
``.npz`` data files (``tests/npz_cases.py``'s damages, drawn at random) through
``eval --data npz:PATH`` and through ``check`` and a short ``train`` of a spec reading them,
which must agree as in the check-against-train stage below.

The command-line stage (``--argv``) fuzzes the command line itself. Each case picks a command
from cnnspec's command table and writes a command line from its parser: its positionals and
a random mix of its own options, other commands', misspelt and duplicated ones, short ones,
``--opt=value`` and ``-oVALUE`` forms and ``--``, with values that fit (the option's choices,
values for its metavar) or not (empty, negative, 0, 10**30, 400 digits, nan, inf, fractions,
unicode, terminal escape sequences, 5,000 characters, paths that do not exist, are folders, are the
spec or are a trained run). It runs in its own process and process group, in a fresh copy of a
folder holding a spec of ``specs/``, a run trained from one once per session and an input image,
with the caches and the home folder inside the session's folder; one still running after 20 s is
killed with everything it started and counted as a hang. Besides exit codes (0, 1, 2 and 130
are the command line's), tracebacks and warnings, it counts failures with nothing on stderr,
message lines that quote a value whole or print a control character raw, and files written or
changed in the folder that no output option named (nor the command's default outputs, such as
train's ``runs/``).

Then the memory stage: a seeded sample of the spec mutants that ``check`` accepts (``--train``
of them) is compiled and trained for two real steps (forward, loss, backward, optimizer
update) at the spec's batch size on synthetic data, and the peak allocation, measured with
tracemalloc (NumPy reports its arrays to it), is compared with the estimate ``check`` and
``summary`` give (``cnnspec/check/memory.py``). It counts the steps that allocated beyond the
estimate and prints the worst ratios with their specs. Mutants whose estimate exceeds
``--train-cap`` are skipped (and counted), so the run stays fast and the machine safe.

The every-command stage (``--every``) runs spec cases as above, and a fifth of its cases IR
mutants, through every command that reads a spec: ``check``, ``summary``, ``export`` (JSON
and ONNX), ``fmt --check``, ``diagram`` (Graphviz source and SVG), ``init-report`` on noise
and a one-epoch ``train`` beside ``check`` (as the check-against-train stage below). It
formats each in place too: where ``fmt`` succeeds, ``export`` must end as it did before (the
same exit code and IR) and a second ``fmt --check`` find nothing to change, or the case is a
finding.

Last, check against train (``--agreement``): spec mutants that the grammar reads (what it
refuses, both commands refuse alike) each go through ``check`` and a short ``train`` (one
epoch, the batch in one part, ``--quiet``; every other setting as the spec writes it) in a
temporary folder, and each pair is classified: both accept, both refuse, check accepts but
train refuses or check refuses but train runs (a disagreement: the project's rule is that
``check`` refuses what ``train`` would, memory that cannot be allocated included), or train
diverged (a NaN or infinite loss) after a check warning or without one (a finding). Each
disagreement and unwarned divergence is printed with the spec and both commands' messages;
tracebacks and warnings of either command are counted as elsewhere. A training still running
after 20 s had started, so train accepted; a mutant ``check`` accepts whose step is estimated
over ``--train-cap`` is not trained (counted).

    python3 tools/fuzz.py    # 10,000 spec, 3,000 IR, 2,000 import mutants, 300 placed
                             # datasets, 200 damaged runs, 300 damaged inputs, 1,500
                             # command lines, 10 damaged sweeps, 100 specs through every
                             # command, 300 trained and 200 check/train pairs
    python3 tools/fuzz.py --specs 500 --irs 200 --train 50 --seed 7
    python3 tools/fuzz.py --specs 0 --irs 0 --imports 0 --runs 0 --train 0 --argv 0 \\
        --agreement 0 --inputs 500
    python3 tools/fuzz.py --specs 0 --irs 0 --imports 0 --runs 0 --train 0 --argv 1500
    python3 tools/fuzz.py --specs 2000 --irs 0 --imports 0 --runs 0 --inputs 0 --train 0 \\
        --argv 0 --agreement 0 --mutation foreign_layer   # other libraries' layers alone
    python3 tools/fuzz.py --specs 0 --irs 0 --imports 0 --runs 0 --train 0 --argv 0 \\
        --agreement 150 --seed 160

Exit status 1 when any traceback, hang, warning, unclear message or unasked write was found,
a step allocated beyond its estimate, fmt changed what a spec means, or check and train
disagreed on a spec (or a data
file) or a training diverged without a check warning.
``tests/test_fuzz.py`` runs a few hundred mutants of the same kinds in CI.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import copy
import functools
import gc
import io
import json
import math
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# summary in float64, which holds weights whose squares it cannot (1e200): the signal
# estimate's corners beyond float32's range, which check and export refuse there
COMMANDS = (["check"], ["summary", "--dtype", "float64"], ["export"])
HANG_SECONDS = 2.0
ABANDON_SECONDS = 30  # a command still running after this is stopped and counted as a hang

# Comments, newlines, numbers (5e-4, 3x3), names, strings and single punctuation marks.
TOKEN = re.compile(r'#[^\n]*|\n|<-|-?[0-9][0-9.]*(?:e-?[0-9]+)?(?:x[0-9]+)*|[A-Za-z_]\w*'
                   r'|"[^"\n]*"|\S')
NUMBER = re.compile(r"-?[0-9][0-9.]*(?:e-?[0-9]+)?$")
ODD_NUMBERS = ["0", "-1", "-3", "1" + "0" * 330, "9" * 400, "2147483648", "0.5", "1e40",
               "1e300", "1e999", "-0", "nan", "inf", "3x0", "1x1x1x1x1", "0x0", "1e-320",
               "65536", "1000000"]
ODD_TEXT = ["é", "∞", "\u200b", "\x00", "\t", "🙂", "\\", '"', "'", "{", "}", "<-", "..",
            "/", "\r", "\x0c", "ü" * 3, "\u2028", "\x85", "\x0b", "\x1c"]


# -- sources ---------------------------------------------------------------------------------

def example_specs() -> list[str]:
    """The text of every example spec and of every spec-like code block in the docs."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "specs").glob("*.cnn"))]
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for block in re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(encoding="utf-8"), re.DOTALL):
            if re.search(r"^input \d", block, re.MULTILINE):
                texts.append(block)
    return texts


def example_irs(texts: list[str]) -> list[dict]:
    """The IR of each example that parses (the docs also show fragments that do not)."""
    from cnnspec.errors import SpecError, SpecErrors
    from cnnspec.lang import parse

    irs = []
    for text in texts:
        try:
            irs.append(parse(text).ir)
        except (SpecError, SpecErrors):
            continue
    return irs


@functools.cache
def parsed_examples() -> tuple[list[str], list[dict]]:
    """The examples' texts (:func:`example_specs`) and the IR of each that parses
    (:func:`example_irs`), read and parsed once for every stage that mutates them; the
    stages mutate copies."""
    texts = example_specs()
    return texts, example_irs(texts)


# -- mutating .cnn text ------------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def join(toks: list[str]) -> str:
    # A space between words keeps them apart; newlines and punctuation need none.
    return " ".join(toks).replace(" \n ", "\n")


# The share of the spec cases that are generated (:func:`corner_spec`), not mutated examples.
CORNER_SHARE = 0.25


def spec_case(texts: list[str], rng: random.Random) -> str:
    """One spec to try: a mutant of one of ``texts`` (the examples), or a generated corner
    spec, itself mutated a third of the time."""
    if rng.random() < CORNER_SHARE:
        text = corner_spec(rng)
        return mutate_spec(text, texts, rng) if rng.random() < 1 / 3 else text
    return mutate_spec(rng.choice(texts), texts, rng)


def mutate_spec(text: str, others: list[str], rng: random.Random, mutations=None) -> str:
    """``text`` after one to three mutations, drawn from ``mutations`` (all of
    :data:`SPEC_MUTATIONS` unless given)."""
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(mutations or SPEC_MUTATIONS)(text, others, rng)
    return text


def _token_edit(edit):
    def mutation(text: str, others: list[str], rng: random.Random) -> str:
        toks = tokens(text)
        if not toks:
            return text
        return join(edit(toks, rng.randrange(len(toks)), rng))
    mutation.__name__ = edit.__name__  # named by its edit, as --mutation names it
    return mutation


def _delete(toks, i, rng):
    return toks[:i] + toks[i + 1:]


def _duplicate(toks, i, rng):
    return toks[:i] + [toks[i]] + toks[i:]


def _swap(toks, i, rng):
    j = rng.randrange(len(toks)) if rng.random() < 0.5 else min(i + 1, len(toks) - 1)
    toks = list(toks)
    toks[i], toks[j] = toks[j], toks[i]
    return toks


def _replace(toks, i, rng):
    return toks[:i] + [rng.choice(toks)] + toks[i + 1:]


def _odd_number(toks, i, rng):
    numbers = [k for k, t in enumerate(toks) if NUMBER.match(t) or "x" in t and t[:1].isdigit()]
    k = rng.choice(numbers) if numbers else i
    return toks[:k] + [rng.choice(ODD_NUMBERS)] + toks[k + 1:]


def _deep_brackets(text, others, rng):
    depth = rng.choice([5, 50, 600, 3000])
    opener, closer = rng.choice([("[", "]"), ("(", ")")])
    inner = rng.choice(["1", "1, 2", "", "x"])
    nested = opener * depth + inner + closer * depth * rng.choice([1, 1, 0])
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    lines[k] = lines[k] + " " + nested
    return "\n".join(lines)


def _unicode(text, others, rng):
    k = rng.randrange(len(text) + 1)
    return text[:k] + rng.choice(ODD_TEXT) + text[k:]


def _truncate(text, others, rng):
    return text[:rng.randrange(len(text) + 1)]


def _splice(text, others, rng):
    lines, donor = text.split("\n"), rng.choice(others).split("\n")
    k = rng.randrange(len(lines) + 1)
    return "\n".join(lines[:k] + [rng.choice(donor)] + lines[k:])


def _long_word(text, others, rng):
    k = rng.randrange(len(text) + 1)
    return text[:k] + rng.choice(["a" * 5000, '"' + "s" * 100000 + '"', "x" * 300]) + text[k:]


def _line_endings(text, others, rng):
    """The same lines ended as other systems and editors end them: CRLF, a lone CR (classic
    Mac OS), a mix line by line, behind a byte-order mark, or without the final newline."""
    how = rng.choice(["crlf", "cr", "mixed", "bom", "no final newline"])
    if how == "bom":
        return "\ufeff" + text
    if how == "no final newline":
        return text.rstrip("\n")
    if how == "mixed":
        return "".join(line + rng.choice(["\n", "\r\n", "\r"]) for line in text.split("\n"))
    return text.replace("\n", "\r\n" if how == "crlf" else "\r")


def _written_as_elsewhere(text, others, rng):
    """A line written as other tools and languages write it, the lines whose syntax hints
    rewrite them: two or more of the train block's settings on one line, parted by commas,
    ';' or spaces, each with ':', '=' or a space and its value maybe quoted (`train { data:
    digits, epochs: 2 }`, `lr=0.1; epochs='2'`), or a layer's options as keyword arguments
    (`conv 16 3x3 stride=2 padding='same' activation=relu`, `init he_normal`, `w_init=...`)."""
    lines = text.split("\n")
    opened = [k for k, line in enumerate(lines) if re.match(r"\s*train\s*\{\s*(#.*)?$", line)]
    closed = [k for k, line in enumerate(lines) if line.strip() == "}" and opened and k > opened[0]]
    if opened and closed and rng.random() < 0.5:
        start, end = opened[0], closed[0]
        settings = [k for k in range(start + 1, end) if re.match(r"\s*[a-z_]+\s+\S", lines[k])]
        if len(settings) >= 2:
            first = rng.randrange(len(settings) - 1)
            chosen = settings[first:first + rng.randint(2, len(settings) - first)]
            between, parted = rng.choice([": ", "=", " = ", " ", ":"]), rng.choice(
                [", ", "; ", " ", ",", " ;"])
            written = [re.sub(r"^\s*([a-z_]+)\s+(.*?)\s*(#.*)?$", lambda m: m[1] + between + (
                f"'{m[2]}'" if rng.random() < 0.2 else m[2]), lines[k]) for k in chosen]
            line = parted.join(written)
            if rng.random() < 0.3:  # the whole block on one line
                return "\n".join(lines[:start] + [f"train {{ {line} }}"] + lines[end + 1:])
            return "\n".join(lines[:chosen[0]] + ["  " + line] + lines[chosen[-1] + 1:])
    layers = [k for k, line in enumerate(lines)
              if re.search(r"\b(stride|pad|dilation|weight|bias|relu|tanh)\b", line)
              and "train" not in line and not line.lstrip().startswith(("#", "default"))]
    if not layers:
        return text
    k = rng.choice(layers)
    quote = rng.choice(["", "'", '"'])
    line = re.sub(r"\b(stride|dilation|groups) +(\w+)", rf"\1={quote}\2{quote}", lines[k])
    padding = rng.choice(["padding=", "pad = ", "pad="])
    line = re.sub(r"\bpad +(\w+)", padding + rf"{quote}\1{quote}", line)
    line = re.sub(r"\bweight +", rng.choice(["init ", "w_init=", "kernel_initializer=",
                                             "weight="]), line)
    line = re.sub(r"\bbias +", rng.choice(["b_init ", "bias_initializer=", "bias="]), line)
    line = re.sub(r"\b(relu|tanh)\b(\s*(#.*)?)$", rng.choice(["activation=", "act=", "activation "])
                  + rf"{quote}\1{quote}\2", line)
    return "\n".join(lines[:k] + [line] + lines[k + 1:])


# Other libraries' layers, which the language's hints answer with the line they mean and try
# in the spec's place: Keras and PyTorch classes called with odd arguments, Caffe's types
# written as kinds, Darknet's sections, and their option names on a cnnspec line. Keras'
# classes and Darknet's sections are the language's tables (cnnspec.lang.foreign), these the
# classes and sections beyond them and written with their modules.
FOREIGN_CLASSES = ["layers.Dense", "tf.keras.layers.ReLU", "nn.Conv2d", "torch.nn.BatchNorm2d",
                   "nn.ReLU", "nn.Linear", "nn.MaxPool2d", "nn.Dropout", "nn.AdaptiveAvgPool2d",
                   "Convolution", "InnerProduct", "Pooling", "BatchNorm", "Sequential",
                   "nn.Identity", "Conv1D"]
FOREIGN_VALUES = ["8", "3", "(3, 3)", "2", "0", "-1", "1.5", "1e-3", "1e400", "-1e400",
                  "10**100", "9" * 400, "0.99", "6", "'same'", "'relu'", "'l2'", "None",
                  "True", "[1, 2]", "()", "l2(0.1)", "HeNormal()", "x", "float('nan')", "'é'"]
FOREIGN_KEYWORDS = ["filters", "kernel_size", "strides", "stride", "padding", "activation",
                    "max_value", "negative_slope", "threshold", "momentum", "epsilon", "eps",
                    "affine", "track_running_stats", "inplace", "use_bias", "center",
                    "kernel_regularizer", "kernel_initializer", "rate", "p", "units",
                    "num_output", "moving_average_fraction", "pool"]
CAFFE_LINES = ["Convolution 8 3", "Pooling MAX 2", "InnerProduct 10", "BatchNorm", "Scale",
               "Eltwise SUM", "Dropout 0.5", "LRN", "ReLU", "Softmax"]
OTHER_DARKNET_SECTIONS = ["net", "yolo", "region"]
DARKNET_KEYS = ["filters", "size", "stride", "pad", "padding", "activation", "batch_normalize",
                "layers", "from", "output", "probability"]
DARKNET_VALUES = ["16", "3", "1", "2", "0", "-1", "-1,-4", "leaky", "linear", "mish", "0.5",
                  "1e999", "", "abc"]
FOREIGN_OPTION_LINES = ["batchnorm", "conv 8 3x3", "dense 10", "relu", "maxpool 2",
                        "dropout 0.5"]
FOREIGN_OPTIONS = ["moving_average_fraction", "affine", "track_running_stats", "inplace",
                   "kernel_regularizer", "bias_regularizer", "max_value", "momentum",
                   "use_bias", "center", "scale", "in_channels", "pad_h", "negative_slope",
                   "use_global_stats", "pool"]
FOREIGN_OPTION_VALUES = ["0.999", "0.99", "1.5", "-5", "1e400", "nan", "true", "false", "6",
                         "4", "l2", "l2(0.1)", "l2(1e400)", "l1(0.01)", "AVE", "STOCHASTIC",
                         "x", "[1, 2]"]
# The statements a spec starts a line with that are no layer.
NOT_LAYERS = ("model", "input", "default", "train", "repeat", "}", "#")


def _foreign_call(rng) -> str:
    from cnnspec.lang.foreign import KERAS_CLASSES

    values = [rng.choice(FOREIGN_VALUES) for _ in range(rng.randint(0, 4))]
    values += [f"{rng.choice(FOREIGN_KEYWORDS)}={rng.choice(FOREIGN_VALUES)}"
               for _ in range(rng.randint(0, 3))]
    return f"{rng.choice([*FOREIGN_CLASSES, *KERAS_CLASSES])}({', '.join(values)})"


def _foreign_lines(rng) -> list[str]:
    """Another library's layer as a user might paste it on a spec's line (a Darknet section
    is several lines)."""
    how = rng.choice(["call", "call", "caffe", "darknet", "options"])
    if how == "call":
        return [_foreign_call(rng)]
    if how == "caffe":
        return [rng.choice(CAFFE_LINES)]
    if how == "darknet":
        from cnnspec.lang.foreign import DARKNET_SECTIONS

        section = rng.choice([*DARKNET_SECTIONS, *OTHER_DARKNET_SECTIONS])
        return [f"[{section}]"] + [
            f"{rng.choice(DARKNET_KEYS)}={rng.choice(DARKNET_VALUES)}"
            for _ in range(rng.randint(0, 4))]
    options = [f"{rng.choice(FOREIGN_OPTIONS)} {rng.choice(FOREIGN_OPTION_VALUES)}"
               for _ in range(rng.randint(1, 2))]
    return [" ".join([rng.choice(FOREIGN_OPTION_LINES), *options])]


def _foreign_layer(text, others, rng):
    """The first, middle, last or any layer line replaced by another library's layer
    (:func:`_foreign_lines`), keeping or changing its label and maybe reading named inputs."""
    lines = text.split("\n")
    # the layers come before the train block, whose settings read as layer lines too
    end = next((k for k, line in enumerate(lines) if line.lstrip().startswith("train")),
               len(lines))
    layers = [k for k, line in enumerate(lines[:end])
              if line.strip() and not line.lstrip().startswith(NOT_LAYERS)
              and re.match(r"\s*(\w+:\s*)?[a-z_]+\b", line)]
    if not layers:
        return text
    k = rng.choice([layers[0], layers[len(layers) // 2], layers[-1], rng.choice(layers)])
    written = lines[k]
    indent = written[:len(written) - len(written.lstrip())]
    first, *rest = _foreign_lines(rng)
    label = re.match(r"\s*(\w+):", written)
    if label and rng.random() < 0.5:
        first = f"{label[1]}: {first}"
    names = re.findall(r"^\s*(\w+):", text, re.MULTILINE)
    if names and rng.random() < 0.3:
        first += " <- " + ", ".join(rng.sample(names, min(len(names), rng.randint(1, 2))))
    return "\n".join(lines[:k] + [indent + line for line in [first, *rest]] + lines[k + 1:])


def _odd_setting(text, others, rng):
    """A numeric training setting of the catalogue (lr, batch_size, epochs, val_split, ...)
    given an odd number, in the train block (one is opened if the spec has none): check must
    refuse or warn of what train refuses or diverges on (`lr 1e40`)."""
    from cnnspec.ir.training_catalogue import KEYS

    numeric = sorted(name for name, key in KEYS.items()
                     if isinstance(key.default, (int, float)) and not isinstance(key.default, bool))
    line = f"  {rng.choice(numeric)} {rng.choice(ODD_NUMBERS)}"
    if re.search(r"^train\s*\{", text, re.MULTILINE):
        return re.sub(r"^train\s*\{", lambda m: m[0] + "\n" + line, text, count=1,
                      flags=re.MULTILINE)
    return f"{text}\ntrain {{\n{line}\n}}\n"


def _odd_init_call(text, others, rng):
    """A layer's weight or bias init replaced by a call of a catalogue init with each of its
    parameters given an odd number (`lsuv(tol=1e-320, max_iter=2147483648)`): what check
    accepts, init-report and train must finish."""
    from cnnspec.init.catalogue import PARAMS

    lines = text.split("\n")
    layers = [k for k, line in enumerate(lines) if re.match(r"\s*(\w+:\s*)?(conv|dense)\b", line)]
    if not layers:
        return text
    name = rng.choice(sorted(PARAMS))
    args = ", ".join(f"{param}={_odd_argument(param, rng)}" for param in PARAMS[name])
    k = rng.choice(layers)
    lines[k] = f"{re.sub(r'#.*', '', lines[k])} {rng.choice(['weight', 'bias'])} {name}({args})"
    return "\n".join(lines)


MULTS = ["0", "1", "2", "0.5", "1e3", "1e12", "1e30", "1e308", "-1", "nan", "1e-320"]


def _weighted_lines(lines: list[str]) -> list[int]:
    """The indices of the conv and dense lines (labelled or not)."""
    return [k for k, line in enumerate(lines)
            if re.match(r"\s*(\w+:\s*)?(conv|dense)\b", line)]


def _odd_multipliers(text, others, rng):
    """A conv or dense line given an `lr_mult` and or a `decay_mult` of odd pairs
    (`decay_mult [1e12, 1]`), the run a weight decay and an optimizer whose decay is plain or
    not: a layer's decay taking its weights whole is check's to warn of, as the training's."""
    lines = text.split("\n")
    layers = _weighted_lines(lines)
    if not layers:
        return text
    k = rng.choice(layers)
    for option in rng.sample(["lr_mult", "decay_mult"], rng.randint(1, 2)):
        written = re.sub(rf"#.*|\s{option}\s+(\[[^\]]*\]|\S+)", "", lines[k])  # said once
        lines[k] = f"{written} {option} [{rng.choice(MULTS)}, {rng.choice(MULTS)}]"
    text = _set_training("\n".join(lines), "weight_decay", rng.choice(["1e-4", "5e-4", "0.1"]))
    return _set_training(text, "optimizer", rng.choice(["sgd", "sgd(momentum=0.9)", "adamw",
                                                        "adam"]))


OUTPUT_BIASES = ["constant(1e20)", "constant(1e30)", "constant(-1e20)", "constant(1e155)",
                 "normal(0, 1e20)"]


def _large_output_bias(text, others, rng):
    """The last conv or dense line's bias made very large, the loss mse (which squares the
    outputs) or cross_entropy (which a shift of every score leaves alike): biases whose
    square the dtype cannot hold are check's to warn of before train diverges on them."""
    lines = text.split("\n")
    layers = _weighted_lines(lines)
    if not layers:
        return text
    k = layers[-1]
    written = re.sub(r"#.*|\s(nobias|bias\s+\w+(\([^)]*\))?)", "", lines[k])  # said once
    lines[k] = f"{written} bias {rng.choice(OUTPUT_BIASES)}"
    return _set_training("\n".join(lines), "loss", rng.choice(["mse", "cross_entropy"]))


def _odd_argument(param: str, rng: random.Random) -> str:
    """An odd number for an init's parameter; half the time for a gain, a nonlinearity, and
    leaky_relu's with an odd slope (gain=leaky_relu(1e200): its slope squared beyond
    float64's range made a gain of 0, and a gain ratio squared to 0 was a traceback)."""
    if param == "gain" and rng.random() < 0.5:
        return rng.choice(["relu", "tanh", "sigmoid", "linear",
                           f"leaky_relu({rng.choice(ODD_NUMBERS)})"])
    return rng.choice(ODD_NUMBERS)


def _long_block(text, others, rng):
    """A layer line copied into a long block repeated many times (a few hundred bytes that
    make 100,000 layers): refused at the layer limit, at once."""
    lines = text.split("\n")
    layers = [k for k, line in enumerate(lines)
              if re.match(r"\s*(\w+:\s*)?(conv|relu|tanh|dense)\b", line)]
    if not layers:
        return text
    k = rng.choice(layers)
    line = re.sub(r"#.*|^\s*\w+:", "", lines[k])  # unlabelled: each copy is named apart
    body = [line] * rng.choice([30, 100, 300])
    return "\n".join(lines[:k] + [f"repeat {rng.choice([999, 1000])} {{", *body, "}"]
                     + lines[k + 1:])


REPEAT_COUNTS = ["1", "2", "3", "0", "-1", "2.5", "1000", "99999", "x", ""]
REPEAT_NAMES = ["", "", "body", "body", "x", "conv1", "repeat1", "é", "a" * 300, "1a"]


def _layer_lines(lines: list[str]) -> list[int]:
    """The indices of the layer lines above the train block (labelled or not)."""
    end = next((k for k, line in enumerate(lines) if line.lstrip().startswith("train")),
               len(lines))
    return [k for k, line in enumerate(lines[:end])
            if line.strip() and not line.lstrip().startswith(NOT_LAYERS)
            and re.match(r"\s*(\w+:\s*)?[a-z_]+\b", line)]


def _nested_repeat(text, others, rng):
    """A run of layer lines wrapped in repeat blocks nested two to four deep, with odd counts
    and names (`repeat 0`, `repeat 2 as x` in `repeat 3 as x`, `repeat 1000` around a
    `repeat 1000`), sometimes emptied or left unclosed: what the resolver expands, check,
    fmt and diagram read, refused at the layer limit at once where it makes too many."""
    lines = text.split("\n")
    layers = _layer_lines(lines)
    if not layers:
        return text
    first = rng.randrange(len(layers))
    start, stop = layers[first], layers[rng.randrange(first, len(layers))] + 1
    body = [] if rng.random() < 0.1 else lines[start:stop]
    for _ in range(rng.randint(2, 4)):
        name = rng.choice(REPEAT_NAMES)
        opener = f"repeat {rng.choice(REPEAT_COUNTS)}" + (f" as {name}" if name else "") + " {"
        body = [opener, *("  " + line for line in body), "}"]
    if rng.random() < 0.1:
        body.pop(rng.randrange(len(body)))  # a brace or a line lost
    return "\n".join(lines[:start] + body + lines[stop:])


def _silence_names(rng) -> str:
    from cnnspec.check.lint_catalogue import LINTS

    names = [lint.name for lint in LINTS]
    odd = ["", "all", "*", "gain_misfit", "GAIN-MISFIT", "nope", "é", "a" * 300, "-", ",",
           "gain-misfit,", " gain-misfit ", "E501", "signal-scale]"]
    picked = [rng.choice(names if rng.random() < 0.6 else odd) for _ in range(rng.randint(1, 3))]
    return rng.choice([",", ", ", " "]).join(picked)


def _ignore_comment(text, others, rng):
    """A `# cnnspec: ignore[...]` or `ignore-file[...]` comment, well or badly written (lints
    that exist, misspelt or unknown ones, none, unclosed brackets, another tool's form), at
    the end of a line or on its own: check reads them, fmt keeps them."""
    names = _silence_names(rng)
    comment = rng.choice([f"# cnnspec: ignore[{names}]", f"# cnnspec: ignore-file[{names}]",
                          f"#cnnspec:ignore[{names}]", f"# cnnspec: ignore[{names}",
                          "# cnnspec: ignore", "# cnnspec: ignore-file", "# cnnspec: noqa",
                          f"# cnnspec: ignore[{names}]]", f"# noqa: {names}",
                          f"# CNNSPEC: IGNORE[{names}]", f"# cnnspec: ignore-all[{names}]",
                          f"# cnnspec: ignore[{names}]  # cnnspec: ignore[{_silence_names(rng)}]",
                          f"# cnnspec: ignore-file[{names}] cnnspec: ignore[{names}]"])
    lines = text.split("\n")
    k = rng.randrange(len(lines))
    if rng.random() < 0.3:
        return "\n".join(lines[:k] + [comment] + lines[k:])
    lines[k] = re.sub(r"\s*#.*", "", lines[k]) + "  " + comment
    return "\n".join(lines)


ODD_PATHS = ['""', '"missing.npz"', '"."', '"/"', '"/dev/null"', '"' + "d/" * 200 + 'x.npz"',
             '"é.npz"', '"a\\nb.npz"', "missing.npz", '"' + "x" * 5000 + '"']
ODD_LISTS = ["[]", "[0]", "[3, 2]", "[1, 1e999]", "[-1]", "[1, 2, 3]", "[nan]", "[[1]]",
             "[" + ", ".join(["1"] * 1000) + "]", "[x, o]", "[x, x]", "[nope]", "[x]", "1"]
ODD_BOOLS = ["true", "false", "1", "0", "yes", "True", "maybe"]


@functools.cache
def odd_data_files() -> list[str]:
    """Odd things to name where an .npz file goes, made once in a folder removed at exit and
    written as the spec language quotes a path: a pipe (opened, it waits for a writer), a
    folder holding .npz files, an .npz compressed with gzip, text under an .npz name and an
    .npz cut short."""
    import gzip

    import numpy as np

    folder = Path(tempfile.mkdtemp(prefix="cnnspec-fuzz-data-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    (folder / "arrays").mkdir()
    good = folder / "arrays" / "good.npz"
    np.savez(good, x=np.zeros((4, 1, 8, 8), np.uint8), y=np.arange(4) % 2)
    (folder / "gzipped.npz").write_bytes(gzip.compress(good.read_bytes()))
    (folder / "text.npz").write_text("x,y\n0,1\n")
    (folder / "cut.npz").write_bytes(good.read_bytes()[:100])
    names = ["arrays", "gzipped.npz", "text.npz", "cut.npz"]
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.npz")
        names.append("pipe.npz")
    return [json.dumps(str(folder / name)) for name in names]


def _odd_value(kind: str, rng: random.Random) -> str:
    """An odd value for a catalogue argument of ``kind`` (number, int, bool, a list, a path,
    the shapes' classes), a fifth of the time one of another kind."""
    if rng.random() < 0.2:
        kind = rng.choice(["number", "bool", "ints", "path"])
    if kind == "bool":
        return rng.choice(ODD_BOOLS)
    if kind in ("ints", "numbers", "classes"):
        return rng.choice(ODD_LISTS)
    if kind == "path":
        return rng.choice(ODD_PATHS + odd_data_files())
    return rng.choice(ODD_NUMBERS)


def _catalogue_call(key: str, rng: random.Random) -> str:
    """A value for the training setting ``key`` that names a catalogue entry (a dataset, an
    optimizer, a schedule, transforms, ...), maybe misspelt, its arguments given odd values,
    by name or by position, some repeated or unknown."""
    from cnnspec.data.downloads import DOWNLOADS
    from cnnspec.ir.datasets import DATASETS
    from cnnspec.ir.training_catalogue import KEYS

    if key == "data":  # downloads aside: no network to fetch them from
        entries = {name: [(a.name, a.kind) for a in kind.args]
                   for name, kind in DATASETS.items() if name not in DOWNLOADS}
    else:
        entries = {name: [(a.name, a.type) for a in getattr(entry, "args", ())]
                   for name, entry in KEYS[key].catalogue.items()}
    name = rng.choice(sorted(entries))
    args = [(arg, kind) for arg, kind in entries[name] if rng.random() < 0.7]
    if rng.random() < 0.2:
        args.append((rng.choice(["nope", "lr", "size", *(a for a, _ in entries[name])]), "number"))
    written = [f"{arg}={_odd_value(kind, rng)}" if rng.random() < 0.7 else _odd_value(kind, rng)
               for arg, kind in args]
    shown = name if rng.random() < 0.9 else name[:-1] or name + "x"
    call = f"{shown}({', '.join(written)})" if written or rng.random() < 0.3 else shown
    if KEYS[key].many:
        return "[" + ", ".join([call] * rng.randint(1, 3)) + "]"
    return call


def _set_training(text: str, key: str, value: str) -> str:
    """``text`` with the training setting ``key`` given ``value``: its line replaced, else the
    line put first in the train block (one is opened if the spec has none)."""
    line = f"  {key} {value}"
    written = re.compile(rf"^\s*{re.escape(key)}\b.*$", re.MULTILINE)
    block = re.search(r"^train\s*\{", text, re.MULTILINE)
    if block and written.search(text, block.end()):
        return text[:block.end()] + written.sub(lambda m: line, text[block.end():], count=1)
    if block:
        return text[:block.end()] + "\n" + line + text[block.end():]
    return f"{text}\ntrain {{\n{line}\n}}\n"


def _odd_catalogue_setting(text, others, rng):
    """A training setting that names catalogue entries (data, preprocess, optimizer, schedule,
    monitor, loss, augment) given an entry, maybe misspelt, with odd arguments
    (`data shapes(size=1e999, classes=[x, x])`, `data npz("/")`, `schedule multistep([-1])`,
    `augment [crop(pad=0), crop(pad=0)]`): check must refuse what train refuses."""
    from cnnspec.ir.training_catalogue import KEYS

    keys = sorted(["data", *(name for name, key in KEYS.items() if key.catalogue)])
    key = rng.choice(keys)
    return _set_training(text, key, _catalogue_call(key, rng))


SPEC_MUTATIONS = [_token_edit(_delete), _token_edit(_duplicate), _token_edit(_swap),
                  _token_edit(_replace), _token_edit(_odd_number), _token_edit(_odd_number),
                  _deep_brackets, _unicode, _truncate, _splice, _long_word, _line_endings,
                  _written_as_elsewhere, _foreign_layer, _odd_setting, _odd_init_call,
                  _long_block, _nested_repeat, _ignore_comment, _odd_catalogue_setting,
                  _odd_multipliers, _large_output_bias]
# The mutations by the names --mutation takes them by (foreign_layer, odd_number, ...).
SPEC_MUTATION_NAMES = {mutation.__name__.lstrip("_"): mutation for mutation in SPEC_MUTATIONS}


# -- generated corner specs -------------------------------------------------------------------

# What the generated specs draw from: the corners of check's warnings (kernel taps that never
# meet the input, the padding's share of the signal, the signal and gradient estimates,
# silenced ReLUs, large scores, twin branches, dropout before batch norm), which mutants of
# the examples seldom reach.
CORNER_KERNELS = ["1", "2", "3", "3", "5", "7", "15", "100", "3x1", "1x9", "100000x1"]
CORNER_PADS = ["", "", "same", "1", "3", "10", "50", "0x1x1x0", "4x0"]
CORNER_STRIDES = ["", "", "2", "3", "10", "50"]
CORNER_DILATIONS = ["", "", "2", "3", "7"]
CORNER_WEIGHTS = ["he_normal", "glorot_uniform", "lecun_normal", "orthogonal",
                  "delta_orthogonal(gain=1)", "normal(0, 1e-30)", "normal(0, 1e30)",
                  "glorot_normal(gain=1e-30)", "constant(0.1)", "zeros",
                  "normal(5, 1)", "identity", "box", "gaussian(1)", "uniform(-3, 3)"]
CORNER_BIASES = ["zeros", "zeros", "constant(-1)", "constant(-100)", "constant(3)",
                 "normal(0, 1)", "constant(1e30)", "nobias"]
CORNER_ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "", "gelu"]
CORNER_DEPTHS = [1, 1, 2, 3, 5, 20, 50, 100, 300]


def _corner_inits(rng: random.Random, weights: list[str] = CORNER_WEIGHTS) -> str:
    bias = rng.choice(CORNER_BIASES)
    return f"weight {rng.choice(weights)} " + (bias if bias == "nobias" else f"bias {bias}")


def _corner_conv(rng: random.Random, filters: int) -> str:
    words = [f"conv {filters} {rng.choice(CORNER_KERNELS)}"]
    for option, values in (("pad", CORNER_PADS), ("stride", CORNER_STRIDES),
                           ("dilation", CORNER_DILATIONS)):
        value = rng.choice(values)
        if value:
            words.append(f"{option} {value}")
    return " ".join(words + [_corner_inits(rng), rng.choice(CORNER_ACTIVATIONS)])


def _corner_block(rng: random.Random, name: str) -> list[str]:
    """The lines of one block, reading the layer before it."""
    filters = rng.choice([1, 2, 4, 8])
    how = rng.choice(["geometry", "geometry", "stack", "twins", "dropout", "pool"])
    if how == "geometry":
        return [f"{name}: {_corner_conv(rng, filters)}"]
    if how == "stack":
        act, init = rng.choice(["tanh", "sigmoid"]), _corner_inits(rng)
        layer = rng.choice([f"conv {filters} 3x3 pad same", f"conv {filters} 1x1",
                            f"conv {filters} 3x3 pad same dilation 2"])
        return [f"{name}_in: {layer} weight he_normal {act}",
                f"repeat {rng.choice(CORNER_DEPTHS)} as {name} {{", f"  {layer} {init} {act}",
                "}"]
    if how == "twins":
        layer = rng.choice([f"conv {filters} 3x3 pad same", f"conv {filters} 1x1"])
        init = rng.choice(["constant(0.1)", "box", "he_normal", "identity"])
        frozen = rng.choice(["", "frozen"])
        second = rng.choice(["b", "a"])  # "a": one layer read twice
        return [f"{name}_in: maxpool 1",  # a name for both branches to read
                f"{name}_a: {layer} weight {init} {frozen} <- {name}_in",
                f"{name}_b: {layer} weight {init} {frozen} <- {name}_in",
                f"{name}: {rng.choice(['concat', 'add'])}({name}_a, {name}_{second}) "
                + rng.choice(CORNER_ACTIVATIONS)]
    if how == "dropout":
        drop = rng.choice(["dropout 0.5", "dropout 0.1", "dropout2d 0.3"])
        return [f"{name}_drop: {drop}", f"{name}: batchnorm {rng.choice(['', 'relu', 'tanh'])}"]
    return [f"{name}: {rng.choice(['maxpool 2', 'avgpool 3 pad 1', 'maxpool 4 stride 4'])}"]


# Inits a dense output may take (no conv kernels).
CORNER_HEAD_WEIGHTS = [w for w in CORNER_WEIGHTS if w not in ("identity", "box", "gaussian(1)")]


def corner_spec(rng: random.Random) -> str:
    """A spec of one to four blocks drawn to reach the corners of check's warnings: kernels
    wider than their input, paddings and strides far beyond the map, dilations, 1x1 maps,
    inits of std 1e-30 and 1e30 or gain 0, constant, zero and negative biases, stacks of 1 to
    300 tanh or sigmoid layers, twin branches into a concat or add, dropout before batch
    norm, and a head of softmax, sigmoid or raw scores, with a short train block."""
    size, classes = rng.choice([4, 5, 8]), rng.choice([2, 3])
    colour = rng.random() < 0.2
    lines = ["model corner", f"input {3 if colour else 1}x{size}x{size}"]
    for i in range(rng.randint(1, 4)):
        lines += _corner_block(rng, f"b{i}")
    loss = rng.choice(["cross_entropy", "cross_entropy", "mse", "nll", "bce"])
    units, output = (1, "") if loss == "bce" else (classes, "log_softmax") if loss == "nll" \
        else (classes, rng.choice(["", "", "softmax", "sigmoid"]))
    classes = 2 if loss == "bce" else classes
    lines += [rng.choice(["flatten", "global_avgpool", "global_maxpool"]),
              f"out: dense {units} {_corner_inits(rng, CORNER_HEAD_WEIGHTS)} {output}"]
    names = ", ".join(["x", "plus", "o"][:classes])
    lines += ["train {",
              f"  data shapes(size={size}, classes=[{names}], count={classes * 8}"
              + (", colour=true)" if colour else ")"),
              f"  optimizer {rng.choice(['sgd', 'adam', 'sgd(momentum=0.9)'])}",
              f"  lr {rng.choice(['0.01', '0.1', '0.001'])}", f"  loss {loss}",
              f"  batch {rng.choice([4, 8, 16])}", "  epochs 1", "}"]
    return "\n".join(lines) + "\n"

# -- mutating the IR -------------------------------------------------------------------------

ODD_VALUES = [None, True, -1, 0, 10 ** 330, 2 ** 63, 1e300, -1e300, 0.5, 1.5, "", "x",
              "../../escaped", "/abs/path", "a\x00b", "s" * 100000, [], {}, [[[[1]]]],
              {"name": "x"}, 2147483648, -0.0, 1e-320]


def _paths(value, here=()) -> list[tuple]:
    """Every place in a JSON value, as the keys and indexes that lead to it."""
    out = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, here + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, here + (i,))
    return out


def _parent(ir, place):
    node = ir
    for part in place[:-1]:
        node = node[part]
    return node


DEEP = "__deep__"  # stands for a deeply nested value, written into the text (json.dumps
# itself cannot write one)


def _deep_text(rng) -> str:
    depth = rng.choice([50, 1000, 5000])
    opener, closer = rng.choice([("[", "]"), ('{"a": ', "}")])
    return opener * depth + "1" + closer * depth


def mutate_ir(ir: dict, rng: random.Random) -> str:
    """The JSON text of ``ir`` after one to three mutations (and sometimes a cut)."""
    ir = copy.deepcopy(ir)
    for _ in range(rng.randint(1, 3)):
        places = [p for p in _paths(ir) if p]
        if not places:
            break
        place = rng.choice(places)
        parent, key = _parent(ir, place), place[-1]
        how = rng.choice(["delete", "value", "value", "deep", "retype", "duplicate"])
        if how == "delete":
            del parent[key]
        elif how == "value":
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif how == "deep":
            parent[key] = DEEP
        elif how == "retype":
            old = parent[key]
            parent[key] = ([old] if not isinstance(old, list) else
                           {"value": old} if rng.random() < 0.5 else str(old))
        elif isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        else:
            parent[str(key) + "_copy"] = copy.deepcopy(parent[key])
    text = json.dumps(ir, indent=1).replace(json.dumps(DEEP), _deep_text(rng))
    roll = rng.random()
    if roll < 0.05:
        text = text[:rng.randrange(len(text) + 1)]
    elif roll < 0.08:  # literals Python's json reads and JSON has not
        text = text.replace("1", rng.choice(["NaN", "Infinity", "-Infinity", "1e999"]), 1)
    return text


# Values fields of the IR may well take (each valid where another spec writes it): a spec a
# value or three away from its example, which check may refuse for training while `time` still
# times a step of it on random inputs (an output of one score under cross_entropy had that
# step's random labels index past it).
PLAUSIBLE_VALUES = {"units": [1, 2, 3], "filters": [1, 2],
                    "loss": ["cross_entropy", "bce", "mse", "nll"],
                    "lr_mult": [0.0, [0.0, 1.0], [2.0, 0.0]], "decay_mult": [0.0, [1.0, 0.0]],
                    "momentum": [0.0, 1.0, 1e-17], "trainable": [False], "batch_size": [1, 2],
                    "cores": [1, 3], "weight_decay": [0.0, 1.0], "lr": [0.0, 1e3]}


def mutate_ir_plausibly(ir: dict, rng: random.Random) -> str:
    """The JSON text of ``ir`` with one to three of its fields given a value of
    :data:`PLAUSIBLE_VALUES`."""
    ir = copy.deepcopy(ir)
    places = [p for p in _paths(ir) if p and p[-1] in PLAUSIBLE_VALUES]
    for place in rng.sample(places, min(len(places), rng.randint(1, 3))):
        _parent(ir, place)[place[-1]] = copy.deepcopy(rng.choice(PLAUSIBLE_VALUES[place[-1]]))
    return json.dumps(ir, indent=1)


# -- running -----------------------------------------------------------------------------------

@dataclass
class Tally:
    outcomes: Counter = field(default_factory=Counter)
    tracebacks: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)  # commands that printed a Python warning
    unclear: list[str] = field(default_factory=list)  # no message, or one quoting whole
    written: list[str] = field(default_factory=list)  # files written or changed unasked
    slowest: float = 0.0


# The warnings Python hides unless asked: what libraries say to developers, never shown to a
# user of the command line.
HIDDEN_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, ImportWarning,
                   ResourceWarning)


class _Abandoned(BaseException):
    """Raised by the alarm in a command that runs far too long."""


def _alarm(signum, frame):
    raise _Abandoned()


def run_case(path: Path, text: str, tally: Tally, commands=COMMANDS, after=(),
             hang: float = HANG_SECONDS) -> None:
    """Write ``text`` to ``path`` and run each command on it (followed by the arguments
    ``after``), recording the outcomes (a command over ``hang`` seconds as a hang)."""
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    for command in commands:
        run_command([*command, str(path), *after], text, tally, hang)


@dataclass
class Ran:
    """How one command ended: its exit code ("traceback" or "abandoned" when it did not end
    in one) and what it printed."""

    code: int | str
    out: str
    err: str


def run_command(argv: list[str], text: str, tally: Tally, hang: float = HANG_SECONDS,
                abandon: int = ABANDON_SECONDS) -> Ran:
    """Run ``cnnspec argv`` in this process, stopping it after ``abandon`` seconds, record its
    outcome in ``tally`` (``text``, what the command read, is quoted with a traceback or a
    hang: a command over ``hang`` seconds) and return it."""
    from cnnspec.cli import main

    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(abandon)
    try:
        # Every warning recorded, not only each place's first (as Python shows them): a
        # RuntimeWarning on a user's terminal (NumPy's "overflow encountered") is a finding.
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(argv)
        shown = [w for w in caught if not issubclass(w.category, HIDDEN_WARNINGS)]
        if shown:
            tally.warned.append(f"{' '.join(argv)} warned {shown[0].category.__name__}: "
                                f"{shown[0].message} ({shown[0].filename}:{shown[0].lineno}) "
                                f"of:\n{text[:3000]}")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except _Abandoned:
        code = "abandoned"
    except Exception:  # noqa: BLE001 - what the fuzzer is looking for
        code = "traceback"
        tally.tracebacks.append(f"{' '.join(argv)} of:\n{text[:3000]}\n{traceback.format_exc()}")
    finally:
        if hasattr(signal, "SIGALRM"):
            signal.alarm(0)
    seconds = time.perf_counter() - start
    tally.slowest = max(tally.slowest, seconds)
    if seconds > hang:
        tally.hangs.append(f"{' '.join(argv)} took {seconds:.1f} s on:\n{text[:3000]}")
    tally.outcomes[f"exit {code}" if isinstance(code, int) else code] += 1
    return Ran(code, out.getvalue(), err.getvalue())


def fuzz(spec_count: int, ir_count: int, seed: int, progress=None,
         mutations=None) -> tuple[Tally, Tally]:
    """Run ``spec_count`` mutated specs and ``ir_count`` mutated IR files; their tallies.
    ``mutations``: the spec mutations to draw from alone, on the examples only (no corner
    specs); every spec case of :func:`spec_case` unless given."""
    rng = random.Random(seed)
    texts, irs = parsed_examples()
    specs, ir_tally = Tally(), Tally()
    total = spec_count + ir_count
    with tempfile.TemporaryDirectory() as folder:
        # Not counted: the first commands import Lark, jsonschema and NumPy and build the
        # parser, seconds that no later command pays.
        run_case(Path(folder) / "warm.cnn", texts[0], Tally())
        run_case(Path(folder) / "warm.json", json.dumps(irs[0]), Tally())
        for i in range(total):
            # Spec and IR mutants interleaved, so that a partial run has some of each.
            if (i * ir_count) // total != ((i + 1) * ir_count) // total:
                run_case(Path(folder) / "fuzz.json", mutate_ir(rng.choice(irs), rng), ir_tally)
            else:
                text = spec_case(texts, rng) if mutations is None \
                    else mutate_spec(rng.choice(texts), texts, rng, mutations)
                run_case(Path(folder) / "fuzz.cnn", text, specs)
            if progress and (i + 1) % 500 == 0:
                progress(f"{sum(specs.outcomes.values()) // len(COMMANDS)} spec mutants: "
                         f"{_line(specs)}\n{sum(ir_tally.outcomes.values()) // len(COMMANDS)} "
                         f"IR mutants: {_line(ir_tally)}")
    return specs, ir_tally


# -- timing a step ----------------------------------------------------------------------------

# The commands that run a step on random inputs and labels, after the spec's path.
TIMED_COMMANDS = (("time", "--iterations", "1", "--batch-size", "2"),
                  ("init-report", "--input", "gaussian", "--batch-size", "2"))
TIMED_SECONDS = 10.0  # a step of a small example, its first calibration aside


def small_irs(irs: list[dict]) -> list[dict]:
    """The examples whose step is timed in well under a second: few layers on small images."""
    return [ir for ir in irs
            if len(ir["layers"]) <= 24 and math.prod(ir["input"]["shape"]) <= 28 * 28]


def fuzz_timed(count: int, seed: int, progress=None) -> Tally:
    """``count`` IR mutants a few plausible values away from the small examples
    (:func:`mutate_ir_plausibly`), each through ``check`` and :data:`TIMED_COMMANDS` (a step
    of two images): all end in an exit code whatever check says of training the spec."""
    rng = random.Random(seed)
    irs = small_irs(parsed_examples()[1])
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "timed.json"
        for i in range(count):
            text = mutate_ir_plausibly(rng.choice(irs), rng)
            path.write_text(text, encoding="utf-8")
            run_command(["check", str(path)], text, tally)
            for name, *options in TIMED_COMMANDS:
                run_command([name, str(path), *options], text, tally, TIMED_SECONDS)
            if progress and (i + 1) % 100 == 0:
                progress(f"{i + 1} timed IR mutants: {_line(tally, TIMED_SECONDS)}")
    return tally


# -- the importers ----------------------------------------------------------------------------

IMPORT_SOURCES = ROOT / "tests" / "data" / "import"
SOLVER_SUFFIX = "_solver.prototxt"
# Arguments the Caffe importer takes besides the model: none, the images' shape (for a Data
# layer), the solver with the images of an epoch, and odd values of both.
CAFFE_ARGUMENTS = [[], ["--input", "1x28x28"], ["--input", "1x8x8"], ["--input", "3x1x1"],
                   ["--input", "1x28x28", "--epoch-images", "54000"],
                   ["--input", "1x28x28", "--epoch-images", "1"]]


@dataclass
class ImportSources:
    """The importers' example files: Caffe model definitions and solvers (text), Keras
    model JSON (parsed)."""

    prototxts: list[str]
    solvers: list[str]
    keras: list[dict]


def import_sources() -> ImportSources:
    models = sorted(IMPORT_SOURCES.glob("*.prototxt"))
    return ImportSources(
        prototxts=[p.read_text(encoding="utf-8") for p in models
                   if not p.name.endswith(SOLVER_SUFFIX)],
        solvers=[p.read_text(encoding="utf-8") for p in models if p.name.endswith(SOLVER_SUFFIX)],
        keras=[json.loads(p.read_text(encoding="utf-8"))
               for p in sorted(IMPORT_SOURCES.glob("*.json"))])


def import_case(folder: Path, sources: ImportSources, rng: random.Random, tally: Tally) -> None:
    """One mutated import: a Caffe model definition (its text mutated as a spec's is), alone
    or with its solver (mutated or not) and the importer's other arguments, a Keras model
    JSON (mutated as an IR file is), or one of the example files damaged as bytes
    (:func:`damaged_model_file`)."""
    if rng.random() < 0.2:
        suffix, data, what = damaged_model_file(rng)
        path = folder / f"model{suffix}"
        path.write_bytes(data)
        after = ["--input", "1x28x28"] if suffix.lower() == ".prototxt" and rng.random() < 0.5 \
            else []
        run_command(["import", str(path), *after], what, tally)
        path.unlink()
        return
    if rng.random() < 0.5:
        run_case(folder / "fuzz.json", mutate_ir(rng.choice(sources.keras), rng), tally,
                 commands=(["import"],))
        return
    model = rng.choice(sources.prototxts)
    if rng.random() < 0.8:
        model = mutate_spec(model, sources.prototxts, rng)
    after = list(rng.choice(CAFFE_ARGUMENTS))
    quoted = model
    if rng.random() < 0.5:
        solver = rng.choice(sources.solvers)
        if rng.random() < 0.7:
            solver = mutate_spec(solver, sources.solvers, rng)
        (folder / "fuzz_solver.prototxt").write_text(solver, encoding="utf-8",
                                                     errors="surrogatepass")
        after += ["--solver", str(folder / "fuzz_solver.prototxt")]
        quoted = f"{model}\n-- the solver:\n{solver}"
    path = folder / "fuzz.prototxt"
    path.write_text(model, encoding="utf-8", errors="surrogatepass")
    run_command(["import", str(path), *after], quoted, tally)


# How a .keras archive may be compressed: as Keras writes it (deflate), and as it never does.
KERAS_COMPRESSIONS = ("ZIP_DEFLATED", "ZIP_DEFLATED", "ZIP_STORED", "ZIP_BZIP2", "ZIP_LZMA")


def damaged_model_file(rng: random.Random) -> tuple[str, bytes, str]:
    """``(suffix, bytes, what was done)``: an example model file (a Keras model JSON, half of
    the time packed as Keras 3's ``.keras`` zip archive) whole, cut short, with bytes changed,
    saved as UTF-16 or Latin-1, its archive's stream damaged, or given another suffix."""
    import zipfile

    source = rng.choice(sorted(IMPORT_SOURCES.iterdir()))
    suffix, data, what = source.suffix, source.read_bytes(), source.name
    if suffix == ".json" and rng.random() < 0.5:
        compression = rng.choice(KERAS_COMPRESSIONS)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", getattr(zipfile, compression)) as archive:
            archive.writestr("metadata.json", '{"keras_version": "3.6.0"}')
            archive.writestr("config.json", data)
            archive.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + bytes(64))
        suffix, data, what = ".keras", buffer.getvalue(), f"{what} in a .keras ({compression})"
    roll = rng.random()
    if roll < 0.3:
        data, what = data[:rng.randrange(len(data) + 1)], what + " cut"
    elif roll < 0.6:
        changed = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            changed[rng.randrange(len(changed))] = rng.randrange(256)
        data, what = bytes(changed), what + " with bytes changed"
    elif roll < 0.7 and suffix != ".keras":
        encoding = rng.choice(["utf-16", "utf-16-le", "latin-1", "utf-32"])
        data = data.decode("utf-8").encode(encoding, errors="replace")
        what += f" saved as {encoding}"
    elif roll < 0.8 and suffix == ".keras":
        data, what = npz_cases().damaged_stream(data, "config.json"), what + ", stream damaged"
    if rng.random() < 0.1:
        suffix = rng.choice([".PROTOTXT", ".pbtxt", ".JSON", ".Keras", ".onnx", ".h5", ".txt"])
        what += f" named {suffix}"
    return suffix, data, what


def fuzz_imports(count: int, seed: int, progress=None) -> Tally:
    """Run ``count`` mutated imports (seeded)."""
    rng = random.Random(f"imports:{seed}")
    sources = import_sources()
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(count):
            import_case(Path(folder), sources, rng, tally)
            if progress and (i + 1) % 500 == 0:
                progress(f"{i + 1} import mutants: {_line(tally)}")
    return tally


# -- dataset files placed by hand ------------------------------------------------------------

# The datasets downloaded on first use whose files a user may place by hand, and how a placed
# file is damaged: whole, cut short, bytes changed, or (compressed) a deflate block that is no
# deflate block past the part that opens (the tar headers of CIFAR-10's archive).
PLACED_DATASETS = ("mnist", "cifar10")
PLACED_DAMAGES = ("whole", "whole", "cut", "flip", "bad_block", "other_format")
NO_DEFLATE_BLOCK = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + b"\xff" * 64


def _idx(array, magic: int) -> bytes:
    import struct

    return struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape) \
        + array.tobytes()


def _placed_files(name: str, rng: random.Random) -> dict[str, bytes]:
    """A tiny copy of dataset ``name``'s published files, by their published names, plain."""
    import io as bytes_io
    import tarfile

    import numpy as np

    from cnnspec.data import cifar
    from cnnspec.data.idx import IMAGES_MAGIC, LABELS_MAGIC
    from cnnspec.downloaded import IDX_FILES

    arrays = np.random.default_rng(rng.randrange(1 << 30))
    if name == "mnist":
        count = rng.choice([0, 1, 4])
        return {file: _idx(arrays.integers(0, 256, (count, 28, 28), dtype=np.uint8)
                           if "images" in file else arrays.integers(0, 12, count, np.uint8),
                           IMAGES_MAGIC if "images" in file else LABELS_MAGIC)
                for file in IDX_FILES}
    archive = bytes_io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for batch in (*cifar.TRAIN_BATCHES, cifar.TEST_BATCH):
            data = arrays.integers(0, 11, cifar.RECORD * rng.choice([0, 1, 2]), np.uint8).tobytes()
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{batch}")
            info.size = len(data)
            tar.addfile(info, bytes_io.BytesIO(data))
    return {cifar.ARCHIVE: archive.getvalue()}


def _placed_bytes(data: bytes, others: list[bytes], rng: random.Random) -> bytes:
    """``data`` compressed or not, then damaged one of :data:`PLACED_DAMAGES`' ways."""
    import gzip

    compressed = rng.random() < 0.5
    stored = gzip.compress(data, mtime=0) if compressed else data
    damage = rng.choice(PLACED_DAMAGES)
    if damage == "cut":
        return stored[:rng.randrange(len(stored) + 1)]
    if damage == "flip" and stored:
        changed = bytearray(stored)
        for _ in range(rng.randint(1, 4)):
            changed[rng.randrange(len(changed))] = rng.randrange(256)
        return bytes(changed)
    if damage == "bad_block":
        return gzip.compress(data[:rng.randrange(len(data) + 1)], mtime=0) + NO_DEFLATE_BLOCK
    if damage == "other_format":  # another file of the set, or another dataset's
        return rng.choice(others)
    return stored


def placed_case(folder: Path, rng: random.Random, tally: Tally) -> None:
    """Place a tiny copy of a downloaded dataset's files by hand in a fresh cache, each under
    its published name (``.gz``) or the name without it, compressed or not whatever the name
    says, maybe damaged, with the SHA-256 of what was placed as the published one (so the
    reader, not the digest, meets the damage), and load it with no mirror to download from:
    the files are read from their first bytes (1f 8b: gzip), and any damage must be a
    RunError, never a traceback."""
    import hashlib

    from cnnspec.data.downloads import load_download
    from cnnspec.errors import RunError

    name = rng.choice(PLACED_DATASETS)
    files = _placed_files(name, rng)
    others = [*files.values(), *_placed_files(rng.choice(PLACED_DATASETS), rng).values()]
    shutil.rmtree(folder / name, ignore_errors=True)
    (folder / name).mkdir(parents=True)
    checksums = {}
    for published, data in files.items():
        placed = _placed_bytes(data, others, rng)
        stored_as = published if rng.random() < 0.5 else published.removesuffix(".gz")
        (folder / name / stored_as).write_bytes(placed)
        checksums[published] = hashlib.sha256(placed).hexdigest()
    what = f"load_download({name!r}) of files placed by hand ({sorted(checksums)})"
    try:
        load_download(name, folder, mirrors=[], checksums=checksums, timeout=1)
        tally.outcomes["exit 0"] += 1
    except RunError:
        tally.outcomes["exit 1"] += 1
    except Exception:  # noqa: BLE001 - what the fuzzer is looking for
        tally.outcomes["traceback"] += 1
        tally.tracebacks.append(f"{what}\n{traceback.format_exc()}")


def fuzz_placed(count: int, seed: int, progress=None) -> Tally:
    """Run ``count`` datasets placed by hand (seeded)."""
    rng = random.Random(f"placed:{seed}")
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        for i in range(count):
            placed_case(Path(folder), rng, tally)
            if progress and (i + 1) % 500 == 0:
                progress(f"{i + 1} placed datasets: {_line(tally)}")
    return tally


# -- damaged run folders --------------------------------------------------------------------

# A small run with a file of every kind: batch norm's running statistics in the checkpoint,
# Adam's moments in the training state, a preprocessing record, three class names.
RUN_SPEC = """\
model damaged
input 1x8x8
conv1: conv 4 3x3 pad same
bn: batchnorm
relu
pool: maxpool 2
flatten
drop: dropout 0.25
fc: dense 3

train {
  data shapes(size=8, classes=[x, plus, o], count=90)
  preprocess standardize
  optimizer adam
  lr 0.01
  batch 15
  epochs 2
  seed 1
}
"""


# Resume trains the run's second epoch: under 1 s alone, twice that on a busy machine.
RESUME_SECONDS = 10.0


# Every command that reads a run folder ({run}), resume last (the only one that may write it);
# {work} is the folder of the spec, the input image and the outputs (a fine-tuned run is
# trained into {work}/FINE_TUNED, removed before each command).
FINE_TUNED = "finetuned"
RUN_COMMANDS = (("eval", "{run}"), ("eval", "{run}", "--last"),
                ("predict", "{run}", "{work}/input.npy"),
                ("filters", "{run}", "-o", "{work}/f.png"),
                ("filters", "{run}", "--compare-init", "-o", "{work}/f.png"),
                ("features", "{run}", "{work}/input.npy", "-o", "{work}/features.png"),
                ("features", "{run}", "--index", "1", "-o", "{work}/features.png"),
                ("export", "{run}", "--format", "onnx", "-o", "{work}/m.onnx", "--force"),
                ("export", "{run}", "--format", "torch", "-o", "{work}/m.py", "--force"),
                ("train", "{work}/damaged.cnn", "--weights-from", "{run}", "--epochs", "1",
                 "--quiet", "--out", "{work}/" + FINE_TUNED),
                ("train", "--resume", "{run}", "--epochs", "2", "--quiet"))


def run_commands(run: Path, work: Path) -> list[list[str]]:
    return [[word.format(run=run, work=work) for word in command] for command in RUN_COMMANDS]


def train_run(folder: Path) -> Path:
    """Train one epoch of :data:`RUN_SPEC` into ``folder/run`` and mark it interrupted (resume
    with ``--epochs 2`` then reads every file and trains the second); write an input image
    for predict and features."""
    import numpy as np

    from cnnspec.cli import main
    from cnnspec.training import rundir
    from cnnspec.training.files import read_npz, write_json, write_npz

    (folder / "damaged.cnn").write_text(RUN_SPEC, encoding="utf-8")
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        code = main(["train", str(folder / "damaged.cnn"), "--out", str(folder / "run"),
                     "--quiet", "--epochs", "1"])
    assert code == 0, "the run to damage did not train"
    run = folder / "run"
    summary = json.loads((run / rundir.SUMMARY).read_text(encoding="utf-8"))
    summary["status"] = "interrupted"
    write_json(run / rundir.SUMMARY, summary)
    arrays = read_npz(run / rundir.CHECKPOINT)
    position = json.loads(str(arrays["_position"]))
    position["finished"] = False
    arrays["_position"] = np.asarray(json.dumps(position))
    write_npz(run / rundir.CHECKPOINT, arrays)
    np.save(folder / "input.npy", np.zeros((1, 8, 8), np.float32))
    return run


def _npy_bytes(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _huge_npy() -> bytes:
    """A .npy header declaring a terabyte, followed by a few bytes."""
    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "<f4", "fortran_order": False, "shape": (1_000_000, 1_000_000)})
    return buffer.getvalue() + bytes(64)


def _odd_array(array, rng: random.Random):
    """``array`` (a checkpoint's) made wrong: its dtype, shape or values; a text holding JSON
    (the position in training, the dropout generator's state) made wrong in its own terms."""
    import numpy as np

    if array.dtype.kind == "U" and array.ndim == 0 and rng.random() < 0.5:
        try:
            return np.asarray(mutate_ir(json.loads(str(array)), rng))
        except (ValueError, TypeError):  # not JSON, or JSON of no fields (null)
            pass
    how = rng.choice(["float16", "complex", "object", "0-d", "shape", "transpose", "empty",
                      "nan", "inf", "int", "bool", "text", "huge values", "negative", "datetime"])
    if how == "float16":
        return array.astype(np.float16) if array.dtype.kind != "U" else array
    if how == "complex":
        return array.astype(np.complex64) if array.dtype.kind in "fiub" else array
    if how == "object":
        return np.array([1, "a", None], dtype=object)
    if how == "0-d":
        return np.asarray(array.ravel()[0] if array.size else 0)
    if how == "shape":
        return np.zeros((*array.shape, 2), array.dtype) if array.ndim < 6 else array[..., :1]
    if how == "transpose":
        if array.ndim > 1:
            return array.T.copy()
        return array[: max(0, array.size - 1)] if array.ndim else array.reshape(1)
    if how == "empty":
        return np.zeros((0,) + array.shape[1:], array.dtype)
    if how in ("nan", "inf") and array.dtype.kind == "f" and array.size:
        out = array.copy()
        out.flat[rng.randrange(out.size)] = np.nan if how == "nan" else np.inf
        return out
    if how == "int":
        return np.ones(array.shape, np.int64)
    if how == "bool":
        return np.ones(array.shape, bool)
    if how == "datetime":  # a dtype the buffer protocol has no format for
        return np.zeros(array.shape, rng.choice(["datetime64[s]", "timedelta64[ms]"]))
    if how == "text":
        return np.asarray(rng.choice(["{}", "[1, 2]", "x", '{"epoch": 1e400}', ""]))
    if how == "huge values" and array.dtype.kind == "f":
        return np.full(array.shape, 1e38 if array.dtype == np.float32 else 1e300, array.dtype)
    if how == "negative" and array.dtype.kind in "fi":
        return -np.abs(array) - 1
    return array


def damage_npz(data: bytes, rng: random.Random) -> bytes:
    """An .npz archive with one member made wrong, deleted, added or declared a terabyte."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            members = {name: archive.read(name) for name in names}
    except zipfile.BadZipFile:
        return data
    import numpy as np

    name = rng.choice(names) if names else "x.npy"
    how = rng.choice(["array", "array", "array", "delete", "add", "huge", "garbage"])
    if how == "array" and name in members:
        array = np.load(io.BytesIO(members[name]), allow_pickle=False)
        members[name] = _npy_bytes(_odd_array(array, rng))
    elif how == "delete":
        members.pop(name, None)
    elif how == "add":
        members[rng.choice(["extra.npy", "_epoch.npy", "conv1.weight.npy", "../up.npy"])] = \
            _npy_bytes(np.zeros(3, np.float32))
    elif how == "huge":
        members[name] = _huge_npy()
    else:
        members[name] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, payload in members.items():
            archive.writestr(member, payload)
    return buffer.getvalue()


def _negative(value, rng: random.Random):
    """``value`` (a JSON document) with one of its numbers made negative or zero."""
    places = [p for p in _paths(value) if p and isinstance(_parent(value, p)[p[-1]], (int, float))
              and not isinstance(_parent(value, p)[p[-1]], bool)]
    if places:
        place = rng.choice(places)
        parent = _parent(value, place)
        parent[place[-1]] = rng.choice([-1, 0, -0.5, -(10 ** 9)])
    return value


def damage_text(name: str, data: bytes, rng: random.Random) -> bytes:
    """A run's text file (JSON, JSON lines, the spec) mutated in its own terms."""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".cnn"):
        return mutate_spec(text, [text], rng).encode("utf-8", errors="surrogatepass")
    lines = text.split("\n") if name.endswith(".jsonl") else [text]
    k = rng.randrange(len(lines))
    try:
        doc = json.loads(lines[k])
    except (ValueError, RecursionError):  # damaged before: cut, or nested past Python's depth
        return data
    if rng.random() < 0.3:
        lines[k] = json.dumps(_negative(doc, rng))
    elif isinstance(doc, (dict, list)):
        lines[k] = mutate_ir(doc, rng).replace("\n", " " if name.endswith(".jsonl") else "\n")
    return "\n".join(lines).encode("utf-8", errors="surrogatepass")


def damage_run(run: Path, rng: random.Random) -> str:
    """Damage one file of the run folder ``run`` in place, or remove it; what was done, for
    the report."""
    files = sorted(p for p in run.iterdir() if p.is_file())
    target = rng.choice(files)
    data = target.read_bytes()
    how = rng.choice(["truncate", "empty", "another file", "bytes", "own terms", "own terms",
                      "own terms", "removed"])
    if how == "removed":
        target.unlink()
        return f"{target.name}: {how}"
    if how == "truncate":
        data = data[:rng.randrange(len(data) + 1)]
    elif how == "empty":
        data = b""
    elif how == "another file":
        data = rng.choice(files).read_bytes()
    elif how == "bytes" and data:
        data = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        data = bytes(data)
    elif target.suffix == ".npz":
        data = damage_npz(data, rng)
    elif target.suffix in (".json", ".jsonl", ".cnn"):
        data = damage_text(target.name, data, rng)
    target.write_bytes(data)
    return f"{target.name}: {how}"


def _contents(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.iterdir()) if p.is_file()}


def run_case_damaged(base: Path, work: Path, rng: random.Random, tally: Tally) -> None:
    """Copy the run ``base``, damage (or remove) one or two of its files, and run every
    command that reads a run folder on the copy. A command other than resume that changes the
    folder, or a resume that fails and has changed it, has lost work (recorded as a
    traceback); a resume that trained and diverged records that in the folder
    (``diverged.npz``, the summary), as it should."""
    from cnnspec.training.rundir import DIVERGED

    run = work / "damaged"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(base, run)
    what = "; ".join(damage_run(run, rng) for _ in range(rng.choice([1, 1, 1, 2])))
    before = _contents(run)
    for argv in run_commands(run, work):
        shutil.rmtree(work / FINE_TUNED, ignore_errors=True)
        code_before = dict(tally.outcomes)
        run_command(argv, f"run folder damaged: {what}", tally,
                    RESUME_SECONDS if argv[0] == "train" else HANG_SECONDS)
        failed = tally.outcomes.get("exit 0", 0) == code_before.get("exit 0", 0)
        diverged = (run / DIVERGED).exists() and DIVERGED not in before
        if "--resume" not in argv or (failed and not diverged):
            lost = [name for name, data in before.items() if _contents(run).get(name) != data]
            if lost:
                tally.tracebacks.append(f"{' '.join(argv)} on a run folder damaged ({what}) "
                                        f"changed or removed {', '.join(lost)}\nlost work")


def fuzz_runs(count: int, seed: int, progress=None) -> Tally:
    """Damage ``count`` copies of a freshly trained run (seeded) and run every run-reading
    command on each."""
    rng = random.Random(f"runs:{seed}")
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        base = train_run(Path(folder))
        for argv in run_commands(base, Path(folder))[:-1]:  # imports, not counted
            run_command(argv, "the undamaged run", Tally())
        for i in range(count):
            run_case_damaged(base, Path(folder), rng, tally)
            if progress and (i + 1) % 50 == 0:
                progress(f"{i + 1} damaged run folders: {_line(tally)}")
    return tally


# -- sweep folders --------------------------------------------------------------------------

# The sweep the sweep stage damages and runs again: two cells of one epoch of RUN_SPEC, on one
# local worker process.
SWEEP_ARGS = ("--set", "lr=0.1,0.01", "--epochs", "1", "--workers", "1")
SWEEP_SECONDS = 60.0  # a Dask cluster started, and a cell or two trained again


def _sweep(spec: Path, out: Path) -> list[str]:
    return ["sweep", str(spec), "--out", str(out), *SWEEP_ARGS]


def _tree_contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def sweep_case_damaged(base: Path, spec: Path, work: Path, rng: random.Random,
                       tally: Tally) -> None:
    """Copy the sweep folder ``base``, damage one or two files of it or of one of its cells
    (:func:`damage_run`, which also removes them) or replace a cell by an empty folder or a
    file, and run the same sweep into it again, which goes on where it stopped: it ends in an
    exit code, and one that fails changes nothing (else it has lost work, recorded as a
    traceback)."""
    out = work / "damaged-sweep"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(base, out)
    cells = sorted(p for p in out.iterdir() if p.is_dir())
    folder = rng.choice([out, out, *cells])
    if folder is not out and rng.random() < 0.2:
        shutil.rmtree(folder)
        folder.mkdir() if rng.random() < 0.5 else folder.write_bytes(b"")
        what = f"{folder.name}: replaced by an empty {'folder' if folder.is_dir() else 'file'}"
    else:
        what = "; ".join(f"{folder.name}/{damage_run(folder, rng)}"
                         for _ in range(rng.choice([1, 1, 2])))
    before = _tree_contents(out)
    ran = run_command(_sweep(spec, out), f"sweep folder damaged: {what}", tally, SWEEP_SECONDS,
                      int(SWEEP_SECONDS) * 2)
    if ran.code not in (0, "abandoned"):
        lost = [name for name, data in before.items() if _tree_contents(out).get(name) != data]
        if lost:
            tally.tracebacks.append(f"a sweep run again into a folder damaged ({what}) failed "
                                    f"and changed {', '.join(lost)}\nlost work")


def fuzz_sweeps(count: int, seed: int, progress=None) -> Tally:
    """Damage ``count`` copies of a finished sweep folder (seeded) and run the sweep into each
    again (:func:`sweep_case_damaged`)."""
    rng = random.Random(f"sweeps:{seed}")
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        spec, base = Path(folder) / "swept.cnn", Path(folder) / "sweep"
        spec.write_text(RUN_SPEC, encoding="utf-8")
        assert run_command(_sweep(spec, base), RUN_SPEC, Tally(), SWEEP_SECONDS).code == 0, \
            "the sweep to damage did not run"
        for i in range(count):
            sweep_case_damaged(base, spec, Path(folder), rng, tally)
            if progress and (i + 1) % 10 == 0:
                progress(f"{i + 1} damaged sweep folders: {_line(tally, SWEEP_SECONDS)}")
    return tally


# -- inputs and data files given to a run ----------------------------------------------------

# The pictures the input stage damages: each format Pillow writes here, in these modes (an
# 8x8 grey image is what the run takes; the others are converted and resized).
PICTURE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM", "ICO", "TGA", "PCX",
                   "SGI", "QOI", "JPEG2000", "XBM", "DIB")
PICTURE_MODES = (("L", (8, 8)), ("RGB", (8, 8, 3)), ("RGBA", (9, 7, 4)), ("1", (8, 8)),
                 ("L", (300, 2)))
INPUT_COMMANDS = (("predict", "{run}", "{input}"),
                  ("predict", "{run}", "{input}", "--format", "json"),
                  ("features", "{run}", "{input}", "-o", "{work}/features.png"))


def pictures() -> list[tuple[str, bytes]]:
    """``(suffix, bytes)`` of a noise picture in every format and mode of
    :data:`PICTURE_FORMATS` and :data:`PICTURE_MODES` that Pillow writes."""
    import numpy as np
    from PIL import Image

    made = []
    for name in PICTURE_FORMATS:
        for mode, shape in PICTURE_MODES:
            pixels = np.random.default_rng(len(made)).integers(0, 256, shape, np.uint8)
            buffer = io.BytesIO()
            try:
                Image.fromarray(pixels).convert(mode).save(buffer, format=name)
            except (OSError, ValueError, KeyError):  # a mode the format cannot hold
                continue
            made.append(("." + name.lower(), buffer.getvalue()))
    return made


def damaged_input(sources: list[tuple[str, bytes]], rng: random.Random) -> tuple[str, bytes,
                                                                                 str]:
    """``(suffix, bytes, what was done)``: a picture or an ``.npy`` array, whole or damaged."""
    import numpy as np

    if rng.random() < 0.35:
        shape = rng.choice([(1, 8, 8), (8, 8), (2, 1, 8, 8), (3, 8, 8), (8, 8, 1), (0, 1, 8, 8)])
        array = np.random.default_rng(rng.randrange(1000)).random(shape).astype(np.float32)
        suffix, data, what = ".npy", _npy_bytes(array), f"array {shape}"
        if rng.random() < 0.5:
            array = _odd_array(array, rng)
            data, what = _npy_bytes(array), f"array {array.dtype} {array.shape}"
    else:
        suffix, data = rng.choice(sources)
        what = f"picture {suffix}"
    roll = rng.random()
    if roll < 0.25:
        data, what = data[:rng.randrange(len(data) + 1)], what + " cut"
    elif roll < 0.55 and data:
        changed = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            changed[rng.randrange(len(changed))] = rng.randrange(256)
        data, what = bytes(changed), what + " with bytes changed"
    elif roll < 0.6:
        data, what = _huge_npy(), "a terabyte declared"
    if rng.random() < 0.1:
        suffix = rng.choice([".npy", ".png", ".JPG", ".npz", ".txt", ""])
        what += f" named {suffix or 'without a suffix'}"
    return suffix, data, what


def npz_cases():
    """``tests/npz_cases.py`` (the damaged data files the tests try), as a module."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cnnspec_npz_cases",
                                                  ROOT / "tests" / "npz_cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def data_case(folder: Path, run: Path, cases, rng: random.Random,
              tally: AgreementTally) -> None:
    """A damaged ``.npz`` data file through ``eval --data npz:PATH`` of ``run`` and through
    ``check`` and a short ``train`` of a spec reading it, classified as they agree (in
    ``folder``, which :func:`agreement_case` clears of its run)."""
    name, spec, data = cases.make_case(rng)
    path = folder / "data.npz"
    path.write_bytes(data)
    quoted = f"data file: {name}"
    run_command(["eval", str(run), "--data", f"npz:{path}"], quoted, tally)
    # the spec names the file relative to the folder a command runs in: here, by its path
    text = spec.replace('"data.npz"', json.dumps(str(path)))
    kind = agreement_case(folder, text, tally)
    if kind in FINDINGS:
        tally.findings[-1] = f"{quoted}\n{tally.findings[-1]}"


def fuzz_inputs(count: int, seed: int, progress=None) -> AgreementTally:
    """Run ``count`` damaged inputs (seeded) through the commands that read them: pictures
    and arrays through predict and features, data files through eval, check and train."""
    rng = random.Random(f"inputs:{seed}")
    sources, cases = pictures(), npz_cases()
    tally = AgreementTally()
    with tempfile.TemporaryDirectory() as folder:
        work, agree = Path(folder), Path(folder) / "agree"
        run = train_run(work)
        agree.mkdir()
        for i in range(count):
            if rng.random() < 0.5:
                data_case(agree, run, cases, rng, tally)
            else:
                suffix, data, what = damaged_input(sources, rng)
                path = work / f"input{suffix}"
                path.write_bytes(data)
                argv = [word.format(run=run, input=path, work=work)
                        for word in rng.choice(INPUT_COMMANDS)]
                run_command(argv, what, tally)
                path.unlink()
            if progress and (i + 1) % 100 == 0:
                progress(f"{i + 1} inputs: {_line(tally)}; data files: "
                         f"{_agreement_line(tally)}")
    return tally


# -- the command line ------------------------------------------------------------------------

# Example specs that train in a second or two: the spec a fuzzed command line names, so a
# command that does what it was asked finishes well within ARGV_SECONDS.
ARGV_SPECS = ("x_detector.cnn", "edges.cnn", "zeros.cnn")
# A command line still running after this is killed (with everything it started) and counted
# as a hang.
ARGV_SECONDS = 20.0
# What a command writes when no option names an output: the run folders of train, compare and
# sweep (under runs/) and data's picture (<spec name>-data.png), as their --help says.
DEFAULT_OUTPUTS = {"train": ("runs",), "compare": ("runs",), "sweep": ("runs",),
                   "data": ("*-data.png",)}
# The folder of a command's case: the spec, the trained run, an input image, an empty folder;
# every path a case names is relative to it, and never leaves it (no "..", no absolute path).
CASE_PATHS = ["spec.cnn", "run", "input.npy", "folder", "missing.cnn", "missing",
              "missing/out.png", "run/spec.cnn", "run/summary.json", "run/checkpoint.npz",
              "run/metrics.csv", "spec.cnn/out.png", "out.png", "out.onnx", "out.py",
              "out.json", "out.cnn", "out.PNG", "new", "runs/new", "folder/out.png", "-",
              ".", "é.png", "a b.png", "x" * 300 + ".png", "folder/" + "y" * 256]
ODD_ARGS = ["", " ", "-1", "-0.5", "0", "1", "2", "0.01", "1.5", "1e-3", str(10 ** 30),
            "9" * 400, "nan", "inf", "-inf", "1e999", "0x10", "1_000", "１２", "é", "🙂",
            "\u200b", "a" * 5000, "x=1", "lr=0.1,0.01", "conv1", "he_normal", "1x28x28",
            "8x5", "2G", "512M", "5", "tcp://", "=", "--", "-", "-x", "True", "\x1b[31mred",
            "a\x07b", "a\rb"]


@dataclass
class CommandLine:
    """What the command line a case runs is made of, read from cnnspec's own parsers: its
    commands (in the order of the table), each command's positionals and options, and the
    option strings of every command (for a command given another's options)."""

    commands: list[str]
    positionals: dict[str, list]  # command -> its positional actions
    options: dict[str, list]  # command -> its optional actions (not --help)
    outputs: dict[str, set[str]]  # command -> the option strings that name what it writes

    @property
    def every_option(self) -> list[str]:
        return sorted({name for actions in self.options.values() for action in actions
                       for name in action.option_strings})


def command_line() -> CommandLine:
    from cnnspec.cli import COMMANDS, build_parser, command_parser
    from cnnspec.cli.arguments import new_folder

    positionals, options, outputs = {}, {}, {}
    for name in COMMANDS:
        sub = command_parser(build_parser(name), name)
        actions = [action for action in sub._actions
                   if not isinstance(action, argparse._HelpAction)]
        positionals[name] = [action for action in actions if not action.option_strings]
        options[name] = [action for action in actions if action.option_strings]
        # an output: an option named for one (-o/--out/--output) or a folder it creates
        outputs[name] = {option for action in options[name] for option in action.option_strings
                         if action.dest in ("out", "output") or action.type is new_folder}
    assert set(DEFAULT_OUTPUTS) <= set(COMMANDS)
    return CommandLine(list(COMMANDS), positionals, options, outputs)


def _misspelt(option: str, rng: random.Random) -> str:
    """``option`` mistyped: a letter dropped, doubled or swapped, underscores for dashes,
    upper case, or one dash."""
    body = option.lstrip("-")
    dashes = option[: len(option) - len(body)]
    k = rng.randrange(len(body))
    how = rng.choice(["drop", "double", "swap", "underscore", "upper", "one dash"])
    if how == "drop":
        body = body[:k] + body[k + 1:]
    elif how == "double":
        body = body[:k] + body[k] + body[k:]
    elif how == "swap" and len(body) > 1:
        k = min(k, len(body) - 2)
        body = body[:k] + body[k + 1] + body[k] + body[k + 2:]
    elif how == "underscore":
        body = body.replace("-", "_")
    elif how == "upper":
        body = body.upper()
    else:
        dashes = "-"
    return dashes + body


# Values that fit an option or positional, by the metavar its parser gives it: a command line
# that gets past the parser reaches the command's own checks and work.
FITTING = {"N": ["1", "2", "3"], "K": ["1", "2"], "J": ["1", "2"], "S": ["0", "7"],
           "LR": ["0.01", "0.1"], "ACC": ["0.5", "0.99"], "SIZE": ["2G", "512M"],
           "DIR": ["new", "runs/new", "folder"], "RUN": ["run"], "FILE.png": ["out.png"],
           "FILE": ["out.png", "out.onnx", "out.py", "out.json", "out.svg", "out.dot"],
           "SPEC.cnn": ["out.cnn", "-"], "SOLVER.prototxt": ["spec.cnn"],
           "CxHxW": ["1x16x16", "3x8x8"], "WxB": ["3x2", "2x2"],
           "NAME": ["conv1", "fc", "xk", "he_normal", "glorot_normal", "normal(0, 0.01)"],
           "NAME,...": ["conv1", "conv1,fc", "fc"],
           # one value in two spellings (a sweep of them trains one cell), odd and empty ones
           "KEY=V1,V2": ["lr=0.1,0.01", "epochs=1,2", "lr=0.1,1e-1",
                         "init=he_normal,kaiming_normal", "xk.filters=1,01", "lr=",
                         "lr=0.1,,0.2", "é=1", "lr=[0.1, 0.2]", "batch=1.5", "lr=nan"],
           "DATA": ["digits", "shapes(size=16, classes=[x, plus])"],
           "ADDRESS": ["tcp://127.0.0.1:1"], "SPEC": ["spec.cnn", "run/spec.cnn",
                                                     "run/spec.json"],
           "SPEC|RUN": ["spec.cnn", "run"], "INPUT": ["input.npy"], "SOURCE": ["spec.cnn"]}


def _value(action, rng: random.Random) -> str:
    """A value for ``action`` (an argparse action taking one; None for an option another
    command takes): one of its choices or a value that fits its metavar, a path of the case,
    or an odd value."""
    roll = rng.random()
    fitting = list(action.choices) if action is not None and action.choices else \
        FITTING.get(getattr(action, "metavar", None), [])
    if fitting and roll < 0.6:
        return rng.choice(fitting)
    if roll < 0.75:
        return rng.choice(CASE_PATHS)
    return rng.choice(ODD_ARGS)


def _option_words(name: str, action, rng: random.Random) -> list[str]:
    """``name`` (an option string) with a value when ``action`` takes one, written as
    ``--opt value``, ``--opt=value`` or ``-oVALUE``; sometimes the value is missing or a flag
    gets one."""
    takes = action is None or action.nargs != 0
    if not takes:
        return [f"{name}={_value(action, rng)}"] if rng.random() < 0.05 else [name]
    if rng.random() < 0.08:
        return [name]  # the value forgotten
    value = _value(action, rng)
    form = rng.random()
    if form < 0.2 and name.startswith("--"):
        return [f"{name}={value}"]
    if form < 0.3 and not name.startswith("--"):
        return [name + value]
    return [name, value]


def argv_case(line: CommandLine, rng: random.Random) -> list[str]:
    """A command line: a command from the table, its positionals (mostly paths of the case)
    and a random mix of its own options, other commands', misspelt and duplicated ones, short
    options and ``--``, with values ordinary and odd."""
    command = rng.choice(line.commands)
    own = {name: action for action in line.options[command] for name in action.option_strings}
    words = []
    # a third of the lines only the command's own options: most get past the parser
    mix = 0.75 if rng.random() < 0.67 else 2.0
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 4, 6])):
        roll = rng.random() * mix
        if (roll < 0.75 or roll > 1) and own:
            name = rng.choice(sorted(own))
            words += _option_words(name, own[name], rng)
        elif roll < 0.81:
            words += _option_words(rng.choice(line.every_option), None, rng)
        elif roll < 0.88 and own:
            name = rng.choice(sorted(own))
            words += _option_words(_misspelt(name, rng), own[name], rng)
        elif roll < 0.92:
            letter = rng.choice('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ')
            words += _option_words(f"-{letter}", None, rng)
        elif words:
            words += words[-2:]  # the last option again
    positionals = []
    for action in line.positionals[command]:
        count = {None: 1, "?": rng.choice([0, 1]), "+": rng.choice([1, 1, 2]),
                 "*": rng.choice([0, 1, 2])}.get(action.nargs, 1)
        positionals += [_value(action, rng) for _ in range(count)]
    roll = rng.random()
    if roll < 0.05 and positionals:
        positionals.pop(rng.randrange(len(positionals)))
    elif roll < 0.1:
        positionals.append(rng.choice(CASE_PATHS + ODD_ARGS))
    for word in positionals:
        words.insert(rng.randrange(len(words) + 1), word)
    if rng.random() < 0.05:
        words.insert(rng.randrange(len(words) + 1), "--")
    if rng.random() < 0.03:  # the command mistyped
        return [_misspelt(command, rng), *words]
    return [command, *words]


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> SHA-256 of its bytes), and every folder
    (-> "folder")."""
    import hashlib

    tree = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        tree[name] = ("folder" if path.is_dir() and not path.is_symlink()
                      else hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file()
                      else "other")
    return tree


def _outputs_named(argv: list[str], outputs: set[str]) -> list[str]:
    """The paths ``argv`` names as outputs: the value after (or joined to) an output option,
    as the user asked to be written."""
    named = []
    for k, word in enumerate(argv):
        for option in outputs:
            if word == option and k + 1 < len(argv):
                named.append(argv[k + 1])
            elif word.startswith(option + "="):
                named.append(word[len(option) + 1:])
            elif not option.startswith("--") and word.startswith(option) and len(word) > 2:
                named.append(word[2:])
    return named


def _asked(name: str, named: list[str], command: str) -> bool:
    """Whether the file or folder ``name`` (relative to the case folder) is one the command
    was asked to write: an output named (or under one, or beside one with its stem: export's
    weights beside its PyTorch module), or the command's default outputs."""
    import fnmatch

    path = os.path.normpath(name)
    for given in named:
        given = os.path.normpath(given) if given else given
        if not given:
            continue
        if path == given or path.startswith(given.rstrip("/") + "/") \
                or given.startswith(path + "/"):
            return True
        if os.path.dirname(path) == os.path.dirname(given) and \
                os.path.splitext(os.path.basename(path))[0] == \
                os.path.splitext(os.path.basename(given))[0]:
            return True
    defaults = DEFAULT_OUTPUTS.get(command, ())
    return any(fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/")
               for pattern in defaults)


# A line of a message longer than this quotes a value whole (the fuzzer's are up to 5,000
# characters long): cnnspec quotes values shortened.
MESSAGE_LINE = 1000
# A control character printed raw (an escape sequence the terminal would obey, a carriage
# return overwriting the line); tabs and newlines are layout.
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
WARNING_LINE = re.compile(r":\d+: (\w*Warning): ")
TRACEBACK = "Traceback (most recent call last)"


def run_argv(argv: list[str], case: Path, env: dict, tally: Tally, line: CommandLine) -> None:
    """Run ``cnnspec argv`` in its own process (and process group) in the folder ``case``,
    kill it after :data:`ARGV_SECONDS` with everything it started, and record its outcome:
    the exit code; a traceback, a Python warning, a failure with nothing on stderr, a line
    quoting a value whole or a control character printed raw; files written that no output
    option named, and inputs changed."""
    import subprocess

    from cnnspec.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, shortened

    before = _tree(case)
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cnnspec", *argv], cwd=case, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = process.communicate(timeout=ARGV_SECONDS)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        _, err = process.communicate()
        code = "abandoned"
    seconds = time.perf_counter() - start
    tally.slowest = max(tally.slowest, seconds)
    with contextlib.suppress(ProcessLookupError):  # what it started and left behind
        os.killpg(process.pid, signal.SIGKILL)
    err = err.decode("utf-8", errors="replace")
    shown = repr([shortened(word, 60) for word in argv])
    if code == "abandoned":
        tally.hangs.append(f"{shown} killed after {ARGV_SECONDS:g} s; stderr:\n{err[-2000:]}")
    elif TRACEBACK in err or code not in (0, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED):
        tally.tracebacks.append(f"{shown} exit {code}:\n{err[-4000:]}")
    elif code != 0 and not err.strip():
        tally.unclear.append(f"{shown} exit {code} with nothing on stderr")
    longest = max(err.split("\n"), key=len)
    if len(longest) > MESSAGE_LINE:
        tally.unclear.append(f"{shown} exit {code} printed a line of {len(longest):,} "
                             f"characters: {longest[:300]}...")
    control = RAW_CONTROL.search(err)
    if control:
        tally.unclear.append(f"{shown} exit {code} printed the control character "
                             f"{control.group()!r}: {err[-2000:]!r}")
    hidden = {w.__name__ for w in HIDDEN_WARNINGS}
    warned = [m.group(1) for m in WARNING_LINE.finditer(err) if m.group(1) not in hidden]
    if warned:
        tally.warned.append(f"{shown} warned {warned[0]}:\n{err[-2000:]}")
    command = argv[0]
    named = _outputs_named(argv, line.outputs.get(command, set()))
    if code == 0 and "--resume" in argv:  # resume continues the run it names, as asked
        named += _outputs_named(argv, {"--resume"})
    after = _tree(case)
    changed = [name for name in sorted(set(before) | set(after))
               if before.get(name) != after.get(name) and not _asked(name, named, command)]
    # a folder's own entry changes only when it is made or removed: name the files
    changed = [name for name in changed if not any(other.startswith(name + "/")
                                                   for other in changed)] or changed
    if changed:
        tally.written.append(f"{shown} exit {code} wrote or changed what it was not asked "
                             f"to: {', '.join(changed[:8])}")
    left = _left_in_tmp(Path(env["TMPDIR"]))
    if left and code != "abandoned":  # a killed command cannot clean up
        tally.written.append(f"{shown} exit {code} left {', '.join(left[:8])} in the "
                             "temporary folder")
    tally.outcomes[f"exit {code}" if isinstance(code, int) else code] += 1


# What Dask keeps in the temporary folder on purpose: the workers' shared scratch space, reused
# by every cluster.
DASK_SCRATCH = "dask-scratch-space"


def _left_in_tmp(tmp: Path) -> list[str]:
    """What a command left in the temporary folder ``tmp`` (removed, so that the next case
    starts clean)."""
    left = sorted(p.name for p in tmp.iterdir() if p.name != DASK_SCRATCH)
    for name in left:
        if (tmp / name).is_dir():
            shutil.rmtree(tmp / name, ignore_errors=True)
        else:
            (tmp / name).unlink(missing_ok=True)
    return left


def argv_environment(session: Path) -> dict:
    """The environment of the fuzzed commands: caches (cnnspec's calibration, datasets,
    Matplotlib's fonts), the home folder and the temporary folder (``TMPDIR``) inside the
    session's folder, so nothing is written outside it."""
    env = dict(os.environ)
    home = session / "home"
    home.mkdir(exist_ok=True)
    (session / "tmp").mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
               MPLCONFIGDIR=str(home / ".matplotlib"), TMPDIR=str(session / "tmp"),
               PYTHONWARNINGS="default")
    env.pop("PYTHONPATH", None)
    return env


def argv_session(session: Path, env: dict, spec: str) -> Path:
    """Train the run every case copies (the spec ``spec`` of specs/, one epoch) into
    ``session/base``, with the spec and an input image beside it."""
    import subprocess

    import numpy as np

    base = session / "base"
    base.mkdir()
    shutil.copyfile(ROOT / "specs" / spec, base / "spec.cnn")
    subprocess.run([sys.executable, "-m", "cnnspec", "train", "spec.cnn", "--out", "run",
                    "--epochs", "1", "--quiet"], cwd=base, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    np.save(base / "input.npy", np.zeros((1, 16, 16), np.float32))
    (base / "folder").mkdir()
    return base


def fuzz_argv(count: int, seed: int, progress=None) -> Tally:
    """Run ``count`` fuzzed command lines (seeded), each in a fresh copy of a folder holding
    a spec of :data:`ARGV_SPECS`, a run trained from one of them and an input image."""
    rng = random.Random(f"argv:{seed}")
    line = command_line()
    tally = Tally()
    with tempfile.TemporaryDirectory() as folder:
        session = Path(folder)
        env = argv_environment(session)
        base = argv_session(session, env, ARGV_SPECS[0])
        for i in range(count):
            case = session / f"case{i}"
            shutil.copytree(base, case)
            shutil.copyfile(ROOT / "specs" / rng.choice(ARGV_SPECS), case / "spec.cnn")
            run_argv(argv_case(line, rng), case, env, tally, line)
            shutil.rmtree(case, ignore_errors=True)
            if progress and (i + 1) % 100 == 0:
                progress(f"{i + 1} command lines: {_line(tally, ARGV_SECONDS)}")
    return tally


# -- the memory stage ----------------------------------------------------------------------------

TRAIN_CAP = 1 << 30  # mutants whose step is estimated above this are skipped, not trained
# A mutant's steps still running after this are stopped and counted as a hang: three steps
# (one to import, two measured) of a net estimated near TRAIN_CAP take 10-40 s on a busy
# two-core machine.
TRAIN_ABANDON_SECONDS = 120


STEPS = 2  # steps traced: the second runs with the first's buffers, gradients and state alive


def _train_steps(checked, x, y, steps: int) -> None:
    """Build the model (in ``x``'s dtype) and the optimizer and run ``steps`` training steps
    (forward, loss, backward, optimizer update), as training does."""
    import cnnspec
    from cnnspec.engine.optim import make_optimizer

    training = checked.ir["training"]
    model = cnnspec.compile(checked, seed=0, dtype=x.dtype.name)
    # tracemalloc sees this process's arrays only: the parts run in threads, whose arrays are
    # the worker processes' (check's estimate also counts what the workers add)
    model.parts_in = "threads"
    optimizer = make_optimizer(training["optimizer"], training["weight_decay"])
    # A mutant's huge learning rate or weights overflow here as they would in training, whose
    # loop hides NumPy's RuntimeWarnings and reports the divergence itself; two steps on
    # random labels have nothing to report, and the memory they take is the same.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(steps):
            _, dout = model.loss(model.forward(x), y)
            model.backward(dout)
            optimizer.step(model.params(), model.grads(), training["lr"])


def measured_step(checked, dtype: str = "float32") -> int:
    """Peak bytes allocated (NumPy reports its arrays to tracemalloc) to build the model and
    run training steps in ``dtype`` at the spec's batch size on synthetic inputs and random
    labels (after a first run has done its imports): the first step allocates the layers'
    work buffers and the optimizer's state, later ones run while those and the previous
    step's gradients and kept caches are alive."""
    import tracemalloc

    import numpy as np

    from cnnspec.lab.batch import gaussian_inputs

    batch = checked.ir["training"]["batch_size"]
    x, y = gaussian_inputs(checked, batch, np.random.default_rng(0), dtype)
    _train_steps(checked, x, y, 1)
    # The first run's model lingers in reference cycles until a collection: alive, it would
    # lend the measured model the buffers that layers of one geometry share in a thread
    # (cnnspec.engine.windows.shared_work), made before tracing began (VGG-small's step, batch
    # 64, measured 83-100 MiB with it, 110 without, under the largest limits).
    gc.collect()
    tracemalloc.start()
    try:
        _train_steps(checked, x, y, STEPS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass
class MemoryTally:
    """The memory stage's outcomes: (measured / estimate, measured, estimate, spec) per step
    trained, and the mutants not trained, by why."""

    steps: list[tuple[float, int, int, str]] = field(default_factory=list)
    too_large: int = 0  # estimate above the cap
    refused: int = 0  # a clean RunError/SpecError from compile or the step
    tracebacks: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    slowest: float = 0.0
    cap: int = TRAIN_CAP

    @property
    def beyond(self) -> list[tuple[float, int, int, str]]:
        return [step for step in self.steps if step[1] > step[2]]


def train_case(path: Path, text: str, tally: MemoryTally) -> bool:
    """Train two steps of the spec ``text`` when ``check`` accepts it and compare its measured
    peak with the estimate; False when ``check`` refuses it (nothing is recorded then)."""
    import cnnspec
    from cnnspec.errors import RunError, SpecError, SpecErrors

    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    start = time.perf_counter()
    if hasattr(signal, "SIGALRM"):
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(TRAIN_ABANDON_SECONDS)
    try:
        try:
            checked = cnnspec.load(path)
        except (SpecError, SpecErrors, RunError):
            return False  # check refuses it
        estimate = checked.step_memory.total
        if estimate > tally.cap:
            tally.too_large += 1
            return True
        try:
            measured = measured_step(checked)
        except (SpecError, SpecErrors, RunError):
            tally.refused += 1
            return True
        tally.steps.append((measured / estimate, measured, estimate, text))
    except _Abandoned:
        tally.hangs.append(f"abandoned after {TRAIN_ABANDON_SECONDS} s on:\n{text[:3000]}")
    except Exception:  # noqa: BLE001 - what the fuzzer is looking for
        tally.tracebacks.append(f"a training step of:\n{text[:3000]}\n{traceback.format_exc()}")
    finally:
        if hasattr(signal, "SIGALRM"):
            signal.alarm(0)
        tally.slowest = max(tally.slowest, time.perf_counter() - start)
    return True


def fuzz_memory(count: int, seed: int, cap: int = TRAIN_CAP, progress=None) -> MemoryTally:
    """Train two steps of ``count`` spec mutants that ``check`` accepts (seeded), measuring
    each step's peak against its estimate."""
    rng = random.Random(f"memory:{seed}")
    texts = example_specs()
    tally = MemoryTally(cap=cap)
    tried = 0
    with tempfile.TemporaryDirectory() as folder:
        # Mutants check accepts are a minority: try up to 50 per step wanted.
        while len(tally.steps) + len(tally.tracebacks) + len(tally.hangs) + tally.refused \
                + tally.too_large < count and tried < 50 * count:
            tried += 1
            accepted = train_case(Path(folder) / "train.cnn",
                                  spec_case(texts, rng), tally)
            if accepted and progress and (len(tally.steps) + 1) % 50 == 0:
                progress(f"memory: {_memory_line(tally)}")
    return tally


def _memory_line(tally: MemoryTally) -> str:
    ratios = sorted(step[0] for step in tally.steps)
    spread = (f"measured/estimate max {ratios[-1]:.2f}, median {ratios[len(ratios) // 2]:.2f}, "
              f"min {ratios[0]:.2f}; " if ratios else "")
    return (f"{len(tally.steps)} steps trained: {spread}{len(tally.beyond)} allocations beyond "
            f"the estimate; skipped {tally.too_large} estimated over "
            f"{tally.cap / (1 << 30):g} GiB, {tally.refused} refused with a clean error; "
            f"tracebacks {len(tally.tracebacks)}, abandoned {len(tally.hangs)}, "
            f"slowest {tally.slowest:.2f} s")


# -- check against train ------------------------------------------------------------------------

# What train is given besides the spec: one epoch, no progress output. Every setting check
# reads (data, batch size, cores, optimizer, inits) is trained as written: with the batch in
# one part (--cores 1) a spec whose parts check refuses trained as one part that fits.
SHORT_TRAIN = ("--epochs", "1", "--quiet")
# A training still running after this is stopped: it had started, so train accepted the spec.
AGREEMENT_SECONDS = 20

# How check and a short train of one spec ended together: the two disagreements and a
# divergence check gave no warning of are findings.
BOTH_ACCEPT = "both accept"
BOTH_REFUSE = "both refuse"
TRAIN_REFUSES = "check accepts, train refuses"
TRAIN_RUNS = "check refuses, train runs"
DIVERGED_WARNED = "diverged after a check warning"
DIVERGED_UNWARNED = "diverged without a check warning"
TRACEBACK_PAIR = "traceback"
FINDINGS = (TRAIN_REFUSES, TRAIN_RUNS, DIVERGED_UNWARNED)
DIVERGED_MESSAGE = "training diverged"  # how train says the loss became NaN or infinite


def agreement(check: Ran, train: Ran) -> str:
    """How ``train`` of a spec ended beside ``check`` of it: the project's rule is that check
    refuses what train would refuse (memory that cannot be allocated included), and warns of
    what makes it diverge."""
    if "traceback" in (check.code, train.code):
        return TRACEBACK_PAIR
    from cnnspec.errors import EXIT_FAILURE

    diverged = train.code == EXIT_FAILURE and DIVERGED_MESSAGE in train.err
    ran = train.code in (0, "abandoned") or diverged
    if check.code != 0:
        return TRAIN_RUNS if ran else BOTH_REFUSE
    if diverged:
        return DIVERGED_WARNED if "warning: " in check.err else DIVERGED_UNWARNED
    return BOTH_ACCEPT if ran else TRAIN_REFUSES


@dataclass
class AgreementTally(Tally):
    """The exit codes, tracebacks and warnings of both commands, and how each pair ended."""

    pairs: Counter = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)  # the spec and both commands' messages
    too_large: int = 0  # accepted by check, estimated above the cap: not trained
    cap: int = TRAIN_CAP


def agreement_case(folder: Path, text: str, tally: AgreementTally, suffix: str = ".cnn") -> str:
    """Run ``check`` and a short ``train`` on the spec ``text`` (an IR with ``suffix``
    ".json") in ``folder``, record how they agree and return it; a spec check accepts whose
    step is estimated above the tally's cap is not trained."""
    import cnnspec

    path, run = folder / f"agree{suffix}", folder / "run"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    check = run_command(["check", str(path)], text, tally)
    if check.code == 0 and cnnspec.load(path).step_memory.total > tally.cap:
        tally.too_large += 1
        return "too large"
    shutil.rmtree(run, ignore_errors=True)
    train = run_command(["train", str(path), "--out", str(run), *SHORT_TRAIN], text, tally,
                        hang=AGREEMENT_SECONDS, abandon=AGREEMENT_SECONDS)
    kind = agreement(check, train)
    tally.pairs[kind] += 1
    if kind in FINDINGS:
        tally.findings.append(f"{kind}:\n{_without_comments(text)[:3000]}\n-- check: exit "
                              f"{check.code}\n{check.err[-1500:]}\n-- train: exit "
                              f"{train.code}\n{train.err[-1500:]}")
    return kind


# -- every command of a spec ------------------------------------------------------------------

# The commands that read a spec beyond COMMANDS, each after the spec's path ({out}: the case's
# folder): check, summary, fmt, diagram, init-report and export all read what it says.
SPEC_READERS = (("fmt", "--check"), ("diagram", "-o", "{out}/net.dot"),
                ("diagram", "-o", "{out}/net.svg", "--detail", "minimal", "--rankdir", "LR"),
                ("init-report", "--input", "gaussian", "--batch-size", "2"),
                ("export", "--format", "onnx", "-o", "{out}/net.onnx", "--force"))
READER_SECONDS = 10.0  # a diagram or a forward pass of two images of a small net
FMT_CHANGED = "fmt changed what the spec means"


def fmt_keeps_meaning(path: Path, text: str, tally: AgreementTally) -> None:
    """Format the spec at ``path`` in place: where fmt succeeds, ``export`` of the formatted
    spec must end as of the original (same exit code, same IR) and a second ``fmt --check``
    find nothing to change; else a finding."""
    before = run_command(["export", str(path)], text, tally, READER_SECONDS)
    if run_command(["fmt", str(path)], text, tally, READER_SECONDS).code != 0:
        return
    formatted = path.read_text(encoding="utf-8", errors="surrogatepass")
    after = run_command(["export", str(path)], formatted, tally, READER_SECONDS)
    again = run_command(["fmt", "--check", str(path)], formatted, tally, READER_SECONDS)
    if (before.code, before.out) != (after.code, after.out) or again.code != 0:
        tally.findings.append(f"{FMT_CHANGED} (export exit {before.code} -> {after.code}, "
                              f"fmt --check again: exit {again.code}):\n{text[:2000]}\n-- "
                              f"formatted:\n{formatted[:2000]}\n-- {after.err[-800:]}")


def every_case(folder: Path, text: str, tally: AgreementTally, suffix: str = ".cnn") -> None:
    """Run the spec ``text`` (an IR with ``suffix`` ".json") through every command that reads
    a spec: check, summary and export (:data:`COMMANDS`), :data:`SPEC_READERS`, fmt in place
    (:func:`fmt_keeps_meaning`, which refuses an IR) and, beside check, a one-epoch train
    (:func:`agreement_case`)."""
    path = folder / f"every{suffix}"
    run_case(path, text, tally, hang=READER_SECONDS)
    for name, *options in SPEC_READERS:
        run_command([name, str(path), *(option.format(out=folder) for option in options)],
                    text, tally, READER_SECONDS)
    fmt_keeps_meaning(path, text, tally)
    agreement_case(folder, text, tally, suffix)


# The share of the every-command stage's cases that are IR mutants, the rest spec cases.
EVERY_IR_SHARE = 0.2


def fuzz_every(count: int, seed: int, cap: int = TRAIN_CAP, progress=None) -> AgreementTally:
    """``count`` spec cases (:func:`spec_case`) and IR mutants of the examples
    (:func:`mutate_ir`, :data:`EVERY_IR_SHARE` of them), seeded, through every command
    (:func:`every_case`)."""
    rng = random.Random(f"every:{seed}")
    texts, irs = parsed_examples()
    tally = AgreementTally(cap=cap)
    with tempfile.TemporaryDirectory() as folder:
        for i in range(count):
            if rng.random() < EVERY_IR_SHARE:
                every_case(Path(folder), mutate_ir(rng.choice(irs), rng), tally, ".json")
            else:
                every_case(Path(folder), spec_case(texts, rng), tally)
            if progress and (i + 1) % 50 == 0:
                progress(f"{i + 1} specs through every command: {_line(tally, READER_SECONDS)}; "
                         f"{_agreement_line(tally)}")
    return tally


def _parses(text: str) -> bool:
    """Whether the grammar reads ``text`` (what it refuses, check and train refuse alike)."""
    from cnnspec.errors import SpecError, SpecErrors
    from cnnspec.lang import parse_module

    try:
        parse_module(text)
    except (SpecError, SpecErrors):
        return False
    except Exception:  # noqa: BLE001 - a bug for check and train to show as a traceback
        return True
    return True


def fuzz_agreement(count: int, seed: int, cap: int = TRAIN_CAP, progress=None) -> AgreementTally:
    """Run ``check`` and a short ``train`` on ``count`` spec mutants that parse (seeded)."""
    rng = random.Random(f"agreement:{seed}")
    texts = example_specs()
    tally = AgreementTally(cap=cap)
    tried = 0
    with tempfile.TemporaryDirectory() as folder:
        while sum(tally.pairs.values()) + tally.too_large < count and tried < 50 * count:
            tried += 1
            text = spec_case(texts, rng)
            if _parses(text):
                kind = agreement_case(Path(folder), text, tally)
                if progress and kind in tally.pairs and sum(tally.pairs.values()) % 50 == 0:
                    progress(f"agreement: {_agreement_line(tally)}")
    return tally


def _agreement_line(tally: AgreementTally) -> str:
    pairs = ", ".join(f"{k}: {v}" for k, v in sorted(tally.pairs.items()))
    return (f"{sum(tally.pairs.values())} pairs ({pairs}); {tally.too_large} not trained, "
            f"estimated over {tally.cap / (1 << 30):g} GiB; findings {len(tally.findings)}, "
            f"tracebacks {len(tally.tracebacks)}, warnings {len(tally.warned)}, "
            f"trainings stopped at {AGREEMENT_SECONDS} s {len(tally.hangs)}")


def _line(tally: Tally, hang: float = HANG_SECONDS) -> str:
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(tally.outcomes.items()))
    return f"{counts}; tracebacks {len(tally.tracebacks)}, hangs over {hang:g} s " \
           f"{len(tally.hangs)}, warnings {len(tally.warned)}, unclear messages " \
           f"{len(tally.unclear)}, unasked writes {len(tally.written)}, slowest " \
           f"{tally.slowest:.2f} s"


def _signature(report: str) -> str:
    """Where a traceback was raised and what: its last frame and its exception line."""
    lines = report.rstrip().split("\n")
    frames = [line.strip() for line in lines if line.strip().startswith("File ")]
    return f"{lines[-1][:120]}  at {frames[-1] if frames else '?'}"


def _first_of_each(reports: list[str]) -> list[str]:
    seen, out = set(), []
    for report in reports:
        if _signature(report) not in seen:
            seen.add(_signature(report))
            out.append(report)
    return out


# Each stage's option, its default count of cases, and what a case is.
STAGE_COUNTS = (
    ("specs", 10_000, "spec mutants"),
    ("irs", 3_000, "IR mutants"),
    ("imports", 2_000, "mutated Caffe and Keras models through `cnnspec import`"),
    ("placed", 300, ("MNIST and CIFAR-10 files placed by hand, compressed or not under either "
     "name, cut or changed, through the downloaded datasets' readers")),
    ("runs", 200, ("damaged copies of a trained run folder through eval, predict, filters, "
     "features, export and resume")),
    ("inputs", 300, ("damaged pictures, arrays and npz data files through predict, features, "
     "eval --data, check and train")),
    ("argv", 1_500, "fuzzed command lines, each run in its own process and folder"),
    ("timed", 300, ("IR mutants a few plausible values from a small example through check, "
     "time and init-report on noise")),
    ("train", 300, "mutants check accepts trained for two steps, memory measured"),
    ("agreement", 200, ("spec mutants that parse run through check and a one-epoch train, "
     "their verdicts compared")),
    ("sweeps", 10, "damaged copies of a finished sweep folder, the sweep run into each again"),
    ("every", 100, ("spec cases through every command that reads a spec, fmt's meaning kept "
     "and check against a one-epoch train")),
)


def main(argv: list[str] | None = None) -> int:
    from cnnspec.check.memory import bytes_text

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for stage, default, what in STAGE_COUNTS:
        parser.add_argument(f"--{stage}", type=int, default=default, help=f"{what} ({default})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-cap", type=float, default=TRAIN_CAP / (1 << 30),
                        help="GiB: mutants estimated above it are skipped, not trained (1)")
    parser.add_argument("--show", type=int, default=5, help="tracebacks/hangs printed in full")
    parser.add_argument("--mutation", action="append", choices=sorted(SPEC_MUTATION_NAMES),
                        help="make the spec mutants by this mutation alone, of the examples "
                        "(no corner specs); repeat it for several")
    args = parser.parse_args(argv)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    start = time.perf_counter()

    def progress(line):
        print(line, file=sys.stderr, flush=True)

    mutations = [SPEC_MUTATION_NAMES[name] for name in args.mutation or ()]
    specs, irs = fuzz(args.specs, args.irs, args.seed, progress, mutations or None) \
        if args.specs or args.irs else (Tally(), Tally())
    timed = fuzz_timed(args.timed, args.seed, progress) if args.timed else Tally()
    imports = fuzz_imports(args.imports, args.seed, progress)
    placed = fuzz_placed(args.placed, args.seed, progress)
    runs = fuzz_runs(args.runs, args.seed, progress) if args.runs else Tally()
    inputs = fuzz_inputs(args.inputs, args.seed, progress) if args.inputs else AgreementTally()
    argvs = fuzz_argv(args.argv, args.seed, progress)
    sweeps = fuzz_sweeps(args.sweeps, args.seed, progress) if args.sweeps else Tally()
    every = fuzz_every(args.every, args.seed, int(args.train_cap * (1 << 30)), progress) \
        if args.every else AgreementTally()
    for tally in (specs, irs, timed, imports, placed, runs, inputs, argvs, sweeps, every):
        kinds = Counter(_signature(report) for report in tally.tracebacks)
        for kind, count in kinds.most_common():
            print(f"{count:6d} x {kind}")
        for report in (getattr(tally, "findings", []) + _first_of_each(tally.tracebacks)
                       + tally.hangs + tally.warned + tally.unclear + tally.written)[: args.show]:
            print(report, "\n" + "-" * 80)
    commands_seconds = time.perf_counter() - start
    memory = fuzz_memory(args.train, args.seed, int(args.train_cap * (1 << 30)), progress)
    for report in (memory.tracebacks + memory.hangs)[: args.show]:
        print(report, "\n" + "-" * 80)
    for ratio, measured, estimate, text in sorted(memory.steps, reverse=True)[: args.show]:
        print(f"measured {bytes_text(measured)} / estimate {bytes_text(estimate)} = {ratio:.2f}:"
              f"\n{_without_comments(text)[:1500]}\n" + "-" * 80)
    memory_seconds = time.perf_counter() - start - commands_seconds
    agreeing = fuzz_agreement(args.agreement, args.seed, int(args.train_cap * (1 << 30)),
                              progress)
    for report in (agreeing.findings + _first_of_each(agreeing.tracebacks)
                   + agreeing.warned)[: args.show]:
        print(report, "\n" + "-" * 80)
    print(f"seed {args.seed}, {commands_seconds:.0f} s for the commands, "
          f"{memory_seconds:.0f} s for the training steps, "
          f"{time.perf_counter() - start - commands_seconds - memory_seconds:.0f} s for check "
          "against train")
    print(f"{args.specs} spec mutants x {len(COMMANDS)} commands: {_line(specs)}")
    print(f"{args.irs} IR mutants x {len(COMMANDS)} commands: {_line(irs)}")
    print(f"{args.timed} timed IR mutants x {1 + len(TIMED_COMMANDS)} commands: "
          f"{_line(timed, TIMED_SECONDS)}" if args.timed
          else "timed IR mutants: none, the stage was not run (--timed 0)")
    print(f"{args.imports} import mutants: {_line(imports)}")
    print(f"{args.placed} datasets placed by hand: {_line(placed)}")
    print(f"{args.runs} damaged run folders x {len(RUN_COMMANDS)} commands: {_line(runs)}")
    print(f"{args.inputs} damaged inputs and data files: {_line(inputs)}; data files through "
          f"check and train: {_agreement_line(inputs)}")
    print(f"{args.argv} command lines: {_line(argvs, ARGV_SECONDS)}")
    print(f"{args.sweeps} damaged sweep folders: {_line(sweeps, SWEEP_SECONDS)}")
    print(f"{args.every} specs through every command: {_line(every, READER_SECONDS)}; check "
          f"against train: {_agreement_line(every)}")
    print(f"memory: {_memory_line(memory)}")
    print(f"check against train: {_agreement_line(agreeing)}")
    tallies = (specs, irs, timed, imports, placed, runs, inputs, argvs, sweeps, every)
    found = any(t.tracebacks or t.hangs or t.warned or t.unclear or t.written for t in tallies) \
        or inputs.findings or every.findings or memory.tracebacks or memory.hangs or memory.beyond \
        or agreeing.findings or agreeing.tracebacks or agreeing.warned
    return 1 if found else 0


def _without_comments(text: str) -> str:
    """A spec's text without its comments and blank lines, to print it short."""
    lines = (re.sub(r"#.*", "", line).rstrip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line.strip())


if __name__ == "__main__":
    sys.exit(main())
