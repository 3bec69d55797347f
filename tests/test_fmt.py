"""The formatter and `cnnspec fmt`: canonical, idempotent, meaning and comments kept."""
from pathlib import Path

import pytest

from cnnspec.cli import main
from cnnspec.errors import SpecError
from cnnspec.lang import format_source, parse

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.cnn"))

MESSY = """\
# A messy spec
model   m
input 1x8x8


default weight he_normal ,bias zeros
a:conv 8 3x3 pad same weight [[1,0,1],[0,1,0],  # centre row
  [1,0,1]]   relu   # trailing
  # a lonely comment
b :  concat<-a,input
repeat 2 as r{
conv 4 3 relu # inside
# before the brace
}
train{
 lr 0.1
      optimizer sgd( momentum = 0.9 , nesterov=true )
}
"""

MESSY_FORMATTED = """\
# A messy spec
model m
input 1x8x8

default weight he_normal, bias zeros
a: conv 8 3x3 pad same weight [[1, 0, 1],
                               [0, 1, 0],       # centre row
                               [1, 0, 1]] relu  # trailing
# a lonely comment
b: concat <- a, input
repeat 2 as r {
  conv 4 3 relu  # inside
  # before the brace
}
train {
  lr 0.1
  optimizer sgd(momentum=0.9, nesterov=true)
}
"""


def test_messy_spec_gets_the_canonical_layout():
    assert format_source(MESSY) == MESSY_FORMATTED


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_specs_are_formatted_and_formatting_is_idempotent(path):
    text = path.read_text()
    assert format_source(text) == text
    assert format_source(format_source(MESSY)) == format_source(MESSY)


@pytest.mark.parametrize("path", SPECS + [None], ids=lambda p: p.name if p else "messy")
def test_formatting_keeps_the_meaning_and_every_comment(path):
    text = path.read_text() if path else MESSY
    out = format_source(text)
    assert parse(out).ir == parse(text).ir
    comments = [line[line.index("#"):].rstrip() for line in text.splitlines() if "#" in line]
    assert [line[line.index("#"):] for line in out.splitlines() if "#" in line] == comments


BELOW_TRAIN = """\
input 1x8x8
conv 4 3x3 relu  # first
# the training
train {
  epochs 1  # one
}

# a pool, written late
maxpool 2
flatten
dense 10  # logits
"""

BELOW_TRAIN_FORMATTED = """\
input 1x8x8
conv 4 3x3 relu  # first

# a pool, written late
maxpool 2
flatten
dense 10  # logits

# the training
train {
  epochs 1  # one
}
"""


def test_layers_written_below_the_train_block_move_above_it_with_their_comments():
    """check warns of a layer below the train block (it is still the network's next layer);
    fmt puts it above, in its order, so the network reads top to bottom: the same IR, the
    same comments, the block's own comment kept with it, and no warning left."""
    from cnnspec.check import check

    out = format_source(BELOW_TRAIN)
    assert out == BELOW_TRAIN_FORMATTED and format_source(out) == out
    assert parse(out).ir == parse(BELOW_TRAIN).ir
    assert any("below the train block" in w.message for w in check(parse(BELOW_TRAIN)).warnings)
    assert not any("below the train block" in w.message for w in check(parse(out)).warnings)


def test_the_files_first_comment_stays_first_when_the_train_block_moves():
    text = "# top\ntrain {\n  epochs 1\n}\ninput 1x8x8\ndense 10\n"
    out = format_source(text)
    assert out == "# top\n\ninput 1x8x8\ndense 10\n\ntrain {\n  epochs 1\n}\n"
    assert format_source(out) == out


@pytest.mark.parametrize("text", [
    "input 1x8x8\ndense 10\ntrain {\n  lr 0.1\n}\n\ntrain {\n  epochs 1\n}\n",
    ("input 1x8x8\ntrain {\n  lr 0.1\n}\n# the flat part\nflatten\ntrain {\n  epochs 1\n}\n"
     "dense 10\n"),
])
def test_two_train_blocks_keep_their_order_and_formatting_them_again_changes_nothing(text):
    """A second train block (check's error) swapped places with the first at every run: the
    first moved below it, as below a layer, so `fmt --check` never passed and the error
    pointed at the other block. Both move below the layers, in their order."""
    out = format_source(text)
    assert format_source(out) == out
    assert out.index("lr 0.1") < out.index("epochs 1")
    assert out.index("dense 10") < out.index("train {")


def test_comments_alone_below_the_train_block_stay_there():
    text = "input 1x8x8\ndense 10\ntrain {\n  epochs 1\n}\n# the end\n"
    assert format_source(text) == text


def test_matrix_columns_are_aligned():
    out = format_source("input 1x8x8\nconv 1 3 weight [[-1,0,1],[-2,0,2],[-1,0,1]]\n")
    assert out.splitlines()[1:] == ["conv 1 3 weight [[-1, 0, 1],",
                                    "                 [-2, 0, 2],",
                                    "                 [-1, 0, 1]]"]


