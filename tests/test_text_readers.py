"""Every text reader (``check``, ``fmt``, ``summary``, ``import`` of a Caffe net, its solver and a
Keras model, ``predict``'s inputs) given the same files in other encodings, with other line
ends, empty, or not files at all: each ends in an exit code with an error naming the file
(and the line and column where a byte is the problem) and a hint, never a traceback; line ends
and a UTF-8 byte-order mark change no line or column."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from cnnspec.cli import main

IMPORTS = Path(__file__).resolve().parent / "data" / "import"
SPEC = ("# café “spec”\ninput 1x8x8\nc1: conv 4 3x3 relu\nflatten\nfc: dense 2\n"
        "train {\n  data shapes(size=8, classes=[x, o])\n}\n")
BROKEN = SPEC.replace("relu\n", "relu\nbroken here\n")  # line 4, column 1
SOURCES = {
    "spec.cnn": SPEC,
    "net.prototxt": "# café “net”\n" + (IMPORTS / "lenet.prototxt").read_text(),
    "solver.prototxt": "# café “solver”\n" + (IMPORTS / "lenet_solver.prototxt").read_text(),
    # a layer named in French: JSON has no comments
    "keras.json": (IMPORTS / "mnist_convnet.json").read_text().replace(
        '"name": "', '"name": "café_', 1),
}
# encodings that are no UTF-8, and the start of the error each gets (":L:C: error" when a
# byte is the problem, ": error" for the whole file)
NOT_UTF8 = {
    "utf-16": ": error: the file is UTF-16 text", "utf-16-le": ": error: the file is UTF-16",
    "utf-16-be": ": error: the file is UTF-16", "utf-32": ": error: the file is UTF-32",
    "utf-32-le": ": error: the file is not text", "utf-32-be": ": error: the file is not text",
    "latin-1": ":{at}: error: the file is not UTF-8 text: byte 0xE9",
    "cp1252": ":{at}: error: the file is not UTF-8 text: byte 0xE9",
}
SAME_TEXT = {  # bytes a reader takes as the UTF-8 text itself
    "crlf": lambda text: text.replace("\n", "\r\n").encode(),
    "cr": lambda text: text.replace("\n", "\r").encode(),
    "bom": lambda text: b"\xef\xbb\xbf" + text.encode(),
    "bom-crlf": lambda text: b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode(),
}


def commands(kind: str, path: str) -> list[list[str]]:
    if kind == "spec.cnn":
        return [["check", path], ["fmt", "--check", path], ["summary", path]]
    if kind == "net.prototxt":
        return [["import", path, "--input", "1x28x28"]]
    if kind == "solver.prototxt":
        return [["import", str(IMPORTS / "lenet.prototxt"), "--input", "1x28x28",
                 "--solver", path]]
    return [["import", path]]


def run(argv, capsys) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, code, err)
    return code, err


def where_e_acute(text: str) -> str:
    """LINE:COLUMN of the first 'é' in ``text``."""
    at = text.index("é")
    return f"{text.count(chr(10), 0, at) + 1}:{at - text.rfind(chr(10), 0, at)}"


def text_for(encoding: str, text: str) -> bytes:
    if encoding in ("latin-1",):
        text = text.replace("“", '"').replace("”", '"')
    return text.encode(encoding)


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("encoding", NOT_UTF8)
def test_text_in_another_encoding_is_named_where_its_bytes_are(tmp_path, capsys, kind,
                                                                encoding):
    path = tmp_path / kind
    path.write_bytes(text_for(encoding, SOURCES[kind]))
    for argv in commands(kind, str(path)):
        code, err = run(argv, capsys)
        expected = NOT_UTF8[encoding].format(at=where_e_acute(SOURCES[kind]))
        assert code == 2 and err.startswith(f"{path}{expected}"), (argv, err)
        assert "\nhint: " in err, err


@pytest.mark.parametrize("kind", SOURCES)
def test_a_nul_byte_is_located(tmp_path, capsys, kind):
    path = tmp_path / kind
    path.write_bytes(SOURCES[kind].encode().replace(b"\n", b"\n\0", 1))
    for argv in commands(kind, str(path)):
        code, err = run(argv, capsys)
        assert code == 2 and err.startswith(f"{path}:2:1: error: the file is not text"), err


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("form", SAME_TEXT)
def test_line_ends_and_a_byte_order_mark_read_as_the_text(tmp_path, capsys, kind, form):
    plain, other = tmp_path / f"plain-{kind}", tmp_path / f"{form}-{kind}"
    plain.write_text(SOURCES[kind])
    other.write_bytes(SAME_TEXT[form](SOURCES[kind]))
    for argv in commands(kind, str(other)):
        code, err = run(argv, capsys)
        if argv[:2] == ["fmt", "--check"] and form in ("cr", "bom", "bom-crlf"):
            # fmt writes the first line's ending, LF or CRLF (a lone CR reads as LF), and no
            # byte-order mark: these would change
            assert code in (0, 1) and "error" not in err, err
            continue
        assert code == 0, err


@pytest.mark.parametrize("form", SAME_TEXT)
def test_line_ends_and_a_byte_order_mark_keep_an_error_s_line_and_column(tmp_path, capsys,
                                                                         form):
    path = tmp_path / "broken.cnn"
    path.write_bytes(SAME_TEXT[form](BROKEN))
    for argv in (["check", str(path)], ["summary", str(path)]):
        code, err = run(argv, capsys)
        assert code == 2 and err.startswith(f"{path}:4:1: error: unknown layer kind 'broken'")
        assert "\n  broken here\n  ^" in err, err


@pytest.mark.parametrize("kind", SOURCES)
@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf"], ids=["empty", "bom only"])
def test_an_empty_file_is_a_located_error_or_an_empty_result(tmp_path, capsys, kind, content):
    path = tmp_path / kind
    path.write_bytes(content)
    for argv in commands(kind, str(path)):
        code, err = run(argv, capsys)
        # an empty solver sets nothing; an empty spec is no spec, to fmt as to check
        if kind == "solver.prototxt":
            assert code == 0, err
        else:
            assert code == 2 and err.startswith(f"{path}:1:1: error: "), err


def special_paths(tmp_path) -> dict[str, Path]:
    folder = tmp_path / "folder.cnn"
    folder.mkdir()
    fifo = tmp_path / "fifo.cnn"
    os.mkfifo(fifo)
    dangling = tmp_path / "dangling.cnn"
    dangling.symlink_to(tmp_path / "nowhere.cnn")
    huge = tmp_path / "huge.cnn"
    with open(huge, "wb") as handle:  # sparse: 64 MiB and one byte, on no disk
        handle.write(SPEC.encode())
        handle.truncate((64 << 20) + 1)
    return {"folder": folder, "fifo": fifo, "dangling": dangling, "huge": huge,
            "missing": tmp_path / "missing.cnn"}


def test_paths_that_are_no_readable_file_are_refused_by_every_reader(tmp_path, capsys,
                                                                     trained):
    """A folder, a pipe (opened, it would wait for a writer), a link to nothing, a missing
    file and one beyond the size limit: an error naming the path, or argparse's usage line."""
    for name, path in special_paths(tmp_path).items():
        for argv in (["check", str(path)], ["fmt", str(path)], ["summary", str(path)],
                     ["import", str(path)],
                     ["import", str(IMPORTS / "lenet.prototxt"), "--solver", str(path)],
                     ["predict", trained["run"], str(path)]):
            code, err = run(argv, capsys)
            assert code in (1, 2), (name, argv, err)
            assert str(path) in err or err.startswith("usage: "), (name, argv, err)
            assert "Traceback" not in err


