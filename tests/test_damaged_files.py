"""Damaged run folders and data files: each is a clear error (exit 1) naming the file and what
is wrong, never a traceback, and an array's declared size is checked before it is allocated."""
from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile

import npz_cases
import numpy as np
import pytest

import cnnspec
from cnnspec import train
from cnnspec.cli import main
from cnnspec.data import arrayfiles
from cnnspec.data.arrayfiles import DamagedArray
from cnnspec.errors import RunError
from cnnspec.training import rundir
from cnnspec.training.files import read_jsonl, read_npz, write_npz

FAST = {"progress": "none", "curves": False}
TERABYTES = (1_000_000, 1_000_000)  # 10^12 elements


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_shapes_text):
    """A small finished run (never changed: tests damage copies)."""
    folder = tmp_path_factory.mktemp("damaged")
    spec = folder / "tiny.cnn"
    spec.write_text(tiny_shapes_text)
    return train(spec, run_dir=folder / "run", **FAST).path


@pytest.fixture
def run(finished, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    return copy


@pytest.fixture
def interrupted(run):
    """The copy marked as interrupted, so that resume is allowed to read everything."""
    summary = json.loads((run / rundir.SUMMARY).read_text())
    summary["status"] = "interrupted"
    (run / rundir.SUMMARY).write_text(json.dumps(summary))
    arrays = read_npz(run / rundir.CHECKPOINT)
    position = json.loads(str(arrays["_position"]))
    position["finished"] = False
    arrays["_position"] = np.asarray(json.dumps(position))
    write_npz(run / rundir.CHECKPOINT, arrays)
    return run


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def npy_header(text: str) -> bytes:
    """A version 1.0 .npy stream whose header dict is ``text`` (padded as NumPy pads it),
    followed by 12 bytes of data."""
    header = text.ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 12


def huge_header(shape=TERABYTES, dtype="<f4") -> bytes:
    """A .npy header declaring ``shape`` followed by a few bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buffer.getvalue() + b"\0" * 64


def write_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def fails_with(capsys, argv, *words, code: int = 1) -> str:
    """The error of `cnnspec ARGV`, exit ``code`` (1: a run's file damaged; 2: a data file
    or input named to the command that cannot serve, as check and train answer it)."""
    assert main(argv) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


# ---- the reader itself ---------------------------------------------------------------------

def test_the_reader_returns_what_numpy_saved(tmp_path):
    arrays = {"a": np.arange(12, dtype=np.float32).reshape(3, 4),
              "f": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "s": np.asarray("text"),
              "e": np.zeros((0, 5), np.uint8), "b": np.array([True, False]),
              # dtypes the buffer protocol cannot describe
              "t": np.arange(4).astype("datetime64[s]"), "d": np.arange(3).astype("m8[ms]")}
    np.savez(tmp_path / "plain.npz", **arrays)
    np.savez_compressed(tmp_path / "packed.npz", **arrays)
    for name in ("plain.npz", "packed.npz"):
        got = arrayfiles.read_npz(tmp_path / name)
        assert got.keys() == arrays.keys()
        for key, value in arrays.items():
            assert got[key].dtype == value.dtype
            np.testing.assert_array_equal(got[key], value)
    np.save(tmp_path / "one.npy", arrays["f"])
    np.testing.assert_array_equal(arrayfiles.read_npy(tmp_path / "one.npy"), arrays["f"])


@pytest.mark.parametrize("data, words", [
    (huge_header(), "declares shape (1000000, 1000000)"),
    (huge_header((-5, 2)), "negative size"),
    (npy_bytes(np.arange(10.0))[:-8], "holds only"),
    (npy_bytes(np.arange(3.0)) + b"extra", "bytes after its data"),
    (npy_bytes(np.array([1, "a"], dtype=object)), "pickle"),
    (npy_bytes(np.zeros(2, dtype=[("a", "<i4")])), "structured"),
    (b"\x93NUMPY\x01\x00" + b"\xff" * 40, "not a readable .npy"),
    (b"not numpy at all", "not a readable .npy"),
    # headers whose dict NumPy's own parser chokes on: an unclosed bracket (tokenize's
    # error), text that is no Python literal, a key missing, a shape that is no tuple
    (npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3, }"), "not a readable"),
    (npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }]"), "not a readable"),
    (npy_header("{'descr': '<f4', 'shape': (3,), }"), "not a readable"),
    (npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': 'abc', }"), "not a readable"),
    (npy_header("{'descr': 7, 'fortran_order': False, 'shape': (3,), }"), "not a readable"),
])
def test_damaged_npy_streams_are_refused_before_allocating(tmp_path, data, words):
    (tmp_path / "x.npy").write_bytes(data)
    write_zip(tmp_path / "x.npz", {"x.npy": data})
    for reader, name in ((arrayfiles.read_npy, "x.npy"), (arrayfiles.read_npz, "x.npz")):
        with pytest.raises(DamagedArray, match=words.replace("(", r"\(").replace(")", r"\)")):
            reader(tmp_path / name)


def test_a_compressed_member_cannot_declare_more_than_deflate_can_expand(tmp_path):
    data = npy_bytes(np.zeros(1000, np.float32))
    write_zip(tmp_path / "x.npz", {"x.npy": data}, zipfile.ZIP_DEFLATED)
    raw = bytearray((tmp_path / "x.npz").read_bytes())
    # the central directory's uncompressed size (offset 24 of its entry) says 2 GB
    entry = raw.rindex(b"PK\x01\x02")
    raw[entry + 24:entry + 28] = (2_000_000_000).to_bytes(4, "little")
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    with pytest.raises(DamagedArray, match="more than its"):
        arrayfiles.read_npz(tmp_path / "x.npz")


def test_a_damaged_compressed_stream_is_damage(tmp_path):
    """A deflated member whose stream is damaged ended in zlib.error's traceback."""
    np.savez_compressed(tmp_path / "x.npz", x=np.arange(1000, dtype=np.float32))
    data = npz_cases.damaged_stream((tmp_path / "x.npz").read_bytes(), "x.npy")
    (tmp_path / "x.npz").write_bytes(data)
    with pytest.raises(DamagedArray, match="the archive is damaged .*while decompressing"):
        arrayfiles.read_npz(tmp_path / "x.npz")
    with pytest.raises(DamagedArray, match="the archive is damaged"):
        arrayfiles.npz_member_shape(tmp_path / "x.npz", "x")


def test_a_directory_said_to_start_beyond_the_file_is_damage(tmp_path):
    """A central directory said to start beyond the file's end puts the archive's own start
    before the file's: zipfile's seek there failed with the OSError 'Invalid argument',
    told as a disk's."""
    np.savez(tmp_path / "x.npz", x=np.zeros(3))
    raw = bytearray((tmp_path / "x.npz").read_bytes())
    end = raw.rindex(b"PK\x05\x06")  # the end of central directory record
    raw[end + 16:end + 20] = struct.pack("<I", 2**31)  # where the directory starts
    (tmp_path / "x.npz").write_bytes(bytes(raw))
    with pytest.raises(DamagedArray, match="the archive is damaged"):
        arrayfiles.read_npz(tmp_path / "x.npz")


def test_members_that_are_not_arrays_are_refused(tmp_path):
    write_zip(tmp_path / "x.npz", {"notes.txt": b"hello"})
    with pytest.raises(DamagedArray, match="not a .npy array"):
        arrayfiles.read_npz(tmp_path / "x.npz")


def test_a_member_stored_twice_is_refused_not_read_as_its_last_copy(tmp_path):
    """Two entries of one name (an archive added to with zipfile's mode "a"): NumPy reads
    the last and ignores the first; which one the user meant cannot be told."""
    with zipfile.ZipFile(tmp_path / "x.npz", "w") as archive:
        archive.writestr("x.npy", npy_bytes(np.zeros(3)))
        archive.writestr("y.npy", npy_bytes(np.zeros(3)))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("x.npy", npy_bytes(np.ones(3)))
    with pytest.raises(DamagedArray, match="member 'x.npy' is stored 2 times"):
        arrayfiles.read_npz(tmp_path / "x.npz")


# ---- run folders ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, text, words", [
    (rundir.SUMMARY, "null", "holds NoneType None"),
    (rundir.SUMMARY, "[]", "holds list []"),
    (rundir.SUMMARY, '{"dtype": 7}', "'dtype' is 7, not a string"),
    (rundir.SUMMARY, '{"dtype": "complex128"}', "not one of float32, float64"),
    (rundir.SUMMARY, '{"data_dtype": 64}', "'data_dtype' is 64, not a string"),
    (rundir.SUMMARY, '{"data_dtype": "uint8"}', "'data_dtype' is 'uint8', not one of float32"),
    (rundir.SUMMARY, '{"classes": 5}', "'classes' is 5"),
    (rundir.SUMMARY, '{"classes": [1, 2]}', "'classes' must be a list of names"),
    (rundir.SUMMARY, '{"status": ["running"]}', "'status' is"),
    (rundir.SUMMARY, '{"data_dir": 3}', "'data_dir' is 3, not a string or null"),
    (rundir.SUMMARY, '{"best_epoch": -1}', "'best_epoch' is -1, below 1"),
    (rundir.SUMMARY, '{"best_epoch": 0}', "'best_epoch' is 0, below 1"),
    (rundir.SUMMARY, '{"epochs_done": -2}', "'epochs_done' is -2, below 0"),
    (rundir.SUMMARY, '{"stopped_early": -1}', "'stopped_early' is -1, below 1"),
    (rundir.SUMMARY, '{"test_epoch": 0}', "'test_epoch' is 0, below 1"),
    (rundir.SUMMARY, '{"test_epoch": "7"}', "'test_epoch' is '7', not an integer"),
    (rundir.SUMMARY, '{"last_test_acc": "0.9"}', "'last_test_acc' is '0.9', not"),
    (rundir.SUMMARY, '{"dtype": "float32"}', "has no 'classes'"),
    # the data a run trained on, which its last report names, and its npz file's digest
    (rundir.SUMMARY, '{"data": null}', "'data' is None, not an object"),
    (rundir.SUMMARY, '{"data": "npz"}', "'data' is 'npz', not an object"),
    (rundir.SUMMARY, '{"data_digest": null}', "'data_digest' is None, not a string"),
    (rundir.SUMMARY, '{"data_digest": 5}', "'data_digest' is 5, not a string"),
    # a whole number past a float's range: an OverflowError where resume adds its time
    (rundir.SUMMARY, '{"wall_seconds": 1%s}' % ("0" * 400), "beyond a float's range"),
    (rundir.PREPROCESS, '{"mode": "standardize", "mean": ["a"], "std": [1]}', "not numbers"),
    (rundir.PREPROCESS, '{"mode": "standardize", "mean": [0.5], "std": [1%s]}' % ("0" * 400),
     "not numbers"),  # an integer beyond float64's range
    (rundir.PREPROCESS, '{"mean": [0.5], "std": [1]}', "preprocessing record is missing 'mode'"),
    (rundir.PREPROCESS, '{"mode": "standardize", "mean": [0.5], "std": [-1]}', "malformed"),
    (rundir.PREPROCESS, "[]", "preprocessing record is missing"),
])
def test_a_damaged_record_is_named(run, capsys, name, text, words):
    (run / name).write_text(text)
    fails_with(capsys, ["eval", str(run)], str(run / name), words)
    fails_with(capsys, ["train", "--resume", str(run), "--epochs", "3"], str(run / name), words)


