"""The package list in pyproject.toml is written by hand (the grammar folder maps into the
package); these tests keep it in step with the source tree so the wheel never misses a part."""
import tomllib
from importlib.resources import files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_source_package_is_declared():
    on_disk = {"cnnspec"} | {
        "cnnspec." + ".".join(p.relative_to(ROOT / "cnnspec").parts)
        for p in (ROOT / "cnnspec").rglob("*")
        if p.is_dir() and any(p.glob("*.py"))
    }
    on_disk.add("cnnspec.grammar")
    assert on_disk == _declared_packages()


def test_grammar_is_reachable_as_package_data():
    grammar = files("cnnspec.grammar") / "cnnspec.lark"
    assert "start" in grammar.read_text(encoding="utf-8")
