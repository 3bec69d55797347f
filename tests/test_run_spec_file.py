"""The run folder's spec.cnn reproduces the run: the command-line overrides are written into
its train block, so training it again gives the same weights; summary.json's command names
every option given, --out included."""
from __future__ import annotations

import shlex

import numpy as np
import pytest

from cnnspec import Settings, train
from cnnspec.cli import main
from cnnspec.lang import parse
from cnnspec.lang.rewrite import NotWritable, with_training
from cnnspec.training import rundir
from cnnspec.training.files import read_npz

FAST = {"progress": "none", "curves": False}
NO_BLOCK = "model bare\ninput 1x8x8\nflatten\nfc: dense 2\n"


def weights(path):
    return {k: v for k, v in read_npz(path / rundir.CHECKPOINT).items() if not k.startswith("_")}


def test_retraining_the_saved_spec_repeats_a_run_with_overrides(tiny_shapes_spec, tmp_path):
    settings = Settings(epochs=1, lr=0.02, batch_size=32, seed=11,
                        data="shapes(size=8, classes=[x, o], count=200)")
    first = train(tiny_shapes_spec, settings, run_dir=tmp_path / "first", **FAST)
    saved = tmp_path / "first" / rundir.SPEC_CNN
    again = train(saved, run_dir=tmp_path / "again", **FAST)
    assert again.spec.ir["training"] == first.spec.ir["training"]
    a, b = weights(first.path), weights(again.path)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    text = saved.read_text()
    assert "conv1: conv 4 3x3 pad same relu" in text and "  batch 32\n" in text
    assert f"--out {tmp_path / 'first'}" in first.summary["command"]
    assert "--epochs 1 --lr 0.02 --batch-size 32 --seed 11" in first.summary["command"]


@pytest.mark.parametrize("text", [
    NO_BLOCK,
    NO_BLOCK + "train { epochs 2 }",
    NO_BLOCK + "train {\n  batch_size 8  # a comment\n}\n",
    # Line separators other than "\n" in comments are no line breaks to the parser, so none
    # to the rewriting: counted as lines, they shifted every edit after them.
    "# one\u2028two\x85three\x0bfour\x0cfive\x1cend\n" + NO_BLOCK
    + "train {\n  lr 0.5  # \u2028\n  epochs 2\n  batch 4\n}\n",
    NO_BLOCK.replace("\n", "\r\n") + "train {\r\n  epochs 2\r\n  seed 1\r\n}\r\n",
])
def test_settings_are_replaced_or_added_in_any_block_layout(text):
    settings = {"epochs": 3, "lr": 1e-05, "batch_size": 16, "seed": 4,
                "data": {"name": "npz", "path": "/data/my arrays.npz"}}
    rewritten = with_training(text, settings)
    training = parse(rewritten).ir["training"]
    assert {key: training[key] for key in settings} == settings
    assert "# a comment" in rewritten or "comment" not in text


def test_a_value_with_no_spelling_in_the_language_is_refused():
    with pytest.raises(NotWritable):
        with_training(NO_BLOCK, {"data": {"name": "npz", "path": 'a"b.npz'}})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_command_in_the_summary_repeats_a_dataset_with_its_parameters(tiny_shapes_spec,
                                                                          tmp_path, dtype):
    """... and the run's dtype: a float64 run's command trained in float32."""
    data = "shapes(size=8, classes=[x, o], count=200)"
    first = train(tiny_shapes_spec, Settings(epochs=1, data=data), run_dir=tmp_path / "a",
                  dtype=dtype, **FAST)
    argv = shlex.split(first.summary["command"])[1:]
    assert ("--dtype" in argv) == (dtype != "float32")
    argv[argv.index("--out") + 1] = str(tmp_path / "b")
    assert main(argv) == 0
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    for key in a:
        assert a[key].dtype == b[key].dtype == dtype
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
