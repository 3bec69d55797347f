"""Files generated from the init catalogue (and the parser generated from the grammar) are in
sync with their sources, and what the catalogue newly allows works: a scaled init on a bias
(the layer's weight fans), as PyTorch's default bias is."""
import json
import math
from importlib.resources import files
from pathlib import Path

import pytest

from cnnspec.init.docs import INIT_TABLE, IR_INIT_TABLE, init_table, ir_init_table
from cnnspec.init.schema import gain_schema, init_schema
from cnnspec.kinds.docs import begin_marker, between_markers, end_marker

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_schema_holds_the_catalogue_inits():
    shipped = json.loads((files("cnnspec.ir") / "schema.json").read_text(encoding="utf-8"))
    assert shipped["$defs"]["init"] == init_schema(), "run python tools/generate.py"
    assert shipped["$defs"]["gain"] == gain_schema(), "run python tools/generate.py"


@pytest.mark.parametrize("page, table, generate", [
    ("language.md", INIT_TABLE, init_table), ("ir.md", IR_INIT_TABLE, ir_init_table)])
def test_the_references_hold_the_catalogue_tables(page, table, generate):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    shipped = between_markers(text, begin_marker(*table), end_marker(table[0]))
    assert shipped == generate(), "run python tools/generate.py"


def test_the_ir_table_writes_each_init_as_the_ir_holds_it():
    """Each row's object is the init with its defaults filled in, as the resolver writes it;
    a required parameter is shown as … (the one part that is no JSON)."""
    from cnnspec.init.catalogue import INITS, REQUIRED, canonical

    rows = [row for row in ir_init_table().splitlines() if row.startswith("| `{")]
    assert len(rows) == len(INITS)
    for init, row in zip(INITS, rows):
        written = row.split("`")[1]
        given = {p.name: 0 for p in init.params if p.default is REQUIRED}
        expected = {**canonical({"name": init.name, **given}), **dict.fromkeys(given, "…")}
        assert json.loads(written.replace("…", '"…"')) == expected, init.name


def _import_tables():
    from cnnspec.importers import caffe_docs, keras_docs, onnx_docs

    return [(caffe_docs.layer_table, caffe_docs.LAYER_MARKERS),
            (caffe_docs.filler_table, caffe_docs.FILLER_MARKERS),
            (caffe_docs.solver_table, caffe_docs.SOLVER_MARKERS),
            (keras_docs.class_table, keras_docs.CLASS_MARKERS),
            (keras_docs.initializer_table, keras_docs.INIT_MARKERS),
            (keras_docs.compile_table, keras_docs.COMPILE_MARKERS),
            (onnx_docs.op_table, onnx_docs.OP_MARKERS)]


@pytest.mark.parametrize("table, markers", _import_tables(),
                         ids=lambda value: getattr(value, "__name__", ""))
def test_the_import_page_holds_the_importers_tables(table, markers):
    """Each table of docs/importing.md (Caffe's layer types, fillers and solver fields,
    Keras' classes, initializers and compile settings, ONNX's ops) is the importer's own, as
    generated."""
    page = (ROOT / "docs" / "importing.md").read_text(encoding="utf-8")
    assert between_markers(page, *markers) == table(), "run python tools/generate.py"