def test_reading_a_spec_sets_aside_what_the_file_holds_not_the_limit(tmp_path):
    """read(n) allocates n bytes first: asked for the 64 MiB limit, a spec of a few KiB failed
    to read under a `ulimit -v` of 150 MiB."""
    import tracemalloc

    from cnnspec.sourcefile import read_spec_text

    path = tmp_path / "spec.cnn"
    path.write_text(SPEC, encoding="utf-8")
    tracemalloc.start()
    try:
        assert read_spec_text(path) == SPEC
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("limit, read", [(10_000, True), (len(SPEC.encode()) - 10, False)])
def test_a_spec_that_grows_after_it_was_measured_is_read_whole_or_refused(tmp_path, monkeypatch,
                                                                          limit, read):
    from types import SimpleNamespace

    from cnnspec import sourcefile
    from cnnspec.errors import RunError

    path = tmp_path / "spec.cnn"
    path.write_text(SPEC, encoding="utf-8")
    real_stat = os.stat
    measured = SimpleNamespace(st_mode=real_stat(path).st_mode, st_size=5)  # 5 bytes then
    monkeypatch.setattr(sourcefile, "MAX_SPEC_BYTES", limit)
    monkeypatch.setattr(os, "stat", lambda p, *args, **kwargs: measured if p == path
                        else real_stat(p, *args, **kwargs))
    if read:
        assert sourcefile.read_spec_text(path) == SPEC
    else:
        with pytest.raises(RunError, match="a spec file may be"):
            sourcefile.read_spec_text(path)