def test_trailing_comments_on_consecutive_lines_align():
    out = format_source("input 1x8x8  # in\nconv 4 3 relu # c\n\nflatten # f\n")
    assert out == "input 1x8x8    # in\nconv 4 3 relu  # c\n\nflatten  # f\n"


ANNOTATED_KERNEL = """\
model m
input 1x8x8
xk: conv 1 3x3 pad same weight [[1, 0, 1], # row one
   [0, 1, 0],   # row two
   [1, 0, 1]] nobias frozen
flatten
dense 10
"""


def test_a_comment_after_a_kernel_row_stays_after_that_row():
    out = format_source(ANNOTATED_KERNEL)
    assert out.splitlines()[2:5] == ["xk: conv 1 3x3 pad same weight [[1, 0, 1],  # row one",
                                     "                                [0, 1, 0],  # row two",
                                     "                                [1, 0, 1]] nobias frozen"]
    assert format_source(out) == out
    assert parse(out).ir == parse(ANNOTATED_KERNEL).ir


NESTED_KERNEL = """\
model m
input 1x8x8
repeat 2 {
  xk: conv 2 3x3 pad same weight [  # before the rows
     [[1, 0, 1], [0, 1, 0], # two rows
     [1, 0, 1]],  # first channel
     [[1, 1, 1],
      [0, 0, 0],  # middle
      [-1, -1, -1]]] nobias   # the layer
}
train {
  data shapes(size=8, classes=[x,  # one
     o])
}
"""


def test_comments_in_kernels_of_filters_keep_their_rows_where_rows_have_lines():
    """Per filter matrices in a block: a comment goes after the last row of its source line;
    one that follows no row (after the opening bracket, or in a list written on one line)
    goes above the statement, as before."""
    out = format_source(NESTED_KERNEL)
    assert out.splitlines()[2:14] == [
        "repeat 2 {",
        "  # before the rows",
        "  xk: conv 2 3x3 pad same weight [[[1, 0, 1],",
        "                                   [0, 1, 0],   # two rows",
        "                                   [1, 0, 1]],  # first channel",
        "                                  [[ 1,  1,  1],",
        "                                   [ 0,  0,  0],          # middle",
        "                                   [-1, -1, -1]]] nobias  # the layer",
        "}",
        "train {",
        "  # one",
        "  data shapes(size=8, classes=[x, o])",
    ]
    assert format_source(out) == out
    assert parse(out).ir == parse(NESTED_KERNEL).ir


@pytest.mark.parametrize("text", ["", "\n\n", "# a spec to come\n"],
                         ids=["empty", "blank lines", "a comment alone"])
def test_a_spec_with_no_statement_is_checks_error_not_a_layout(text, tmp_path, capsys):
    """An empty file is no spec to lay out (the wrong file, or one a failed write emptied):
    fmt answers it as check does, with the same words and exit code, and leaves it as it is."""
    with pytest.raises(SpecError, match="the spec has no input line"):
        format_source(text)
    path = tmp_path / "empty.cnn"
    path.write_text(text)
    assert main(["check", str(path)]) == 2
    checked = capsys.readouterr().err
    assert checked.startswith(f"{path}:1:1: error: the spec has no input line\n")
    for argv in (["fmt", str(path)], ["fmt", "--check", str(path)]):
        assert main(argv) == 2
        assert capsys.readouterr().err == checked
    assert path.read_text() == text


def test_a_syntax_error_is_a_spec_error():
    with pytest.raises(SpecError):
        format_source("input 1x8x8\nconv 8 (\n")


