"""Regular expressions compiled on first use (cnnspec/patterns.py): each is the pattern it
stands for, and a check compiles none of those only a syntax error or a diagnostic reads."""
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cnnspec.patterns import LazyPattern

PACKAGE = Path(__file__).resolve().parent.parent / "cnnspec"
# The modules that write their patterns as LazyPattern, read from the source.
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py") if "= LazyPattern(" in path.read_text(encoding="utf-8"))


def _lazy_patterns(module) -> dict[str, LazyPattern]:
    return {name: value for name, value in vars(module).items()
            if isinstance(value, LazyPattern)}


def test_a_lazy_pattern_is_the_pattern_it_stands_for():
    lazy = LazyPattern(r"(?P<word>[a-z]+)(\d*)", re.IGNORECASE)
    assert not lazy.is_compiled
    assert lazy.fullmatch("Conv12").groups() == ("Conv", "12")
    assert lazy.is_compiled
    assert lazy.sub("-", "ab 12 cd") == "- 12 -"
    assert [m.group("word") for m in lazy.finditer("a1 b2")] == ["a", "b"]
    assert lazy.pattern == r"(?P<word>[a-z]+)(\d*)" and lazy.flags & re.IGNORECASE
    assert lazy.search("!!") is None


def test_a_mistake_in_a_lazy_pattern_is_raised_where_it_is_used():
    lazy = LazyPattern(r"(unclosed")
    with pytest.raises(re.error):
        lazy.match("x")


@pytest.mark.parametrize("name", MODULES)
def test_every_lazy_pattern_of_the_package_compiles(name):
    """A typo in one would show only where it is first used (a rare syntax error, say):
    each is compiled here."""
    patterns = _lazy_patterns(importlib.import_module(name))
    assert patterns, f"{name} writes LazyPattern( but holds none at its top"
    for pattern in patterns.values():
        assert isinstance(pattern.match, type(re.compile("").match))


PROBE = """
import importlib, sys
from cnnspec.cli import main
from cnnspec.patterns import LazyPattern
code = main(["check", *sys.argv[1:]])
for name in [m for m in sys.modules if m.startswith("cnnspec.")]:
    for key, value in vars(sys.modules[name]).items():
        if isinstance(value, LazyPattern) and value.is_compiled:
            print("COMPILED", name, key)
print("CODE", code)
"""


def test_a_clean_check_compiles_none_of_the_patterns_of_mistakes(tmp_path):
    """`cnnspec check` of a spec without mistakes or comments compiles none of them: each is
    for a syntax error, a silencing comment or a diagnostic to print."""
    spec = tmp_path / "net.cnn"
    spec.write_text("input 1x8x8\nrepeat 2 {\n  conv 4 3x3 relu\n}\nflatten\ndense 10\n")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", PROBE, str(spec)], env=env,
                            capture_output=True, text=True, check=True, timeout=120)
    assert "CODE 0" in result.stdout, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if line.startswith("COMPILED")] == []
