"""Fine-tuning: a run that starts from another run's trained weights."""
import json

import numpy as np
import pytest

from cnnspec import Settings, WeightsFrom, train
from cnnspec.cli import main
from cnnspec.errors import SettingError
from cnnspec.training import rundir
from cnnspec.training.files import read_npz

FAST = {"progress": "none", "curves": False}

BASE = """\
input 1x8x8
features: conv 4 3x3 pad same relu
pool: maxpool 2
flatten
head: dense {classes}
train {{
  data shapes(size=8, classes=[{names}], count=200)
  lr 0.05
  batch 16
  epochs 1
  seed 1
}}
"""


@pytest.fixture
def source(tmp_path):
    spec = tmp_path / "two.cnn"
    spec.write_text(BASE.format(classes=2, names="x, plus"))
    return train(spec, run_dir=tmp_path / "source", **FAST)


def _three_classes(tmp_path):
    spec = tmp_path / "three.cnn"
    spec.write_text(BASE.format(classes=3, names="x, plus, o"))
    return spec


def test_shared_layers_start_from_the_source_and_a_new_head_from_the_seed(tmp_path, source):
    run = train(_three_classes(tmp_path), Settings(epochs=1), run_dir=tmp_path / "tuned",
                weights_from=WeightsFrom(source.path), **FAST)
    start = read_npz(tmp_path / "tuned" / rundir.INIT)
    trained = read_npz(source.path / rundir.CHECKPOINT)
    np.testing.assert_array_equal(start["features.weight"], trained["features.weight"])
    assert start["head.weight"].shape == (3, 64)  # 2 classes there, 3 here: drawn fresh
    assert run.summary["weights_from"] == {"run": str(source.path), "layers": ["features"],
                                           "frozen": False}


def test_frozen_layers_keep_the_source_weights_while_the_rest_trains(tmp_path, source):
    run = train(_three_classes(tmp_path), run_dir=tmp_path / "frozen",
                weights_from=WeightsFrom(source.path, ("features",), freeze=True), **FAST)
    end = read_npz(tmp_path / "frozen" / rundir.CHECKPOINT)
    start = read_npz(tmp_path / "frozen" / rundir.INIT)
    np.testing.assert_array_equal(end["features.weight"],
                                  read_npz(source.path / rundir.CHECKPOINT)["features.weight"])
    assert not np.array_equal(end["head.weight"], start["head.weight"])
    ir = json.loads((tmp_path / "frozen" / rundir.SPEC_JSON).read_text())
    assert ir["layers"][0]["trainable"] is False and run.summary["weights_from"]["frozen"]


def test_a_layer_that_does_not_fit_is_named(tmp_path, source):
    with pytest.raises(SettingError, match="layer 'head': the run .* other parameter shapes"):
        train(_three_classes(tmp_path), weights_from=WeightsFrom(source.path, ("head",)),
              run_dir=tmp_path / "x", **FAST)
    with pytest.raises(SettingError, match="layer 'nowhere': the run .* has no such layer"):
        train(_three_classes(tmp_path), weights_from=WeightsFrom(source.path, ("nowhere",)),
              run_dir=tmp_path / "y", **FAST)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_the_command_line_fine_tunes_and_words_mistakes_with_its_flags(tmp_path, source, capsys):
    spec = _three_classes(tmp_path)
    assert main(["train", str(spec), "--weights-from", str(source.path), "--layers",
                 "features", "--freeze", "--out", str(tmp_path / "cli"), "--quiet"]) == 0
    assert main(["train", str(spec), "--freeze", "--quiet"]) == 2
    assert "--layers and --freeze go with --weights-from RUN" in capsys.readouterr().err
    # a run that shares no layer is a mistake in what was asked, as a layer it lacks is
    other = tmp_path / "other.cnn"
    other.write_text(spec.read_text().replace("features:", "renamed:").replace("head:", "top:"))
    assert main(["train", str(other), "--weights-from", str(source.path), "--out",
                 str(tmp_path / "none"), "--quiet"]) == 2
    assert "shares no layer with this network" in capsys.readouterr().err


def test_a_run_folder_alone_is_all_its_shared_layers_and_anything_else_is_refused(tmp_path,
                                                                                 source):
    """weights_from='runs/X' failed with "'str' object has no attribute 'run'"; the command
    line's --weights-from RUN takes a folder alone."""
    by_path = train(_three_classes(tmp_path), run_dir=tmp_path / "a",
                    weights_from=str(source.path), **FAST)
    by_object = train(_three_classes(tmp_path), run_dir=tmp_path / "b",
                      weights_from=WeightsFrom(source.path), **FAST)
    assert by_path.summary["weights_from"] == by_object.summary["weights_from"]
    with pytest.raises(SettingError) as info:
        train(_three_classes(tmp_path), run_dir=tmp_path / "c", weights_from=5, **FAST)
    assert info.value.message == "weights_from takes a run folder or a WeightsFrom, not 5"
    assert "cnnspec.WeightsFrom(" in info.value.hint and info.value.invalid
    assert not (tmp_path / "c").exists()
