"""The package's imports point one way: no cycle between modules or between subpackages, and
no import against the layer order below.

Imports are read with ``ast`` from the source (nothing is run), at module level and inside
functions alike: a deferred import is still a dependency. ``from cnnspec.lab import lsuv`` is
an import of the module ``cnnspec.lab.lsuv``; ``from cnnspec.data import load_dataset`` one of
the package ``cnnspec.data``; ``import cnnspec`` one of the facade (``cnnspec/__init__.py``).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cnnspec
from cnnspec.lang.grammar import GENERATED

PACKAGE = Path(cnnspec.__file__).parent

# The layer order, bottom first: a unit (a subpackage, a top-level module, or the facade
# ``cnnspec``) may import only units of lower layers. Units of one layer are independent.
LAYERS = [
    ("cnnspec.exitcodes",),  # imports nothing: the entry point reads it before the rest
    ("cnnspec.patterns",),  # regular expressions compiled on first use: for any module
    ("cnnspec.collector",),  # the cycle collector paused while modules load: the entry point's
    ("cnnspec.records",),  # the dataclasses' decorator, which errors' classes use too
    ("cnnspec.errors", "cnnspec.shapes", "cnnspec.seeding", "cnnspec.version",
     "cnnspec.usercache", "cnnspec.metrics",
     "cnnspec.damage",  # a damaged file told from a failed disk: archives and pictures
     "cnnspec.held",  # the words for a parameter held still, the engine's and the pictures'
     "cnnspec.downloaded",  # the datasets downloaded on first use: read by ir and data
     "cnnspec.update_rules"),  # optimizers' update-rule facts: read by ir and the engine
    ("cnnspec.markdown",),  # the cells of the tables generated for the docs
    ("cnnspec.given",),  # what a library caller hands over, read where it comes in
    # the dtypes' limits, written in messages as a spec writes numbers (errors.rounded_text)
    ("cnnspec.sourcefile", "cnnspec.dtypes"),
    ("cnnspec.atomic",),  # files written atomically: run files, exports, imported specs
    ("cnnspec.ir", "cnnspec.init", "cnnspec.engine", "cnnspec.diagnostics"),
    ("cnnspec.data",),  # reads the dataset table the IR declares (ir/datasets.py)
    ("cnnspec.kinds",),  # the layer-kind registry: builds engine ops, read by every stage above
    ("cnnspec.lang",),
    ("cnnspec.check",),
    ("cnnspec.compiler",),
    # Training takes callbacks and init steps; render and the lab hand it theirs.
    ("cnnspec.training",),
    ("cnnspec.render",),
    ("cnnspec.lab",),
    ("cnnspec.exporters",),  # a spec or a run written for other tools (ONNX, PyTorch)
    ("cnnspec.sweep",),  # trains cells (training), with the lab's init variants and plots
    # other frameworks' networks as specs, written, then checked: a command of its own, so
    # no stage below writes init or layer text with it (that is the init package's and the
    # kinds')
    ("cnnspec.importers",),
    ("cnnspec",),  # the facade: cnnspec.load / compile / train compose the layers below
    ("cnnspec.cli",),
    ("cnnspec.__main__",),
]


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at module level or in a function)."""
    paths = {module_name(root, path): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for mod, path in paths.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        graph[mod] = set()
        if path == root.parent / GENERATED:
            # Lark's standalone parser: its few relative imports are Lark's own modules' (in
            # code the parser never runs); it imports nothing of cnnspec.
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                # `from a import b`: the module a.b if there is one, else the module a
                names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in paths else base
                         for alias in node.names]
            else:
                continue
            for name in names:
                while name and name not in paths:
                    name = name.rpartition(".")[0]
                if name and name != mod:
                    graph[mod].add(name)
    return graph


def unit(mod: str) -> str:
    """``cnnspec.lab.lsuv`` -> ``cnnspec.lab``; ``cnnspec`` stays the facade."""
    return ".".join(mod.split(".")[:2])


def unit_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for mod, targets in graph.items():
        units.setdefault(unit(mod), set()).update(unit(t) for t in targets if unit(t) != unit(mod))
    return units


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def against_the_layers(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a unit to one of its own layer or above, as ``"a -> b"``."""
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    wrong = []
    for mod, targets in sorted(graph.items()):
        for target in sorted(targets):
            src, dst = unit(mod), unit(target)
            if src != dst and layer[src] <= layer[dst]:
                wrong.append(f"{mod} -> {target}")
    return wrong


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return imports_of(PACKAGE)


def test_every_unit_has_a_layer(graph):
    declared = {name for names in LAYERS for name in names}
    assert {unit(mod) for mod in graph} - declared == set()
    assert declared - {unit(mod) for mod in graph} == set()  # no stale entry


def test_no_module_imports_itself_back(graph):
    assert cycles(graph) == []


def test_no_two_subpackages_import_each_other(graph):
    assert cycles(unit_graph(graph)) == []


def test_imports_follow_the_layer_order(graph):
    assert against_the_layers(graph) == []


def test_the_walk_sees_function_level_and_relative_imports(tmp_path):
    """The checks above would pass on a graph that missed edges; this one must not."""
    root = tmp_path / "cnnspec"
    for folder in ("training", "lab"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "training" / "api.py").write_text(
        "def train():\n    from cnnspec.lab.lsuv import lsuv\n")
    (root / "lab" / "lsuv.py").write_text("from ..training import api\n")
    found = imports_of(root)
    assert found["cnnspec.training.api"] == {"cnnspec.lab.lsuv"}
    assert found["cnnspec.lab.lsuv"] == {"cnnspec.training.api"}
    assert cycles(found) == [["cnnspec.lab.lsuv", "cnnspec.training.api"]]
    assert cycles(unit_graph(found)) == [["cnnspec.lab", "cnnspec.training"]]
    assert against_the_layers(found) == ["cnnspec.training.api -> cnnspec.lab.lsuv"]