def _ir_edited(run, edit) -> str:
    ir = json.loads((run / rundir.SPEC_JSON).read_text())
    edit(ir)
    return json.dumps(ir)


# How spec.json is damaged, and the words that locate it in the file.
SPEC_DAMAGE = {
    "truncated": (lambda run: (run / rundir.SPEC_JSON).read_text()[:100], "not valid JSON"),
    "not JSON": (lambda run: "checkpoint, not a spec", "not valid JSON"),
    "not UTF-8": (lambda run: b"\xff\xfe{}", "not UTF-8"),
    "a list": (lambda run: "[]", "$: error: expected an object, got a list"),
    "wrong types": (lambda run: _ir_edited(run, lambda ir: ir["layers"][0].update(filters="4")),
                    "$.layers[0].filters: error: expected a whole number, got a string"),
    # valid IR that no longer checks: a 1x1 input cannot be max-pooled 2x2
    "no longer checks": (lambda run: _ir_edited(run, lambda ir: ir["input"].update(
        shape=[1, 1, 1])), "pool1"),
}
# Every command that reads a run folder; "{input}" is an image for it.
RUN_READERS = {
    "eval": ["eval", "{run}"], "eval --last": ["eval", "{run}", "--last"],
    "predict": ["predict", "{run}", "{input}"],
    "resume": ["train", "--resume", "{run}"],
    "filters": ["filters", "{run}", "-o", "{out}/f.png"],
    "features": ["features", "{run}", "{input}", "-o", "{out}/f.png"],
    "export": ["export", "{run}"], "export --no-check": ["export", "{run}", "--no-check"],
    "export torch": ["export", "{run}", "--format", "torch", "-o", "{out}/m.py"],
    "export onnx": ["export", "{run}", "--format", "onnx", "-o", "{out}/m.onnx"],
}