def test_generate_writes_every_import_table():
    """tools/generate.py writes each of the tables the staleness test above reads."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", ROOT / "tools" / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert [markers for _, markers in generate.IMPORT_TABLES] == [
        markers for _, markers in _import_tables()]


def test_a_mapping_added_to_an_importer_shows_in_its_table(monkeypatch):
    """A filler, a solver type, a Keras class, initializer or optimizer added to the
    importer's table is a row of the generated docs, with no second edit."""
    from cnnspec.importers import caffe, caffe_docs, caffe_solver, keras, keras_compile, keras_docs
    from cnnspec.lang import foreign

    monkeypatch.setitem(caffe.PLAIN_FILLERS, "lognormal", ("normal", {"std": ("sigma", 1)}))
    monkeypatch.setitem(caffe_solver.SOLVER_TYPES, "AdaDelta", ("adagrad", {}, {}))
    monkeypatch.setitem(foreign.KERAS_CLASSES, "Conv2DNew", "conv")
    monkeypatch.setitem(keras.PLAIN_INITIALIZERS, "RandomLaplace", ("normal", {}))
    monkeypatch.setitem(keras_compile.OPTIMIZERS, "Lion", ("sgd", {}))
    assert "| `lognormal` (`sigma` 1) | normal | `normal(std)` |" in caffe_docs.filler_table()
    assert "`type`: `AdaDelta`" in caffe_docs.solver_table()
    assert "`Conv2D`, `Convolution2D`, `Conv2DNew` | `conv` |" in keras_docs.class_table()
    assert "| `RandomLaplace` () | `normal()` |" in keras_docs.initializer_table()
    assert "| `Lion` () | `optimizer sgd()` |" in keras_docs.compile_table()


def test_the_keras_add_row_says_a_sum_not_an_axis():
    """Keras' Add sums its inputs element by element and takes no axis (the importer reads
    none); its row said Concatenate's note, "along the channels (`axis: -1`)"."""
    from cnnspec.importers import keras_docs

    rows = {line.split(" | ")[0]: line for line in keras_docs.class_table().splitlines()}
    assert "along" not in rows["| `Add`"] and "element by element" in rows["| `Add`"]
    assert "(`axis: -1`)" in rows["| `Concatenate`"]


def test_the_caffe_type_table_has_a_row_for_each_type_the_importer_reads():
    import re

    from cnnspec.importers import caffe_docs
    from cnnspec.importers.caffe import LAYERS
    from cnnspec.lang.foreign import CAFFE_KINDS, CAFFE_REPLACED

    table = caffe_docs.layer_table()
    written = set(re.findall(r"^\| `(\w+)`", table, re.MULTILINE))
    assert written == {*LAYERS, "Data", *CAFFE_REPLACED}
    assert set(caffe_docs.NOTES) <= set(CAFFE_KINDS)  # no note for a type it does not list
    assert "| `Eltwise` | `add(a, b)` |" in table and "| `Flatten` | `flatten` | |" in table


def test_the_parser_is_generated_from_the_shipped_grammar():
    import lark

    from cnnspec.lang import standalone
    from cnnspec.lang.grammar import GENERATED, standalone_source

    shipped = (ROOT / GENERATED).read_text(encoding="utf-8")
    assert shipped == standalone_source(), (
        f"run python tools/generate.py (the shipped parser was written by Lark "
        f"{standalone.__version__}, this is Lark {lark.__version__})")


def test_a_fan_scaled_bias_is_pytorchs_default_bias(tmp_path):
    import cnnspec

    path = tmp_path / "net.cnn"
    path.write_text("input 1x8x8\nc: conv 4 3x3 bias variance_scaling(0.3333333333333333, "
                    "fan_in, uniform)\nflatten\ndense 10\n")
    c = cnnspec.load(path).by_name["c"]
    assert c.fan_in == 9
    assert math.isclose(c.bias_init.bound, 1 / 3, rel_tol=1e-12)
    model = cnnspec.compile(cnnspec.load(path), seed=0)
    bias = model.params()["c.bias"]
    assert abs(bias).max() <= 1 / 3


def test_an_orthogonal_bias_is_refused_where_written(tmp_path, capsys):
    from cnnspec.cli import main

    path = tmp_path / "net.cnn"
    path.write_text("input 1x8x8\nconv 4 3x3 bias orthogonal\nflatten\ndense 10\n")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "net.cnn:2:17: error: 'orthogonal' cannot initialise a bias" in err
    assert "he_normal" in err


