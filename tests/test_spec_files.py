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
    ["init-report", "--init", "he_normal", "--input", "gaussian", "--batch", "4"],
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
