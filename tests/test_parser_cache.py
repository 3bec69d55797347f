"""The built parser kept in the user's cache directory: saved once, loaded by later processes,
equal to a freshly built one, and never loaded from a file another user could have written."""
import os
import subprocess
import sys

import pytest

from cnnspec import usercache
from cnnspec.lang import parse
from cnnspec.lang import parser as P

SPEC = "input 1x8x8\nconv 4 3x3 pad same relu  # a comment\nflatten\ndense 10\n"


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """A fresh cache directory; the process's built parser is forgotten before and after."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    P.parser.cache_clear()
    yield tmp_path
    P.parser.cache_clear()


def saved_path():
    return P.parser_cache_path(P.parser_cache_key())


def test_first_use_saves_then_loads_an_equal_parser(cache_home):
    built = P.parser()
    path = saved_path()
    assert path.parent == cache_home / "cnnspec" and path.exists()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    loaded = P.load_cached_parser(path, P.parser_cache_key())
    assert loaded is not None and loaded is not built
    assert loaded.parse(SPEC, start="start") == built.parse(SPEC, start="start")


def test_a_loaded_parser_keeps_comments_positions_and_syntax_errors(cache_home):
    P.parser()
    P.parser.cache_clear()
    tree, comments = P.parse_with_comments(SPEC)  # now from the saved file
    assert [c.value for c in comments] == ["# a comment"]
    assert tree.meta.line == 1
    spec = parse(SPEC)
    assert [layer["kind"] for layer in spec.ir["layers"]] == ["conv", "relu", "flatten",
                                                               "dense"]
    with pytest.raises(Exception) as exc:
        parse("input 1x8x8\nconv 4 3x3 pad\n")
    assert type(exc.value).__name__ == "SpecError"


def test_key_follows_the_grammar(cache_home, monkeypatch):
    key = P.parser_cache_key()
    P.grammar_text.cache_clear()
    original = P.grammar_text()
    monkeypatch.setattr(P, "grammar_text", lambda: original + "\n// changed\n")
    assert P.parser_cache_key() != key


@pytest.mark.parametrize("spoil", ["group_writable", "other_owner", "wrong_key", "garbage",
                                   "symlink"])
def test_untrusted_or_stale_files_are_not_loaded(cache_home, monkeypatch, spoil):
    P.parser()
    path, key = saved_path(), P.parser_cache_key()
    if spoil == "group_writable":
        path.chmod(0o620)
    elif spoil == "other_owner":
        monkeypatch.setattr(usercache.os, "getuid", lambda: os.geteuid() + 1)
    elif spoil == "wrong_key":
        key = "0" * 64
    elif spoil == "garbage":
        path.write_bytes(key.encode() + b"\nnot a pickle")
    elif spoil == "symlink":
        target = path.with_name("elsewhere")
        path.rename(target)
        path.symlink_to(target)
    assert P.load_cached_parser(path, key) is None
    if spoil != "other_owner":  # building again works, and replaces a bad file
        P.parser.cache_clear()
        assert P.parser().parse(SPEC, start="start") is not None


def test_a_group_writable_cache_directory_is_not_trusted(cache_home):
    P.parser()
    saved_path().parent.chmod(0o770)
    try:
        assert P.load_cached_parser(saved_path(), P.parser_cache_key()) is None
    finally:
        saved_path().parent.chmod(0o700)


def test_an_unwritable_cache_directory_still_parses(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    P.parser.cache_clear()
    try:
        assert parse(SPEC).ir["layers"]
    finally:
        P.parser.cache_clear()


def test_check_does_not_import_numpy_for_the_registry(tmp_path):
    """The layer registry reaches the engine (NumPy) only when a layer is built."""
    code = ("import sys; import cnnspec.kinds; import cnnspec.lang; "
            "print('numpy' in sys.modules)")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"