# --no-check exports what validates without checking it: a spec that no longer checks is no
# damage to that command.
SPEC_DAMAGE_CASES = [(damage, command) for damage in SPEC_DAMAGE for command in RUN_READERS
                     if (damage, command) != ("no longer checks", "export --no-check")]


@pytest.mark.parametrize("damage, command", SPEC_DAMAGE_CASES)
def test_a_damaged_spec_json_is_damage_as_any_run_file(interrupted, tmp_path, capsys, damage,
                                                       command, started_from_venv):
    """cnnspec wrote spec.json after checking it: one that does not read, validate or check
    is a damaged run folder (exit 1, as a damaged summary or checkpoint), said with where in
    the file, not a spec error of the request (exit 2) whose hint would have the spec edited.
    The command that trains it again names the program as it was started."""
    if command == "export onnx":  # without onnx, that is what the command says first
        pytest.importorskip("onnx", reason="onnx not installed: pip install 'cnnspec[onnx]'")
    make, words = SPEC_DAMAGE[damage]
    content = make(interrupted)
    spec = interrupted / rundir.SPEC_JSON
    spec.write_bytes(content) if isinstance(content, bytes) else spec.write_text(content)
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.float32))
    argv = [part.format(run=interrupted, input=tmp_path / "x.npy", out=tmp_path)
            for part in RUN_READERS[command]]
    err = fails_with(capsys, argv, f"run spec {spec} is damaged:", words,
                     f"hint: the file is damaged; train again (`.venv/bin/cnnspec train "
                     f"{interrupted / rundir.SPEC_CNN}`")
    assert "cnnspec export" not in err  # the IR's own hint, wrong for a run's file
    assert not list(tmp_path.glob("f.png")) + list(tmp_path.glob("m.*"))


def test_a_damaged_spec_json_shows_its_first_errors(run, capsys):
    ir = json.loads((run / rundir.SPEC_JSON).read_text())
    for layer in ir["layers"]:
        layer["name"] = 7
    (run / rundir.SPEC_JSON).write_text(json.dumps(ir))
    err = fails_with(capsys, ["eval", str(run)], "$.layers[0].name", "$.layers[2].name",
                     f"... and {len(ir['layers']) - 3} more")
    assert "$.layers[3].name" not in err


def test_a_run_of_a_json_ir_is_told_to_train_again_without_a_spec_cnn(run, capsys):
    (run / rundir.SPEC_CNN).unlink()
    (run / rundir.SPEC_JSON).write_text("{")
    err = fails_with(capsys, ["eval", str(run)], "hint: the file is damaged; train again\n")
    assert "spec.cnn" not in err


