"""The picture commands end to end: cnnspec diagram, filters and features, with their errors."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnspec.cli import main

ROOT = Path(__file__).resolve().parent.parent
X_DETECTOR = ROOT / "specs" / "x_detector.cnn"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL_SHAPES = {"name": "shapes", "size": 16, "classes": ["x", "plus"], "count": 120,
                "noise": 0.1}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-epoch x_detector run on a small synthetic set (well under a second)."""
    import cnnspec

    out = tmp_path_factory.mktemp("runs") / "x"
    cnnspec.train(str(X_DETECTOR), cnnspec.Settings(epochs=1, data=SMALL_SHAPES),
                  run_dir=str(out), curves=False, progress="none")
    return out


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


def test_cli_modules_import_no_heavy_libraries():
    code = ("import sys, cnnspec.cli.diagram, cnnspec.cli.filters, cnnspec.cli.features; "
            "heavy = {'numpy', 'matplotlib', 'graphviz', 'lark'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- diagram -------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".png", PNG_MAGIC),
                                          (".dot", b"digraph")])
def test_diagram_formats(tmp_path, capsys, suffix, magic):
    out = tmp_path / f"x{suffix}"
    assert main(["diagram", str(X_DETECTOR), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    assert str(out) in capsys.readouterr().out


def test_diagram_options(tmp_path):
    out = tmp_path / "x.dot"
    assert main(["diagram", str(X_DETECTOR), "-o", str(out), "--rankdir", "LR",
                 "--detail", "minimal"]) == 0
    source = out.read_text(encoding="utf-8")
    assert "rankdir=LR" in source
    assert "both_relu [" not in source  # folded into the concat's node


def test_a_short_option_with_its_value_attached_is_read_as_argparse_reads_it(tmp_path):
    """``-oFILE`` is ``-o FILE``: the check for options a command does not take knows it."""
    out = tmp_path / "x.dot"
    assert main(["diagram", str(X_DETECTOR), f"-o{out}"]) == 0
    assert out.read_text(encoding="utf-8").startswith("digraph")


def test_diagram_unknown_format(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:  # refused before the spec is even read
        main(["diagram", str(X_DETECTOR), "-o", str(tmp_path / "x.bmp")])
    assert exit_.value.code == 2
    assert "must end in .svg or .png or .pdf or .dot" in capsys.readouterr().err


def test_diagram_missing_spec(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["diagram", str(tmp_path / "nope.cnn"), "-o", str(tmp_path / "x.svg")])
    assert exit_.value.code == 2
    assert "no such file" in capsys.readouterr().err


# --- filters -------------------------------------------------------------------------------

def test_filters_default_is_first_conv(run_dir, tmp_path, capsys):
    out = tmp_path / "f.png"
    assert main(["filters", str(run_dir), "-o", str(out)]) == 0
    assert _is_png(out)
    # x_detector's first conv is its frozen X: the picture shows no learning, and says where
    assert capsys.readouterr().err == (
        "note: the first conv layer, 'xk', does not learn: its kernels are drawn as they "
        "started; --layer learned draws the first one that learns\n")
    assert main(["filters", str(run_dir), "--layer", "xk", "-o", str(out)]) == 0
    assert capsys.readouterr().err == ""  # asked for by name: nothing to say


def test_the_frozen_first_convs_note_names_no_layer_whose_kernels_never_change():
    """Under a zero default the X-detector's learned convs start at 0 and never change: the
    note sent the reader to `--layer learned`, whose kernels are as still as the frozen X's."""
    from cnnspec.check import check
    from cnnspec.lang import parse
    from cnnspec.render.run_pictures import frozen_default_note

    text = X_DETECTOR.read_text(encoding="utf-8")
    note = frozen_default_note(check(parse(text)))
    assert note.endswith("; {layer:learned} draws the first one that learns"), note
    zeros = text.replace("default weight he_normal", "default weight zeros")
    note = frozen_default_note(check(parse(zeros)))
    assert note == ("the first conv layer, 'xk', does not learn: its kernels are drawn as they "
                    "started; no conv layer of this network learns (`check` says why)")


def test_filters_compare_init_shows_the_frozen_x_unchanged(run_dir, tmp_path):
    out = tmp_path / "f.png"
    assert main(["filters", str(run_dir), "--layer", "xk,learned", "--compare-init",
                 "-o", str(out)]) == 0
    assert _is_png(out)
    from cnnspec.render.run_pictures import initial_weights
    from cnnspec.training.run import load_run

    learned = load_run(run_dir).model.params()["xk.weight"]
    start = initial_weights(run_dir, "xk.weight")
    assert np.array_equal(start, learned)
    assert np.array_equal(start[0, 0], [[1, 0, 1], [0, 1, 0], [1, 0, 1]])


def test_filters_side_channels(run_dir, tmp_path):
    out = tmp_path / "f.png"
    assert main(["filters", str(run_dir), "--layer", "conv2", "--channels", "side",
                 "-o", str(out)]) == 0
    with Image.open(out) as image:
        assert image.size[0] > image.size[1]


@pytest.mark.parametrize("layer,expected,code", [
    ("lerned", "did you mean learned?", 2),  # no such layer: a mistake in what was asked
    ("fc", "dense layer, not a conv layer", 2),
    # these two drew the first conv layer, and xk's kernels twice, and exited 0
    ("", "--layer '' names no layer", 2),
    ("xk, learned,xk", "--layer names 'xk' twice", 2),
])
def test_filters_bad_layer(run_dir, tmp_path, capsys, layer, expected, code):
    assert main(["filters", str(run_dir), "--layer", layer, "-o", str(tmp_path / "f.png")]) == code
    err = capsys.readouterr().err
    assert expected in err
    if layer in ("lerned", "fc"):
        assert "conv layers: xk, learned, conv2" in err


@pytest.mark.parametrize("argv, pictures", [
    (["filters", "{run}", "-o", "{out}"], "filters"),
    (["features", "{run}", "--index", "0", "-o", "{out}"], "feature maps"),
])
def test_a_run_without_conv_layers_has_no_pictures_to_draw(argv, pictures, tmp_path, capsys):
    import cnnspec

    spec = tmp_path / "mlp.cnn"
    spec.write_text("model mlp\ninput 1x16x16\nflatten\nfc: dense 2\n")
    run = tmp_path / "run"
    cnnspec.train(str(spec), cnnspec.Settings(epochs=1, data=SMALL_SHAPES), run_dir=str(run),
                  curves=False, progress="none")
    out = tmp_path / "p.png"
    assert main([part.format(run=run, out=out) for part in argv]) == 2
    err = capsys.readouterr().err
    assert f"mlp has no conv layer, so it has no {pictures} to draw" in err
    assert "hint: filters and feature maps are pictures of conv layers" in err
    assert not out.exists()


def test_filters_not_a_run_folder(tmp_path, capsys):
    assert main(["filters", str(tmp_path), "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert "not a run folder" in err and "hint:" in err


def test_filters_compare_init_without_init_file(run_dir, tmp_path, capsys):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "init.npz").unlink()
    assert main(["filters", str(copy), "--compare-init", "-o", str(tmp_path / "f.png")]) == 1
    assert "drop --compare-init" in capsys.readouterr().err
    # filters_picture's compare_init, and its layer: the library was told of the options
    from cnnspec.errors import RunError
    from cnnspec.render.run_pictures import filters_picture
    from cnnspec.training.run import load_run

    run = load_run(copy)
    with pytest.raises(RunError) as info:
        filters_picture(run, tmp_path / "f.png", compare_init=True)
    assert info.value.hint == "drop compare_init, or train the spec again"
    for layer, said in [("", "layer '' names no layer"), ("xk,xk", "layer names 'xk' twice")]:
        with pytest.raises(RunError) as info:
            filters_picture(run, tmp_path / "f.png", layer=layer)
        assert info.value.message.startswith(said)
    with pytest.raises(RunError) as info:
        filters_picture(run, tmp_path / "f.png", layer="xk,conv2", channels="side")
    assert info.value.message == ("layer: cannot draw these layers in one grid: side by side, "
                                  "their kernels (in x kh x kw) differ: xk 1x3x3, conv2 8x3x3")
    assert info.value.hint == ("draw each layer in its own picture (layer=xk, layer=conv2), or "
                               "channels='average'")
    assert "--layer" not in info.value.hint


def test_filters_draws_layers_of_other_input_channels_in_one_grid_as_their_means(
        run_dir, tmp_path, capsys):
    """README: each kernel is drawn as the mean over its input channels, so xk (1 input
    channel) and conv2 (8) are both 3x3 tiles."""
    from cnnspec.render.run_pictures import grid_weights, pick_conv_layers
    from cnnspec.training.run import load_run

    out = tmp_path / "f.png"
    assert main(["filters", str(run_dir), "--layer", "xk,conv2", "--compare-init",
                 "-o", str(out)]) == 0
    assert _is_png(out)
    run = load_run(run_dir)
    layers = pick_conv_layers(run.spec, "xk,conv2")
    params = run.model.params()
    filters = [params["xk.weight"], params["conv2.weight"]]
    grid = grid_weights(layers, filters, "average")
    assert grid.shape == (17, 1, 3, 3)
    np.testing.assert_allclose(grid[1:, 0], filters[1].mean(axis=1, dtype=np.float64))
    np.testing.assert_array_equal(grid[:1], filters[0])
    assert main(["filters", str(run_dir), "--layer", "xk,conv2", "--channels", "side",
                 "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert "side by side, their kernels (in x kh x kw) differ" in err
    assert "or --channels average" in err


def test_filters_refuses_layers_of_other_kernel_sizes_in_one_grid(tmp_path, capsys):
    import cnnspec

    spec = tmp_path / "two.cnn"
    spec.write_text("model two\ninput 1x16x16\na: conv 2 3x3 relu\nb: conv 2 5x5 relu\n"
                    "flatten\nfc: dense 2\n")
    run = tmp_path / "run"
    cnnspec.train(str(spec), cnnspec.Settings(epochs=1, data=SMALL_SHAPES), run_dir=str(run),
                  curves=False, progress="none")
    assert main(["filters", str(run), "--layer", "a,b", "-o", str(tmp_path / "f.png")]) == 2
    err = capsys.readouterr().err
    assert ("--layer: cannot draw these layers in one grid: their kernels (kh x kw) differ: "
            "a 3x3, b 5x5") in err
    assert "hint: draw each layer in its own picture (--layer a, --layer b)" in err


def test_the_pictures_of_a_run_say_which_of_its_weights_they_draw(run_dir, tmp_path,
                                                                  monkeypatch):
    """A run keeps its best epoch's weights and its last: a filters title that named the
    spec's init alone ("x_detector: learned, init he_normal") read as the initial weights."""
    from cnnspec.render import run_pictures
    from cnnspec.training.run import load_run

    titles = []
    for name in ("plot_filters", "plot_features"):
        monkeypatch.setattr(run_pictures, name,
                            lambda *args, title, **kwargs: titles.append(title))
    assert main(["filters", str(run_dir), "--layer", "learned", "-o",
                 str(tmp_path / "f.png")]) == 0
    assert main(["features", str(run_dir), "--index", "0", "-o", str(tmp_path / "m.png")]) == 0
    best = "; weights: best epoch 1 of 1 by val_loss"
    assert titles[0].endswith(best) and titles[0].startswith("x_detector: learned, init ")
    assert titles[1].endswith(best) and "predicted " in titles[1]
    run_pictures.filters_picture(load_run(run_dir, "last"), tmp_path / "f.png")
    assert titles[2].endswith("; weights: last epoch (1 of 1)")


# --- features ------------------------------------------------------------------------------

def test_features_from_test_index(run_dir, tmp_path):
    out = tmp_path / "f.png"
    assert main(["features", str(run_dir), "--index", "0", "-o", str(out)]) == 0
    assert _is_png(out)


def test_a_test_image_is_captioned_with_its_true_class(run_dir):
    """Beside the prediction in the title, a bare "(x)" would read as another guess."""
    from cnnspec.render.run_pictures import test_split_image
    from cnnspec.training.run import load_run

    _, caption = test_split_image(load_run(run_dir), 0)
    assert re.fullmatch(r"test image 0, true class (x|plus)", caption), caption


def test_features_from_npy_and_png(run_dir, tmp_path):
    x = np.zeros((16, 16), dtype=np.float32)
    np.fill_diagonal(x, 1.0)
    np.fill_diagonal(np.fliplr(x), 1.0)
    np.save(tmp_path / "x.npy", x)
    Image.fromarray((x * 255).astype(np.uint8)).save(tmp_path / "x.png")
    for name in ("x.npy", "x.png"):
        out = tmp_path / f"{name}.features.png"
        assert main(["features", str(run_dir), str(tmp_path / name), "-o", str(out)]) == 0
        assert _is_png(out)


@pytest.mark.parametrize("extra,expected", [
    (["--index", "100000"], "out of range"),
    ([], "either an INPUT file or --index"),
    (["in.npy", "--index", "0"], "either an INPUT file or --index"),
])
def test_features_bad_input(run_dir, tmp_path, capsys, extra, expected):
    np.save(tmp_path / "in.npy", np.zeros((1, 16, 16)))
    extra = [str(tmp_path / e) if e.endswith(".npy") else e for e in extra]
    assert main(["features", str(run_dir), *extra, "-o", str(tmp_path / "f.png")]) == 2
    assert expected in capsys.readouterr().err


def test_feature_maps_are_each_conv_output_after_the_activation_that_reads_it(run_dir):
    """A conv read by its activation alone (``conv2: conv 16 3x3 pad same relu``) is shown as
    what it passes on, the activation's output, labelled so; convs read by a concat are
    their own outputs."""
    from cnnspec.render.run_pictures import feature_maps
    from cnnspec.training.run import load_run

    run = load_run(run_dir)
    image = np.random.default_rng(0).random((1, 16, 16))
    maps = feature_maps(run, image)
    assert run.model.record is False
    assert {k: v.shape for k, v in maps.items()} == {
        "xk": (1, 16, 16), "learned": (7, 16, 16), "conv2 + relu": (16, 8, 8)}
    run.model.record = True
    run.model.forward(run.prepare(image[None]))
    conv2 = np.asarray(run.model.activations["conv2"][0])
    run.model.record = False
    assert (conv2 < 0).any()  # what the relu takes away is not drawn
    np.testing.assert_array_equal(maps["conv2 + relu"], np.maximum(conv2, 0))
    assert (maps["learned"] < 0).any()  # its reader is the concat: its own output


def test_features_of_an_image_of_another_shape_is_refused_before_drawing(run_dir, tmp_path):
    """The library's features_picture takes an image as it is (the command line resizes it
    first): one of another shape is a RunError naming both shapes, and nothing is written."""
    from cnnspec.errors import RunError
    from cnnspec.render.run_pictures import features_picture
    from cnnspec.training.run import load_run

    out = tmp_path / "f.png"
    with pytest.raises(RunError, match=re.escape(
            "the image has shape (1, 8, 8), but the model takes (1, 16, 16)")) as info:
        features_picture(load_run(run_dir), np.zeros((1, 8, 8)), out)
    assert info.value.hint == "give an image of the model's input size"
    assert not out.exists()


def test_diagram_without_renderer_says_how_to_render(tmp_path, capsys, monkeypatch):
    from cnnspec.render import backend

    monkeypatch.setattr(backend, "find_renderer", lambda: None)
    out = tmp_path / "x.png"
    assert main(["diagram", str(X_DETECTOR), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"graphviz-pure -Tpng {tmp_path / 'x.dot'} -o {out}" in err
    assert (tmp_path / "x.dot").is_file() and not out.exists()


def test_matplotlib_that_cannot_make_its_folders_draws_without_a_word(tmp_path):
    """With $HOME and $XDG_CACHE_HOME unusable (here a file), Matplotlib printed two lines
    about its own MPLCONFIGDIR on loading and drew from a temporary folder; the picture is
    still drawn, and the terminal shows only cnnspec's line."""
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    env = {key: value for key, value in os.environ.items()
           if key not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "PYTHONWARNINGS")}
    env.update(HOME=str(not_a_folder), XDG_CACHE_HOME=str(not_a_folder))
    out = tmp_path / "data.png"
    done = subprocess.run([sys.executable, "-m", "cnnspec", "data", str(ROOT / "specs" /
                           "digits.cnn"), "-o", str(out)], env=env, capture_output=True,
                          text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == f"wrote {out}\n"
    assert out.read_bytes().startswith(PNG_MAGIC)