def test_cli_rewrites_in_place_and_check_reports(tmp_path, capsys):
    spec = tmp_path / "m.cnn"
    spec.write_text(MESSY)
    tidy = tmp_path / "tidy.cnn"
    tidy.write_text(MESSY_FORMATTED)
    assert main(["fmt", "--check", str(spec), str(tidy)]) == 1
    assert spec.read_text() == MESSY
    assert str(spec) in capsys.readouterr().err
    assert main(["fmt", str(spec), str(tidy)]) == 0
    assert spec.read_text() == MESSY_FORMATTED
    assert main(["fmt", "--check", str(spec)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.cnn", "tidy.cnn"]


def test_cli_formats_the_file_a_link_names_and_keeps_the_link(tmp_path, capsys):
    (tmp_path / "specs").mkdir()
    spec, link = tmp_path / "specs" / "m.cnn", tmp_path / "m.cnn"
    spec.write_text(MESSY)
    spec.chmod(0o640)
    link.symlink_to(spec)
    assert main(["fmt", str(link)]) == 0
    assert link.is_symlink() and spec.read_text() == MESSY_FORMATTED
    assert spec.stat().st_mode & 0o777 == 0o640


def test_cli_reports_a_syntax_error_with_its_place(tmp_path, capsys):
    spec = tmp_path / "bad.cnn"
    spec.write_text("input 1x8x8\nconv 8 3x3 stride=2\n")
    assert main(["fmt", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:2:18: error:" in err and "hint:" in err


def test_cli_refuses_ir_json_and_missing_files(tmp_path, capsys):
    ir = tmp_path / "m.json"
    ir.write_text("{}")
    assert main(["fmt", str(ir)]) == 2  # a mistake in what was asked, as a spec error is
    assert main(["fmt", str(tmp_path / "missing.cnn")]) == 2
    err = capsys.readouterr().err
    assert "fmt formats .cnn specs" in err and "missing.cnn" in err


@pytest.mark.parametrize("name, text", [
    ("m.py", "import os\nx = 1\n"),  # no spec: fmt read it as one, a syntax error
    ("net.txt", "input 1x8x8\nconv 4 3x3\n"),  # a spec's text under another suffix
    ("lenet.prototxt", 'name: "LeNet"\nlayer {\n  name: "data"\n}\n'),  # Caffe's
    ("missing.py", None),
])
def test_fmt_says_of_a_file_that_is_no_spec_what_check_says(name, text, tmp_path, capsys):
    """Which files are specs is decided once, by check's reader (check.load.read_spec), and
    fmt reads that decision: it parsed any file but an IR as a spec (a Python file was a
    syntax error at its first line)."""
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    assert main(["check", str(path)]) == 2
    said = capsys.readouterr().err
    assert main(["fmt", "--check", str(path)]) == 2
    assert capsys.readouterr().err == said
    assert said.startswith("cnnspec: error: ") and "Traceback" not in said


def test_cli_formats_every_file_and_reports_every_error(tmp_path, capsys):
    # an error in one file neither stops the others nor hides a file already rewritten
    bad = tmp_path / "bad.cnn"
    bad.write_text("input 1x8x8\nconv 8 3x3 stride=2\n")
    messy = tmp_path / "m.cnn"
    messy.write_text(MESSY)
    missing = tmp_path / "missing.cnn"
    assert main(["fmt", str(messy), str(bad), str(missing), str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert messy.read_text() == MESSY_FORMATTED
    assert out == f"reformatted {messy}\n"
    assert f"{bad}:2:18: error:" in err
    assert f"cnnspec: error: no such file: {missing}\nhint: " in err
    assert f"cnnspec: error: {tmp_path} is a directory, not a spec file\nhint: " in err
    assert "Traceback" not in err and "Errno" not in err


def test_nested_repeat_blocks_are_indented_per_level_and_idempotent():
    messy = ("input 1x8x8\nrepeat 2 as a {\nconv 4 3   pad same  # outer\n   repeat 3 as b {\n"
             "relu\n\n\n      add(relu, in)\n}\n}\n")
    tidy = format_source(messy)
    assert tidy == ("input 1x8x8\nrepeat 2 as a {\n  conv 4 3 pad same  # outer\n"
                    "  repeat 3 as b {\n    relu\n\n    add(relu, in)\n  }\n}\n")
    assert format_source(tidy) == tidy
    assert parse(tidy).ir == parse(messy).ir


def test_fmt_leaves_a_spec_whose_layout_would_outgrow_the_size_limit(tmp_path, monkeypatch,
                                                                      capsys):
    """A spec just under the size limit can grow past it in canonical layout (here by the
    newline added at its end): written, it could not be read back, so fmt leaves it."""
    from cnnspec import sourcefile

    text = "input 1x8x8\nfc: dense 2\n# the last line, without its newline"
    path = tmp_path / "net.cnn"
    path.write_text(text)
    monkeypatch.setattr(sourcefile, "MAX_SPEC_BYTES", len(text.encode()))
    for argv in (["fmt", str(path)], ["fmt", "--check", str(path)]):
        assert main(argv) == 1
        assert capsys.readouterr().err == (
            f"cnnspec: error: {path} in canonical layout would be {len(text) + 1} bytes, more "
            f"than the 0 MiB a spec file may be; it is left as it is\n"
            "hint: a spec is a page or two of text: check that this is the file you meant\n")
    assert path.read_text() == text
    monkeypatch.setattr(sourcefile, "MAX_SPEC_BYTES", len(text.encode()) + 1)
    assert main(["fmt", str(path)]) == 0
    assert path.read_text() == text + "\n"


def test_cli_keeps_the_files_crlf_line_ends(tmp_path, capsys):
    """A spec checked out on Windows (CRLF) in canonical layout passes --check; one that is
    not gets the layout with CRLF throughout, the first line's ending (mixed ones too)."""
    tidy = tmp_path / "tidy.cnn"
    tidy.write_bytes(MESSY_FORMATTED.replace("\n", "\r\n").encode())
    assert main(["fmt", "--check", str(tidy)]) == 0
    messy = tmp_path / "messy.cnn"
    messy.write_bytes(MESSY.replace("\n", "\r\n", 3).encode())  # the rest ends in LF
    assert main(["fmt", "--check", str(messy)]) == 1
    assert main(["fmt", str(messy)]) == 0
    assert messy.read_bytes() == MESSY_FORMATTED.replace("\n", "\r\n").encode()
    assert main(["fmt", "--check", str(messy)]) == 0
    lf = tmp_path / "lf.cnn"
    lf.write_bytes(MESSY.replace("\n", "\r\n").replace("\r\n", "\n", 1).encode())
    assert main(["fmt", str(lf)]) == 0
    assert lf.read_bytes() == MESSY_FORMATTED.encode()