def test_a_resumed_run_beyond_this_machines_memory_is_the_requests_mistake(
        interrupted, capsys, monkeypatch):
    """Only a training step too large for this machine (the run was trained on another) is
    no damage: exit 2 with the spec error, as train says it."""
    from cnnspec.check import checker
    from cnnspec.errors import SpecError, SpecErrors
    from cnnspec.training import run as run_module

    def check(spec, *args, for_training=True, **kwargs):
        if for_training:
            raise SpecErrors([SpecError("a training step needs 9 TiB", file=spec.path)])
        return checker.check(spec, *args, for_training=for_training, **kwargs)

    monkeypatch.setattr(run_module, "check", check)
    assert main(["train", "--resume", str(interrupted)]) == 2
    assert "a training step needs 9 TiB" in capsys.readouterr().err


# A damaged metrics.jsonl: a line cut short (a disk that filled up mid-write), or garbled
METRICS_DAMAGE = {
    "truncated": lambda text: text[:-7],
    "garbled": lambda text: "{garbled\n" + text.split("\n", 1)[1],
    "not utf8": lambda text: "\udcff" + text,
    "not an object": lambda text: "[1, 2]\n" + text,
}
# Each command that needs only a run's weights, ``{run}`` its folder, ``{out}`` a new folder
WEIGHTS_COMMANDS = {
    "eval": ["eval", "{run}"],
    "predict": ["predict", "{run}", "{out}/image.npy"],
    "features": ["features", "{run}", "--index", "0", "-o", "{out}/features.png"],
    "filters": ["filters", "{run}", "-o", "{out}/filters.png"],
    "export onnx": ["export", "{run}", "--format", "onnx", "-o", "{out}/model.onnx"],
    "export torch": ["export", "{run}", "--format", "torch", "-o", "{out}/model.py"],
}


def damage_metrics(run, damage: str) -> None:
    path = run / rundir.METRICS
    damaged = METRICS_DAMAGE[damage](path.read_text())
    path.write_bytes(damaged.encode("utf-8", "surrogateescape"))


def weights_command(name: str, run, tmp_path) -> list[str]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    image = np.zeros(cnnspec.load_run(run).spec.input_shape)
    np.save(out / "image.npy", image)
    return [word.format(run=run, out=out) for word in WEIGHTS_COMMANDS[name]]


@pytest.mark.parametrize("damage", ["truncated", "garbled"])
@pytest.mark.parametrize("command", WEIGHTS_COMMANDS)
def test_a_damaged_metrics_file_does_not_keep_the_weights_from_use(
        run, tmp_path, capsys, command, damage):
    """The weights are whole: each command that needs them alone works, reads the metrics
    from the checkpoint (the same rows), and says in one note what is damaged and that
    metrics.csv (a finished run cannot be resumed) holds the rows."""
    if command == "export onnx":
        pytest.importorskip("onnx")  # the ONNX export writes its model with the onnx package
    argv = weights_command(command, run, tmp_path)
    damage_metrics(run, damage)
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert err.count("note: metrics.jsonl is damaged (") == 1, err
    line = {"truncated": 2, "garbled": 1}[damage]  # the tiny run trains 2 epochs
    assert f"{run / rundir.METRICS}:{line}: not a JSON object" in err
    assert f"its rows were read from {run / rundir.CHECKPOINT}; " in err
    assert f"{run / rundir.METRICS_CSV} holds the same rows" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("damage", METRICS_DAMAGE)
def test_eval_counts_the_epochs_of_the_checkpoint_past_damaged_metrics(
        run, tmp_path, capsys, damage):
    assert main(["eval", str(run)]) == 0
    intact = capsys.readouterr().out
    damage_metrics(run, damage)
    assert main(["eval", str(run)]) == 0
    shown = capsys.readouterr()
    assert shown.out == intact  # "best epoch 2 of 2": every epoch counted
    assert "note: metrics.jsonl is damaged" in shown.err


def test_without_rows_in_the_checkpoint_the_intact_lines_are_read(run, capsys):
    arrays = read_npz(run / rundir.CHECKPOINT)
    del arrays["_position"]
    write_npz(run / rundir.CHECKPOINT, arrays)
    damage_metrics(run, "truncated")  # 2 epochs: the second line cut short
    loaded = cnnspec.load_run(run)
    assert [row["epoch"] for row in loaded.metrics] == [1]
    assert "1 row read from before the damage; " in loaded.metrics_note


def test_a_resumable_run_with_damaged_metrics_is_told_to_resume(interrupted, capsys):
    """A resume writes metrics.jsonl again from the checkpoint, as the note says."""
    damage_metrics(interrupted, "garbled")
    assert main(["eval", str(interrupted)]) == 0
    err = capsys.readouterr().err
    assert f"`cnnspec train --resume {interrupted}` writes it again" in err
    assert main(["train", "--resume", str(interrupted), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(interrupted)]) == 0
    assert "metrics.jsonl" not in capsys.readouterr().err


def test_the_sweeps_reader_still_refuses_damaged_metrics(run):
    """A cell's metrics file is its record: read_jsonl names the line (the sweep says how
    to mend a cell), only a run's commands read past it."""
    damage_metrics(run, "garbled")
    with pytest.raises(RunError, match="metrics.jsonl:1: not a JSON object"):
        read_jsonl(run / rundir.METRICS)


# cnnspec writes its weights as floating point numbers: any other array in a weights file of
# a run is damage, not something to cast (a hand-written integer kernel is loaded through the
# Python API, test_compile.py).
NOT_FLOAT = ["int64", "int8", "uint8", "bool", "complex64", "complex128", "<U4", "datetime64[s]",
             "timedelta64[ms]"]