POOLING_FIELDS = ("ceil_mode", "count_include_pad")  # added by version 3


def _lenet_written_as(tmp_path, version: int, *missing: str) -> dict:
    """lenet5's IR as a file of ``version`` without the fields ``missing`` (those added
    since), loaded again: the IR it is brought up to."""
    import cnnspec

    old = json.loads(json.dumps(cnnspec.load(ROOT / "specs" / "lenet5.cnn").ir))
    old["version"] = version
    for layer in old["layers"]:
        for name in missing:
            layer.pop(name, None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    return cnnspec.load(path).ir


def test_an_ir_file_of_version_1_is_brought_up_to_date(tmp_path):
    """A spec exported (or a run's spec.json written) before groups and default_inits existed
    still loads, meaning what it meant: ordinary convs, no init marked as defaulted."""
    from cnnspec.ir.migrate import IR_VERSION

    ir = _lenet_written_as(tmp_path, 1, "groups", "default_inits", *POOLING_FIELDS)
    assert ir["version"] == IR_VERSION
    conv1 = ir["layers"][0]
    assert conv1["groups"] == 1 and conv1["default_inits"] == []


def test_an_ir_file_of_version_2_gets_the_pooling_options_it_meant(tmp_path):
    """Before version 3 pools rounded down and averages counted their padding."""
    ir = _lenet_written_as(tmp_path, 2, *POOLING_FIELDS)
    pool1 = next(layer for layer in ir["layers"] if layer["name"] == "pool1")
    assert pool1["ceil_mode"] is False and pool1["count_include_pad"] is True


def test_an_ir_file_of_version_4_gets_greyscale_shapes(tmp_path):
    """Before version 5 the shapes were greyscale: such a file's shapes data gets colour
    false, and no other dataset gets a colour."""
    import cnnspec
    from cnnspec.ir.datasets import SHAPE_CLASSES
    from cnnspec.ir.migrate import IR_VERSION, upgrade

    ir = json.loads(json.dumps(cnnspec.load(ROOT / "specs" / "lenet5.cnn").ir))
    ir["version"] = 4
    ir["training"]["data"] = {"name": "shapes", "size": 32, "classes": list(SHAPE_CLASSES),
                              "count": 100, "noise": 0.1}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(ir))
    loaded = cnnspec.load(path).ir
    assert loaded["version"] == IR_VERSION
    assert loaded["training"]["data"]["colour"] is False
    digits = {"version": 4, "training": {"data": {"name": "digits"}}}
    upgrade(digits)
    assert digits["version"] == IR_VERSION and digits["training"]["data"] == {"name": "digits"}


TRUNCATED = ("input 1x8x8\n"
             "c: conv 4 3x3 weight truncated_normal(0.1, 0.05) bias truncated_normal(std=0.2)\n"
             "flatten\n"
             "d: dense 10 weight variance_scaling(2, fan_avg, truncated_normal)\n"
             "e: dense 10 weight truncated_normal(std=0.02, low=-0.01, high=0.04) "
             "bias truncated_normal(0.5, 0.1, high=0.55) <- flatten1\n")


def test_an_ir_file_of_version_9_cuts_its_truncated_normals_at_two_std(tmp_path):
    """Before version 10 a truncated normal was cut at mean +- 2 std: such a file's
    truncated_normal inits get the bounds null, and draw the weights they drew."""
    import cnnspec

    spec = tmp_path / "truncated.cnn"
    spec.write_text(TRUNCATED.split("e: ")[0])  # no bounds given
    written = cnnspec.load(spec)
    old = json.loads(json.dumps(written.ir))
    old["version"] = 9
    for layer in old["layers"]:
        for field in ("weight_init", "bias_init"):
            if (layer.get(field) or {}).get("name") == "truncated_normal":
                assert (layer[field].pop("low"), layer[field].pop("high")) == (None, None)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    loaded = cnnspec.load(path)
    assert loaded.ir == written.ir
    assert loaded.by_name["c"].ir["bias_init"] == {"name": "truncated_normal", "mean": 0.0,
                                                   "std": 0.2, "low": None, "high": None}
    ours, theirs = (cnnspec.compile(checked, seed=4).state_dict() for checked in (written, loaded))
    assert all(ours[key].tobytes() == theirs[key].tobytes() for key in ours)


