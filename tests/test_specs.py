"""Every example spec in specs/ parses, checks (cleanly, except those MEANT_TO_WARN),
exports, and round-trips: .cnn -> IR JSON -> schema validation -> the identical IR."""
import json
from pathlib import Path

import pytest

import cnnspec
from cnnspec.cli import main
from cnnspec.ir.io import read_json, to_json, validate
from cnnspec.lang import parse_file

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))
# zeros.cnn shows the symmetry warning. (edges.cnn's Sobel kernels, fan_in * E[w^2] = 11.7,
# started its scores with a std of about 6 to 11 on its own images, an initial cross-entropy
# of 4.8 to 14 nats over four seeds where ln 4 = 1.39, until a batchnorm after them.)
MEANT_TO_WARN = {"zeros.cnn": "symmetry never breaks"}
REQUIRED = {"digits.cnn", "lenet5.cnn", "plain30.cnn", "resnet_small.cnn", "x_detector.cnn",
            "edges.cnn", "zeros.cnn", "caffe_lenet.cnn", "cifar10_vgg.cnn",
            "resnet_near_identity.cnn"}


def test_the_example_specs_are_all_there():
    assert REQUIRED <= {p.name for p in SPECS}


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_spec_checks(path):
    checked = cnnspec.load(path)
    assert checked.total_params > 0
    assert checked.ir["output"] in checked.by_name
    if path.name in MEANT_TO_WARN:
        assert any(MEANT_TO_WARN[path.name] in w.message for w in checked.warnings)
    else:
        assert checked.warnings == [], [w.message for w in checked.warnings]


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_spec_round_trips_through_ir_json(path, tmp_path, capsys):
    spec = parse_file(path)
    assert main(["export", str(path)]) == 0
    exported = capsys.readouterr().out
    ir = json.loads(exported)
    validate(ir)
    assert ir == spec.ir
    assert exported.rstrip("\n") == to_json(spec.ir)
    ir_file = tmp_path / (path.stem + ".json")
    ir_file.write_text(exported)
    assert read_json(ir_file).ir == spec.ir
    from_json, from_cnn = cnnspec.load(ir_file), cnnspec.load(path)
    assert [(i.name, i.output_shape, i.params) for i in from_json.layers] == \
        [(i.name, i.output_shape, i.params) for i in from_cnn.layers]


def test_lenet5_has_the_classic_parameter_count():
    lenet = next(p for p in SPECS if p.name == "lenet5.cnn")
    assert cnnspec.load(lenet).total_params == 61_706


def test_cifar10_vgg_checks_against_cifar10_as_its_comments_say(tmp_path):
    """It trains offline on the colour shapes; with `data cifar10` written instead (as its
    comments tell), it checks with the same shapes and parameters."""
    path = next(p for p in SPECS if p.name == "cifar10_vgg.cnn")
    text = path.read_text()
    offline = "data shapes(size=32, count=3000, colour=true)"
    assert offline in text and "`data cifar10`" in text
    cifar = tmp_path / "cifar10_vgg.cnn"
    cifar.write_text(text.replace(offline, "data cifar10"))
    shapes, on_cifar = cnnspec.load(path), cnnspec.load(cifar)
    assert on_cifar.ir["training"]["data"] == {"name": "cifar10"}
    assert on_cifar.warnings == []
    assert [(i.name, i.output_shape, i.params) for i in on_cifar.layers] == \
        [(i.name, i.output_shape, i.params) for i in shapes.layers]
    assert shapes.total_params == 72_954 and f"{shapes.total_params:,} parameters" in text


def test_zeros_spec_fails_under_strict():
    zeros = next(p for p in SPECS if p.name == "zeros.cnn")
    with pytest.raises(cnnspec.errors.SpecErrors):
        cnnspec.load(zeros, strict=True)


@pytest.mark.slow
def test_lenet5_learns_the_ten_shape_classes_in_its_own_epochs(tmp_path):
    # About 10 s on 2 cores; 99% test accuracy when written (chance is 10%).
    lenet = next(p for p in SPECS if p.name == "lenet5.cnn")
    summary = cnnspec.train(lenet, run_dir=tmp_path / "run", progress="none").summary
    assert summary["status"] == "finished" and len(summary["classes"]) == 10
    assert summary["test_acc"] > 0.95


def test_caffe_lenet_trains_with_caffes_solver_as_written(tmp_path):
    # About 2 s; 91% test accuracy when written (chance is 10%).
    spec = next(p for p in SPECS if p.name == "caffe_lenet.cnn")
    training = cnnspec.load(spec).ir["training"]
    assert training["schedule"] == {"name": "inv", "gamma": 1e-4, "power": 0.75}
    assert (training["lr"], training["weight_decay"], training["optimizer"]["momentum"]) == (
        0.01, 5e-4, 0.9)
    summary = cnnspec.train(spec, run_dir=tmp_path / "run", progress="none",
                            curves=False).summary
    assert summary["status"] == "finished" and summary["test_acc"] > 0.8