@pytest.mark.parametrize("dtype", NOT_FLOAT)
@pytest.mark.parametrize("name, last", [(rundir.BEST, []), (rundir.CHECKPOINT, ["--last"])])
def test_a_weights_array_that_is_not_floating_point_is_damage(run, capsys, dtype, name, last):
    arrays = read_npz(run / name)
    arrays["conv1.weight"] = arrays["conv1.weight"].astype(dtype)
    write_npz(run / name, arrays)
    fails_with(capsys, ["eval", str(run), *last], f"checkpoint {run / name}: conv1.weight has "
               f"dtype {np.dtype(dtype)}, not the floating point numbers cnnspec writes",
               "hint: the file is damaged; train again")


@pytest.mark.parametrize("dtype", ["int32", "bool", "complex128"])
def test_fine_tuning_from_a_checkpoint_that_is_not_floating_point_is_refused(
        run, tmp_path, capsys, dtype):
    arrays = read_npz(run / rundir.CHECKPOINT)
    arrays["fc.weight"] = arrays["fc.weight"].astype(dtype)
    write_npz(run / rundir.CHECKPOINT, arrays)
    fails_with(capsys, ["train", str(run / rundir.SPEC_CNN), "--weights-from", str(run),
                        "--out", str(tmp_path / "tuned")], f"fc.weight has dtype {dtype}")
    assert not (tmp_path / "tuned").exists()


@pytest.mark.parametrize("dtype", ["int16", "bool"])
def test_initial_weights_that_are_not_floating_point_are_damage(run, tmp_path, capsys, dtype):
    arrays = read_npz(run / rundir.INIT)
    arrays["conv1.weight"] = arrays["conv1.weight"].astype(dtype)
    write_npz(run / rundir.INIT, arrays)
    fails_with(capsys, ["filters", str(run), "--compare-init", "-o", str(tmp_path / "f.png")],
               f"initial weights {run / rundir.INIT}: conv1.weight has dtype {dtype}")
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("shape", [(), (4, 1, 5, 5), (4, 9)])
def test_initial_weights_of_another_shape_are_damage(run, tmp_path, capsys, shape):
    """An init.npz weight of no dimensions ended filters --compare-init in an IndexError where
    the grid counts its input channels: each is checked against the learned weight's shape."""
    arrays = read_npz(run / rundir.INIT)
    arrays["conv1.weight"] = np.zeros(shape, np.float32)
    write_npz(run / rundir.INIT, arrays)
    fails_with(capsys, ["filters", str(run), "--compare-init", "-o", str(tmp_path / "f.png")],
               f"initial weights {run / rundir.INIT}: conv1.weight has shape {shape}, the spec "
               "needs (4, 1, 3, 3)", "hint: the run's files may be damaged; train again")
    assert not (tmp_path / "f.png").exists()


def test_initial_weights_declaring_a_terabyte_are_refused(run, tmp_path, capsys):
    members = {f"{k}.npy": npy_bytes(v) for k, v in read_npz(run / rundir.INIT).items()}
    members["conv1.weight.npy"] = huge_header((4, 1, 1_000_000, 1_000_000))
    write_zip(run / rundir.INIT, members)
    fails_with(capsys, ["filters", str(run), "--compare-init", "-o", str(tmp_path / "f.png")],
               "init.npz", "declares shape")


def test_a_checkpoint_declaring_a_terabyte_is_refused_before_allocating(run, capsys):
    members = {f"{k}.npy": npy_bytes(v) for k, v in read_npz(run / rundir.CHECKPOINT).items()}
    members["conv1.weight.npy"] = huge_header()
    write_zip(run / rundir.CHECKPOINT, members)
    fails_with(capsys, ["eval", str(run), "--last"], "checkpoint.npz cannot be read",
               "declares shape (1000000, 1000000)")