def test_a_truncated_normals_bounds_go_through_the_ir_and_back(tmp_path, capsys):
    """A spec's bounds, exported to a .json IR and read back: the same IR (valid against the
    schema), the same cut and the same weights."""
    import cnnspec
    from cnnspec.cli import main

    spec = tmp_path / "truncated.cnn"
    spec.write_text(TRUNCATED)
    assert main(["export", str(spec)]) == 0
    ir_path = tmp_path / "truncated.json"
    ir_path.write_text(capsys.readouterr().out)
    written, loaded = cnnspec.load(spec), cnnspec.load(ir_path)
    assert loaded.ir == written.ir
    e = loaded.by_name["e"]
    assert e.ir["weight_init"] == {"name": "truncated_normal", "mean": 0.0, "std": 0.02,
                                   "low": -0.01, "high": 0.04}
    assert e.ir["bias_init"]["low"] is None and e.ir["bias_init"]["high"] == 0.55
    assert (e.weight_init.truncation.low, e.weight_init.truncation.high) == (-0.01, 0.04)
    ours, theirs = (cnnspec.compile(checked, seed=2).state_dict() for checked in (written, loaded))
    assert all(ours[key].tobytes() == theirs[key].tobytes() for key in ours)
    assert -0.01 <= ours["e.weight"].min() and ours["e.weight"].max() <= 0.04
    assert 0.3 <= ours["e.bias"].min() and ours["e.bias"].max() <= 0.55


def test_a_truncated_normal_cut_out_of_order_in_an_ir_file_is_located(tmp_path, capsys):
    import cnnspec
    from cnnspec.cli import main

    spec = tmp_path / "truncated.cnn"
    spec.write_text(TRUNCATED)
    ir = json.loads(json.dumps(cnnspec.load(spec).ir))
    e = next(i for i, layer in enumerate(ir["layers"]) if layer["name"] == "e")
    ir["layers"][e]["weight_init"].update(low=0.04, high=-0.01)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(ir))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert (f"bad.json: $.layers[{e}].weight_init: error: dense 'e': truncated_normal needs "
            "low < high, not low=0.04, high=-0.01") in err
    assert "hint: swap them: low=-0.01, high=0.04" in err


def test_the_shipped_schema_states_the_current_ir_version():
    from cnnspec.ir.migrate import IR_VERSION

    shipped = json.loads((files("cnnspec.ir") / "schema.json").read_text(encoding="utf-8"))
    assert shipped["properties"]["version"] == {"const": IR_VERSION}


def test_the_ir_page_states_the_current_ir_version_and_every_upgrade():
    """docs/ir.md said version 7 beside an example of version 5 while exports wrote 9."""
    import re

    from cnnspec.ir.migrate import IR_VERSION, STEPS

    page = (ROOT / "docs" / "ir.md").read_text(encoding="utf-8")
    assert f'"version": {IR_VERSION},' in page
    assert f"`version`: the IR version, {IR_VERSION}." in page
    upgraded = {int(n) for n in re.findall(r"\ba\s+version-(\d+) file", page)}
    assert upgraded == set(STEPS)


def test_the_ir_page_names_every_dataset():
    """Its `data` item, written by hand, had left out cifar10."""
    from cnnspec.ir.datasets import DATASETS

    page = (ROOT / "docs" / "ir.md").read_text(encoding="utf-8")
    assert [name for name in DATASETS if f'{{"name": "{name}"' not in page] == []


