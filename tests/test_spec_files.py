"""Reading spec files: every command reads a ``.cnn`` or ``.json`` file the same way (one
reader, :func:`cnnspec.sourcefile.read_spec_text`), so a byte-order mark or a byte that is not
UTF-8 means the same thing to ``check`` as to ``init-report`` or ``fmt``."""
import codecs

import pytest

from cnnspec.cli import main

SPEC = """\
input 1x8x8
conv 4 3x3 relu
flatten
dense 10
"""
# Every command that reads a spec file, with the options it needs to run quickly.
READERS = [
    ["check"],
    ["summary"],
    ["export"],
    ["fmt", "--check"],
    ["init-report", "--init", "he_normal", "--input", "gaussian", "--batch-size", "4"],
]


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_byte_order_mark_is_read_as_nothing_by_every_command(command, tmp_path, capsys):
    path = _write(tmp_path, "bom.cnn", codecs.BOM_UTF8 + SPEC.encode())
    assert main([command[0], path, *command[1:]]) == 0, capsys.readouterr().err


def test_a_json_ir_file_may_start_with_a_byte_order_mark(tmp_path, capsys):
    path = _write(tmp_path, "net.cnn", SPEC.encode())
    assert main(["export", path]) == 0
    ir = capsys.readouterr().out
    json_path = _write(tmp_path, "net.json", codecs.BOM_UTF8 + ir.encode())
    assert main(["check", json_path]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_a_byte_that_is_not_utf8_is_a_located_error(command, tmp_path, capsys):
    data = SPEC.replace("conv 4", "conv \xe9", 1).encode("latin-1")  # line 2, column 6
    path = _write(tmp_path, "latin1.cnn", data)
    assert main([command[0], path, *command[1:]]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:6: error: the file is not UTF-8 text: byte 0xE9" in err
    assert "hint: save the spec as UTF-8" in err
    assert "Traceback" not in err


def test_the_reader_locates_the_byte_after_a_byte_order_mark(tmp_path):
    from cnnspec.errors import SpecError
    from cnnspec.sourcefile import read_spec_text

    path = _write(tmp_path, "x.cnn", codecs.BOM_UTF8 + b"input 1x8x8 # \xff\n")
    with pytest.raises(SpecError) as info:
        read_spec_text(path)
    assert (info.value.span.line, info.value.span.column) == (1, 15)
    assert info.value.file == path


@pytest.mark.parametrize("command", READERS, ids=lambda c: c[0])
def test_carriage_returns_alone_end_lines_as_line_feeds_do(command, tmp_path, capsys):
    path = _write(tmp_path, "mac.cnn", SPEC.replace("\n", "\r").encode())
    assert main([command[0], path, *command[1:]]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("separator", ["\u2028", "\x85", "\x0b", "\x0c", "\x1c", "\r"])
def test_the_line_under_an_error_is_the_one_the_parser_counted(separator, tmp_path, capsys):
    """A comment may hold a character str.splitlines splits at; the parser's lines are split
    at line feeds (a lone carriage return, read as one, included)."""
    text = f"# a{separator}b\n" + SPEC.replace("conv 4 3x3", "conv 4 3x3 bogus")
    path = _write(tmp_path, "sep.cnn", text.encode())
    line = 3 if separator == "\r" else 2
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line + 1}:12: error: unknown option 'bogus'" in err
    assert "\n  conv 4 3x3 bogus relu\n" + " " * 13 + "^^^^^\n" in err


def test_a_folder_is_not_a_spec(tmp_path, capsys):
    folder = tmp_path / "net.cnn"
    folder.mkdir()
    assert main(["check", str(folder)]) == 2
    assert f"{folder} is a directory, not a spec file" in capsys.readouterr().err


# Files that are no UTF-8 text, as a user hands them over: saved by an editor or a shell as
# UTF-16 (PowerShell 5's `>` writes UTF-16 with a byte-order mark), or not text at all.
NOT_UTF8 = {
    "utf-16": (lambda text: text.encode("utf-16"), "UTF-16 text (it starts with UTF-16's"),
    "utf-16-le": (lambda text: text.encode("utf-16-le"), "UTF-16 text (a NUL byte beside"),
    "utf-16-be": (lambda text: text.encode("utf-16-be"), "UTF-16 text (a NUL byte beside"),
    "utf-32": (lambda text: text.encode("utf-32"), "UTF-32 text (it starts with UTF-32's"),
    "binary": (lambda text: bytes(range(256)) * 2, "not text: it holds NUL bytes"),
    "no NUL": (lambda text: bytes(range(1, 256)) * 2, "not text: many of its first bytes"),
}
CAFFE_NET = 'name: "x"\nlayer { name: "in" type: "Input" top: "in" ' \
    "input_param { shape { dim: 1 dim: 1 dim: 8 dim: 8 } } }\n"
KERAS_NET = '{"class_name": "Sequential", "config": {"name": "s", "layers": []}}'
# Each command that reads a text file a user wrote: (file name, its text, the command with
# "{}" where the file goes, what the hint calls the file).
TEXT_READERS = {
    "check": ("net.cnn", SPEC, ["check", "{}"], "the spec"),
    "check json": ("net.json", '{"format": 1}', ["check", "{}"], "the spec"),
    "fmt": ("net.cnn", SPEC, ["fmt", "--check", "{}"], "the spec"),
    "import caffe": ("net.prototxt", CAFFE_NET, ["import", "{}"], "the prototxt"),
    "import solver": ("solver.prototxt", "base_lr: 0.01\n",
                      ["import", "NET", "--solver", "{}"], "the solver's prototxt"),
    "import keras": ("net.json", KERAS_NET, ["import", "{}"], "the Keras model's JSON"),
}


def _argv(command: list[str], path: str, tmp_path) -> list[str]:
    """``command`` with the file at ``path`` for "{}" and a Caffe net for "NET"."""
    net = _write(tmp_path, "model.prototxt", CAFFE_NET.encode())
    return [path if word == "{}" else net if word == "NET" else word for word in command]


@pytest.mark.parametrize("encoding", NOT_UTF8)
@pytest.mark.parametrize("reader", TEXT_READERS)
def test_a_file_in_utf16_or_binary_is_said_to_be_so_by_every_reader(reader, encoding, tmp_path,
                                                                    capsys):
    """UTF-16 was 'not UTF-8 text: byte 0xFF' with a BOM and 'unexpected character \\x00'
    without, and an imported prototxt was told to 'save the spec as UTF-8': the message says
    what the file is, and the hint names the file being read."""
    name, text, command, what = TEXT_READERS[reader]
    encode, message = NOT_UTF8[encoding]
    path = _write(tmp_path, name, encode(text))
    argv = _argv(command, path, tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{path}: error: the file is {message}"), err
    hint = (f"hint: save {what} as UTF-8" if "UTF" in message
            else f"hint: is it {what}? This file is binary, or damaged")
    assert hint in err and "Traceback" not in err


@pytest.mark.parametrize("reader", TEXT_READERS)
def test_a_nul_byte_in_text_is_located(reader, tmp_path, capsys):
    name, text, command, what = TEXT_READERS[reader]
    data = text.encode()
    path = _write(tmp_path, name, data[:5] + b"\0" + data[5:])
    argv = _argv(command, path, tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:6: error: the file is not text: it holds a NUL byte (0x00)\n" in err
    assert f"hint: is it {what}? This file is binary, or damaged" in err


@pytest.mark.parametrize("reader", TEXT_READERS)
def test_latin1_text_is_told_to_be_saved_as_utf8_in_the_words_of_its_reader(reader, tmp_path,
                                                                            capsys):
    name, text, command, what = TEXT_READERS[reader]
    path = _write(tmp_path, name, text[:1].encode() + b"\xf1" + text[1:].encode())
    argv = _argv(command, path, tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:2: error: the file is not UTF-8 text: byte 0xF1 cannot be decoded" in err
    assert f"hint: save {what} as UTF-8" in err


GREEK = "# Ένα μικρό δίκτυο για τα ψηφία· τα σχόλια είναι ελληνικά, γραμμένα σε ISO-8859-7\n"


@pytest.mark.parametrize("reader", TEXT_READERS)
@pytest.mark.parametrize("encoding", ["iso-8859-7", "cp1253"])
def test_greek_text_in_an_8_bit_encoding_is_text_to_save_as_utf8(reader, encoding, tmp_path,
                                                                 capsys):
    """Greek comments in a legacy 8-bit encoding make most of the file's first bytes
    undecodable as UTF-8, and it was called "not text" (binary or damaged). Only control
    characters, which no text holds, are evidence of a binary file: it is text, not UTF-8,
    told at its first Greek letter."""
    name, text, command, what = TEXT_READERS[reader]
    if name.endswith(".json"):  # no comments: Greek words in a string, from column 3
        text = text.replace('"', '"' + GREEK.strip("# \n") * 4 + " ", 1)
    else:
        text = GREEK * 4 + text
    path = _write(tmp_path, name, text.encode(encoding))
    argv = _argv(command, path, tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:3: error: the file is not UTF-8 text: byte 0xB8 cannot be decoded" in err
    assert f"hint: save {what} as UTF-8" in err


def test_a_control_character_in_a_json_string_is_named_whole(tmp_path, capsys):
    """Python's json says 'Invalid control character at' and appends the place, which the
    error gives as its line and column: the message read 'not valid JSON: Invalid control
    character at'."""
    path = _write(tmp_path, "net.json", b'{"format": "1\x01"}')
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert f"{path}:1:14: error: not valid JSON: a control character inside a string" in err