@pytest.mark.parametrize("key, value, words", [
    ("_step", "seven", "different steps"),  # only the two-file layout compares _step
    ("_position", "{not json", "incomplete"),
    ("_position", '{"epoch": "one"}', "'epoch' is 'one'"),
    ("_position", '{"metrics": 3}', "'metrics' is 3"),
    # a position without its place would restart the run at epoch 0 over trained weights
    ("_position", "{}", "checkpoint.npz: the position has no 'epoch'"),
    ("_position", "[]", "incomplete"),
    ("_position", '{"epoch": -1, "batch": 0, "step": 4}', "'epoch' is -1, below 0"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "seen": -3}', "'seen' is -3, below 0"),
    # resumed, a NaN or an infinity would be summed into the epoch's loss and time
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "loss_sum": NaN}',
     "checkpoint.npz: position field 'loss_sum' is NaN, not a finite number"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "epoch_seconds": Infinity}',
     "position field 'epoch_seconds' is Infinity, not a finite number"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "step_seconds": -Infinity}',
     "position field 'step_seconds' is -Infinity, not a finite number"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "best_value": NaN}',
     "position field 'best_value' is NaN, not a finite number"),
    # an int past a float's range: the loop's sums and its blow-up limit overflowed
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "first_loss": 1' + "0" * 400 + "}",
     "position field 'first_loss' is 1000"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 4, "loss_sum": -1' + "0" * 400 + "}",
     "beyond a float's range"),
    # a finished epoch's row: only its validation loss may have overflowed (see below)
    ("_position", '{"epoch": 1, "batch": 0, "step": 4, "metrics": [{"train_loss": NaN}]}',
     "position field 'metrics[0].train_loss' is NaN, not a finite number"),
    ("_position", ('{"epoch": 2, "batch": 0, "step": 8, "metrics": '
                   '[{"val_loss": Infinity}, {"seconds": -Infinity}]}'),
     "position field 'metrics[1].seconds' is -Infinity, not a finite number"),
    # a row the loop reads back (the plateau schedule its validation loss, the summary its
    # seconds) must be an epoch's figures, and a count must fit the int64 the step is saved as
    ("_position", '{"epoch": 1, "batch": 0, "step": 4, "metrics": [null]}',
     "position field 'metrics[0]' is None, not an object of an epoch's figures"),
    ("_position", '{"epoch": 1, "batch": 0, "step": 4, "metrics": [{}]}',
     "position field 'metrics[0]' has no 'epoch'"),
    ("_position", ('{"epoch": 1, "batch": 0, "step": 4, "metrics": [{"epoch": 1, '
                   '"train_loss": 1, "train_acc": 0, "val_loss": "low", "val_acc": null, '
                   '"lr": 0.1, "seconds": 1, "images_per_s": 9}]}'),
     "position field 'metrics[0].val_loss' is 'low'"),
    ("_position", '{"epoch": 0, "batch": 0, "step": 1180591620717411303424}',
     "position field 'step' is 1180591620717411303424, above 9223372036854775807"),
    ("_dropout_rng", "[1, 2]", "dropout generator"),
    ("_optimizer/momentum_buffer.conv1.weight", np.zeros(3), "does not fit the model"),
    ("_optimizer/momentum_buffer.nowhere.weight", np.zeros(3), "does not fit the model"),
    ("_optimizer/momentum_buffer.fc.bias", np.array([1, 0]), "(int64 (2,)) does not fit"),
    ("_optimizer/momentum_buffer.fc.bias", np.array([True, False]), "(bool (2,)) does not fit"),
    # resumed, a NaN in the optimizer's state diverges, and the hint blames the lr
    ("_optimizer/momentum_buffer.conv1.weight", np.full((4, 1, 3, 3), np.nan, np.float32),
     "optimizer momentum_buffer of 'conv1.weight' holds NaN or infinite values"),
    ("_optimizer/momentum_buffer.fc.bias", np.array([np.inf, 0], np.float32),
     "holds NaN or infinite values"),
])
def test_damaged_training_state_is_named(interrupted, capsys, key, value, words):
    arrays = read_npz(interrupted / rundir.CHECKPOINT)
    if key == "_step":  # the older layout: the state in state.npz, _step in the checkpoint
        from test_checkpoint_atomic import to_two_file_layout
        to_two_file_layout(interrupted)
        arrays = read_npz(interrupted / rundir.CHECKPOINT)
    arrays[key] = np.asarray(value)
    write_npz(interrupted / rundir.CHECKPOINT, arrays)
    fails_with(capsys, ["train", "--resume", str(interrupted)], words)


@pytest.mark.parametrize("name, command", [(rundir.BEST, "eval"), (rundir.CHECKPOINT, "last")])
def test_weights_that_are_not_finite_are_damage_not_a_result(run, capsys, name, command):
    """Training never saves a NaN (diverged.npz keeps a blown-up step apart): one in a weights
    file would otherwise be evaluated into NaN probabilities, printed as if a result."""
    arrays = read_npz(run / name)
    arrays["conv1.weight"] = np.full_like(arrays["conv1.weight"], np.nan)
    write_npz(run / name, arrays)
    argv = ["eval", str(run)] + (["--last"] if command == "last" else [])
    fails_with(capsys, argv, f"{name}: conv1.weight holds NaN or infinite values")


@pytest.mark.parametrize("epoch", ["two", -1, 0])
def test_a_best_npz_without_an_epoch_number_is_named(run, capsys, epoch):
    arrays = read_npz(run / rundir.BEST)
    arrays["_epoch"] = np.asarray(epoch)
    write_npz(run / rundir.BEST, arrays)
    fails_with(capsys, ["eval", str(run)], "best.npz", "not an epoch number (from 1)",
               "hint: the file is damaged; use --last for the last checkpoint's weights")
    # the library is told of load_run's parameter, which the command line's --last sets
    with pytest.raises(RunError, match="not an epoch number") as info:
        cnnspec.load_run(run)
    assert info.value.hint == ("the file is damaged; use which='last' for the last "
                               "checkpoint's weights, or train again")
    assert cnnspec.load_run(run, which="last").weights == "last"


@pytest.mark.parametrize("argv", [["filters", "-o", "f.png"], ["features", "--index", "0", "-o",
                                                               "f.png"],
                                  ["export", "--format", "torch", "-o", "m.py"]])
def test_a_damaged_best_npz_is_not_told_to_use_last_where_the_command_has_none(
        run, capsys, tmp_path, argv):
    """filters, features and export open a run's best weights with no --last to say
    otherwise: they were told "use --last for the last checkpoint's weights"."""
    arrays = read_npz(run / rundir.BEST)
    del arrays["_epoch"]
    write_npz(run / rundir.BEST, arrays)
    command, *options = argv
    options = [str(tmp_path / o) if o.endswith((".png", ".py")) else o for o in options]
    err = fails_with(capsys, [command, str(run), *options], "best.npz",
                     "not an epoch number (from 1)")
    assert err.endswith("hint: the file is damaged; move it out of the run folder to use the "
                        "last checkpoint's weights, or train again\n")
    assert "--last" not in err
    from cnnspec.exporters import open_exported  # the library's export takes no which either

    with pytest.raises(RunError) as info:
        open_exported(run)
    assert "which" not in info.value.hint and "move it out" in info.value.hint