def test_an_ir_file_of_version_2_gets_the_training_settings_of_version_3(tmp_path):
    """An adam optimizer written before amsgrad existed is plain Adam; no warmup, no
    clipping."""
    import cnnspec
    from cnnspec.ir.migrate import IR_VERSION

    old = json.loads(json.dumps(cnnspec.load(ROOT / "specs" / "lenet5.cnn").ir))
    old["version"] = 2
    old["training"]["optimizer"] = {"name": "adam", "beta1": 0.9, "beta2": 0.99, "eps": 1e-8}
    for key in ("warmup", "decay_bias", "clip_norm", "clip_value", "label_smoothing",
                "class_weights"):
        del old["training"][key]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    ir = cnnspec.load(path).ir
    assert ir["version"] == IR_VERSION
    assert ir["training"]["optimizer"] == {"name": "adam", "beta1": 0.9, "beta2": 0.99,
                                           "eps": 1e-8, "amsgrad": False}
    assert [ir["training"][key] for key in ("warmup", "decay_bias", "clip_norm", "clip_value",
                                            "label_smoothing", "class_weights")] == [
        0, True, 0.0, 0.0, 0.0, []]


def test_dataset_descriptions_and_other_spellings_read_whole():
    """The shapes dataset's description counts every class it draws (it had named six of
    ten), and a dataset's other spellings are one parenthesis: (or `cifar-10`, `cifar_10`)."""
    from cnnspec.ir.datasets import DATASETS, SHAPE_CLASSES
    from cnnspec.ir.training_docs import training_table

    assert f"{len(SHAPE_CLASSES)} classes" in DATASETS["shapes"].description
    assert "(or `cifar-10`, `cifar_10`)" in training_table()
    assert ") (or" not in training_table()


@pytest.mark.parametrize("page, table, generate", [
    ("language.md", "GAIN_TABLE", "gain_table"), ("data.md", "NPZ_TABLE", "npz_key_table"),
    ("data.md", "DOWNLOAD_TABLE", "download_table")])
def test_the_pages_hold_the_gain_npz_key_and_download_tables(page, table, generate):
    """docs/language.md's gains and docs/data.md's npz keys and downloaded datasets are those
    the code computes with and reads (cnnspec/init/gains.py, cnnspec/data/npz.py,
    cnnspec/data/downloads.py), as generated."""
    import importlib

    module = importlib.import_module("cnnspec.init.docs" if table == "GAIN_TABLE"
                                     else "cnnspec.data.docs")
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    shipped = between_markers(text, begin_marker(*getattr(module, table)),
                              end_marker(getattr(module, table)[0]))
    assert shipped == getattr(module, generate)(), "run python tools/generate.py"


def test_the_gains_pytorch_tabulates_are_its_own():
    torch = pytest.importorskip("torch")
    from cnnspec.init.gains import CALCULATE_GAIN, nonlinearity_gain

    for name, (value, _) in CALCULATE_GAIN.items():
        assert math.isclose(value, torch.nn.init.calculate_gain(name), rel_tol=1e-12), name
    assert math.isclose(nonlinearity_gain("leaky_relu"),
                        torch.nn.init.calculate_gain("leaky_relu"), rel_tol=1e-12)


def test_the_npz_reader_asks_for_the_keys_the_table_calls_required(tmp_path):
    """Leaving out a key NPZ_KEYS calls required is refused by the reader; the others may
    be left out."""
    import numpy as np

    from cnnspec.data.npz import NPZ_KEYS, X, Y, load_npz
    from cnnspec.errors import RunError

    arrays = {X: np.zeros((10, 1, 4, 4), np.uint8), Y: np.arange(10) % 2}
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    assert len(load_npz(str(path)).x_train) == 8
    for key, (_, required) in NPZ_KEYS.items():
        if required:
            np.savez(path, **{k: v for k, v in arrays.items() if k != key})
            with pytest.raises(RunError, match=f"'{key}'"):
                load_npz(str(path))