@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_summary_without_classes_is_damaged_not_unnamed(run, tmp_path, capsys, command):
    """Every run cnnspec train writes names its classes from its start: without them predict
    would call the outputs "0", "1"... as if the run had named them so."""
    summary = json.loads((run / rundir.SUMMARY).read_text())
    del summary["classes"]
    (run / rundir.SUMMARY).write_text(json.dumps(summary))
    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8), np.float32))
    extra = [str(tmp_path / "x.npy")] if command == "predict" else []
    fails_with(capsys, [command, str(run), *extra], f"run summary {run / rundir.SUMMARY} has "
               "no 'classes'", "damaged")


@pytest.mark.parametrize("name", [rundir.BEST, rundir.CHECKPOINT])
def test_finite_weights_that_overflow_are_damage_not_a_result(run, tmp_path, capsys, name):
    """Every weight finite, but their products overflow float32 (as a negative running
    variance gives NaN): eval would print NaN's loss and an accuracy as if a result."""
    arrays = read_npz(run / name)
    arrays["fc.weight"] = np.full_like(arrays["fc.weight"], 3e38)
    write_npz(run / name, arrays)
    last = ["--last"] if name == rundir.CHECKPOINT else []
    np.save(tmp_path / "x.npy", np.ones((1, 8, 8), np.float32))
    fails_with(capsys, ["eval", str(run), *last], "gives NaN or infinite scores for the test "
               "split of 'shapes'", "weights may be damaged")
    fails_with(capsys, ["predict", str(run), str(tmp_path / "x.npy"), *last],
               "gives NaN or infinite scores for")


@pytest.mark.parametrize("layer, values", [("conv1", "feature maps in conv1 + relu"),
                                            ("fc", "scores")])
@pytest.mark.parametrize("given", ["file", "index"])
def test_features_of_weights_that_overflow_are_refused_not_drawn(run, tmp_path, capsys,
                                                                  layer, values, given):
    """Finite weights whose products overflow float32: drawn, the maps would be grey or
    one-colour tiles and the title "predicted x (nan%)"; said instead, without NumPy's
    RuntimeWarnings."""
    arrays = read_npz(run / rundir.BEST)
    arrays[f"{layer}.weight"] = np.full_like(arrays[f"{layer}.weight"], 3e38)
    write_npz(run / rundir.BEST, arrays)
    np.save(tmp_path / "x.npy", np.ones((1, 8, 8), np.float32))
    image = [str(tmp_path / "x.npy")] if given == "file" else ["--index", "0"]
    what = "x.npy" if given == "file" else "test image 0, true class"
    err = fails_with(capsys, ["features", str(run), *image, "-o", str(tmp_path / "f.png")],
                     f"the run's network gives NaN or infinite {values} for {what}",
                     "weights may be damaged")
    assert "RuntimeWarning" not in err
    assert not (tmp_path / "f.png").exists()


def test_filters_of_huge_finite_weights_are_drawn_with_their_scale(run, tmp_path, capsys):
    """Weights near float32's largest are still weights to look at (no product is formed):
    drawn, each tile captioned with its scale in a few characters."""
    arrays = read_npz(run / rundir.BEST)
    arrays["conv1.weight"][0] = 3e38
    arrays["conv1.weight"][1] = -1e38
    write_npz(run / rundir.BEST, arrays)
    assert main(["filters", str(run), "--compare-init", "-o", str(tmp_path / "f.png")]) == 0
    assert "Warning" not in capsys.readouterr().err
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.parametrize("value", [np.nan, -np.inf])
@pytest.mark.parametrize("command", ["filters", "features"])
def test_pictures_of_weights_that_are_not_finite_are_refused(run, tmp_path, capsys, value,
                                                             command):
    """A NaN kernel would draw as a grey tile captioned 0, as if the filter were empty."""
    arrays = read_npz(run / rundir.BEST)
    arrays["conv1.weight"][1, 0, 0, 0] = value
    write_npz(run / rundir.BEST, arrays)
    extra = ["--index", "0"] if command == "features" else []
    fails_with(capsys, [command, str(run), *extra, "-o", str(tmp_path / "f.png")],
               f"{rundir.BEST}: conv1.weight holds NaN or infinite values")
    assert not (tmp_path / "f.png").exists()


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_initial_weights_that_are_not_finite_are_damage(run, tmp_path, capsys, value):
    arrays = read_npz(run / rundir.INIT)
    arrays["conv1.weight"][0, 0, 1, 1] = value
    write_npz(run / rundir.INIT, arrays)
    fails_with(capsys, ["filters", str(run), "--compare-init", "-o", str(tmp_path / "f.png")],
               f"initial weights {run / rundir.INIT}: conv1.weight holds NaN or infinite")
    assert not (tmp_path / "f.png").exists()


def test_a_checkpoint_without_its_training_state_is_named(interrupted, capsys):
    """Not the older layout's state.npz, which this run never had: the checkpoint lost it."""
    arrays = read_npz(interrupted / rundir.CHECKPOINT)
    del arrays["_position"]
    write_npz(interrupted / rundir.CHECKPOINT, arrays)
    err = fails_with(capsys, ["train", "--resume", str(interrupted)], "checkpoint.npz has "
                     "weights but no training state ('_position')", "cannot be resumed")
    assert "state.npz" not in err
    assert main(["eval", str(interrupted), "--last"]) == 0  # its weights are still usable


# ---- data files and predict inputs ---------------------------------------------------------

def test_an_npz_dataset_declaring_a_terabyte_is_refused(tmp_path, finished, capsys):
    write_zip(tmp_path / "data.npz", {"x.npy": huge_header(), "y.npy": npy_bytes(np.zeros(4))})
    fails_with(capsys, ["eval", str(finished), "--data", f"npz:{tmp_path / 'data.npz'}"],
               "data.npz", "declares shape (1000000, 1000000)", code=2)


def test_npz_labels_far_beyond_any_class_count_are_refused(tmp_path, finished, capsys):
    x = np.zeros((10, 1, 8, 8), np.uint8)
    y = np.array([0, 1] * 4 + [1, 2**40])
    np.savez(tmp_path / "data.npz", x=x, y=y)
    fails_with(capsys, ["eval", str(finished), "--data", f"npz:{tmp_path / 'data.npz'}"],
               "go up to 1099511627776", "class indices", code=2)


def test_an_npz_dataset_whose_compressed_stream_is_damaged_is_refused(tmp_path, finished,
                                                                      capsys):
    np.savez_compressed(tmp_path / "data.npz", x=np.zeros((10, 1, 8, 8), np.float32),
                        y=np.arange(10) % 2)
    data = npz_cases.damaged_stream((tmp_path / "data.npz").read_bytes(), "x.npy")
    (tmp_path / "data.npz").write_bytes(data)
    fails_with(capsys, ["eval", str(finished), "--data", f"npz:{tmp_path / 'data.npz'}"],
               "data.npz", "the archive is damaged", code=2)


def test_a_predict_input_declaring_a_terabyte_is_refused(tmp_path, finished, capsys):
    (tmp_path / "big.npy").write_bytes(huge_header((1000, 1, 1_000_000, 1_000_000), "|u1"))
    fails_with(capsys, ["predict", str(finished), str(tmp_path / "big.npy")],
               "big.npy", "declares shape", code=2)


def _png_with_a_short_pixel_chunk() -> bytes:
    """An 8x8 PNG of noise whose IDAT chunk declares half its length: Pillow reads the next
    chunk's header from the middle of the pixels."""
    from PIL import Image

    buffer = io.BytesIO()
    noise = np.random.default_rng(0).integers(0, 256, (8, 8), np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    data = buffer.getvalue()
    length = struct.unpack(">I", data[33:37])[0]  # IDAT's, after the signature and IHDR
    return data[:33] + struct.pack(">I", length // 2) + data[37:]


@pytest.mark.parametrize("name, data, words", [
    ("broken.png", _png_with_a_short_pixel_chunk(), "broken PNG file"),  # Pillow: SyntaxError
    ("header.ppm", b"P5\n8 x\n255\n" + bytes(64), "invalid literal"),  # ValueError
    ("cut.ppm", b"P5\n8 8\n255\n" + bytes(10), "image file is truncated"),  # OSError
    ("text.png", b"hello", "cannot identify image file"),
    ("cut.npy", npy_bytes(np.zeros((1, 8, 8), np.float32))[:-8], "holds only"),
])
@pytest.mark.parametrize("command", ["predict", "features"])
def test_a_damaged_input_cannot_be_read(tmp_path, finished, capsys, name, data, words,
                                        command):
    """A PNG with a broken chunk and a PPM whose header is no number ended in Pillow's
    SyntaxError and ValueError tracebacks; every damaged input is now told as the others
    were, an input that cannot be read, and as a damaged data file is: a mistake in what was
    asked (exit 2)."""
    (tmp_path / name).write_bytes(data)
    extra = ["-o", str(tmp_path / "f.png")] if command == "features" else []
    fails_with(capsys, [command, str(finished), str(tmp_path / name), *extra],
               f"cannot read {tmp_path / name} as ", words, "hint: ", code=2)


@pytest.mark.parametrize("field, value, text", [
    ("test_acc", float("nan"), "'test_acc' is NaN"),
    ("test_loss", float("inf"), "'test_loss' is Infinity"),
    ("best_value", float("-inf"), "'best_value' is -Infinity"),
    ("wall_seconds", float("nan"), "'wall_seconds' is NaN"),
    ("data", {"name": "shapes", "noise": float("nan")}, "'data.noise' is NaN"),
])
@pytest.mark.parametrize("command", ["eval", "resume"])
def test_a_summary_with_nan_is_damaged(interrupted, capsys, field, value, text, command):
    """Training writes strict JSON (a figure that overflowed is null), but Python's reader
    takes NaN and Infinity: eval read them as figures, and a resumed run summed its time
    into NaN and wrote it back as null."""
    summary = json.loads((interrupted / rundir.SUMMARY).read_text())
    summary[field] = value
    (interrupted / rundir.SUMMARY).write_text(json.dumps(summary))
    argv = (["eval", str(interrupted)] if command == "eval"
            else ["train", "--resume", str(interrupted), "--quiet"])
    fails_with(capsys, argv, f"run summary {interrupted / rundir.SUMMARY}: {text}, not a "
               "finite number", "damaged")
