"""Facts README.md and docs/*.md state whose source is elsewhere, a spec, a registry or a
command's output: each page's copy is held to its source, so the two cannot drift apart."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import PurePosixPath

from readme_blocks import PAGES, README, readme_block

from cnnspec.cli import main
from cnnspec.ir.datasets import DATASETS

ROOT = README.parent


def spec_lines(text: str) -> list[str]:
    """The lines of a spec's text without its comments and blank lines."""
    lines = (line.split("#")[0].rstrip() for line in text.splitlines())
    return [line for line in lines if line.strip()]


def test_readmes_first_spec_is_specs_digits_abridged():
    """README's "A first spec" is specs/digits.cnn with lines left out, none changed: every
    line it shows is the spec's, in the spec's order."""
    block = readme_block("# specs/digits.cnn (abridged)")
    spec = spec_lines((ROOT / "specs" / "digits.cnn").read_text(encoding="utf-8"))
    at = 0
    for line in spec_lines("\n".join(block)):
        assert line in spec[at:], f"README's first spec shows {line!r}, which the spec lacks"
        at = spec.index(line, at) + 1


def test_make_run_trains_as_many_epochs_as_readme_says():
    said = re.search(r"`make run` trains the default spec for (\d+) epochs",
                     README.read_text(encoding="utf-8"))
    assert said, "README no longer says how many epochs make run trains"
    spec = (ROOT / "specs" / "digits.cnn").read_text(encoding="utf-8")
    assert re.search(rf"^\s*epochs {said[1]}$", spec, flags=re.MULTILINE)
    assert "cnnspec train specs/digits.cnn" in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_readme_and_the_data_page_name_every_dataset():
    """A dataset added to the registry is named where a reader looks for the data cnnspec
    trains on: README's paragraph on data and docs/data.md."""
    readme = README.read_text(encoding="utf-8")
    paragraph = readme[readme.index("Data: `digits`"):readme.index("Every command answers")]
    page = (ROOT / "docs" / "data.md").read_text(encoding="utf-8")
    for name in DATASETS:
        assert re.search(rf"[`\s]{name}[`(:]", paragraph), f"README does not name {name}"
        assert re.search(rf"[`\s]{name}[`(:]", page), f"docs/data.md does not name {name}"


def test_the_how_tos_variance_table_is_the_catalogues():
    """docs/how-to-initialise.md's table of the named inits' Var[w]: each row's variance is
    what the catalogue's scheme draws at its defaults, and its paper the scheme's source."""
    from cnnspec.init.catalogue import BY_NAME
    from cnnspec.init.choose import variance_text

    page = (ROOT / "docs" / "how-to-initialise.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \((.+?)\) \| `(.+?)` \|", page, re.MULTILINE)
    assert len(rows) == 3
    for name, source, variance in rows:
        assert (f"Var(w) = {variance}", source) == (variance_text(BY_NAME[name]),
                                                    BY_NAME[name].source), name


def test_the_how_tos_fan_modes_table_is_what_init_report_prints(capsys, monkeypatch):
    """docs/how-to-initialise.md section 2 picks columns from the tables of `init-report
    specs/digits.cnn --input gaussian --init he_normal --init "he_normal(mode=fan_out)"`:
    each row's fans, and each init's w std and act std, to the three digits the tables give
    (read from the command's JSON, whose layout does not move with the tables')."""
    page = (ROOT / "docs" / "how-to-initialise.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(layer +fan_in +fan_out +he_normal: w std.*?)```", page,
                      flags=re.DOTALL)[1]
    monkeypatch.chdir(ROOT)
    assert main(["init-report", "specs/digits.cnn", "--input", "gaussian", "--init",
                 "he_normal", "--init", "he_normal(mode=fan_out)", "--format", "json"]) == 0
    variants = json.loads(capsys.readouterr().out)["variants"]
    fan_in, fan_out = ({layer["name"]: layer for layer in variant["layers"]}
                       for variant in variants)
    for row in block.strip().splitlines()[1:]:
        name, *shown = row.split()
        assert shown == [str(fan_in[name]["fan_in"]), str(fan_in[name]["fan_out"]),
                         f"{fan_in[name]['weight_std']:.3g}", f"{fan_in[name]['act_std']:.3g}",
                         f"{fan_out[name]['weight_std']:.3g}",
                         f"{fan_out[name]['act_std']:.3g}"], name


def test_readmes_quality_bars_are_the_tools(quality):
    """README's table of training quality gives each spec's bar as tools/quality.py holds
    it: the least test accuracy and, where there is one, the most time."""
    tool = quality
    readme = README.read_text(encoding="utf-8")
    for bar in tool.BARS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{bar.spec}`"))
        said = re.search(r"\| >= (\d+)%(?: in < (\d+) (min|s))? \|", row)
        assert said, row
        assert int(said[1]) == round(100 * bar.min_test_acc), row
        seconds = None if said[2] is None else int(said[2]) * (60 if said[3] == "min" else 1)
        assert seconds == bar.max_seconds, row


def test_readmes_parameter_counts_of_imports_are_what_import_says(tmp_path, monkeypatch,
                                                                  capsys):
    """README gives the parameter count Caffe's LeNet and Keras' MNIST convnet import with;
    each is what its `cnnspec import` line, run as README shows it, reports."""
    from readme_blocks import shown_commands

    readme = " ".join(README.read_text(encoding="utf-8").split())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    for source, framework in (("lenet.prototxt", "Caffe's MNIST LeNet"),
                              ("mnist_convnet.json", "Keras' MNIST convnet")):
        said = re.search(rf"{framework} imports with its ([\d,]+) parameters", readme)
        assert said, f"README no longer says what {framework} imports with"
        words = next(words for _, words in shown_commands(README)
                     if words[1] == "import" and words[2].endswith(source))
        assert main(words[1:]) == 0
        assert f", {said[1]} parameters" in capsys.readouterr().err


def test_the_cpu_readmes_quality_run_quotes_is_as_the_tools_print_it():
    """README quoted the CPU as "family 25 model 17, as it prints", which no tool prints."""
    from cnnspec.engine.chunking import cpu_model_in

    readme = " ".join(README.read_text(encoding="utf-8").split())
    quoted = re.search(r"\(`([^`]+)`, as it prints\)", readme)
    assert quoted, "README no longer quotes the CPU tools/quality.py prints"
    model, family, number = re.fullmatch(r"(.+) \(cpu family (\d+), model (\d+)\)",
                                         quoted[1]).groups()
    cpuinfo = f"cpu family\t: {family}\nmodel\t\t: {number}\nmodel name\t: {model}\n"
    assert cpu_model_in(cpuinfo) == quoted[1]


def test_the_onnx_opset_the_pages_give_is_the_exporters():
    """README and docs/interop.md say which opset (and ONNX file version) an export writes;
    both are the exporter's constants."""
    from cnnspec.exporters.onnx_graph import IR_VERSION, OPSET

    readme = " ".join(README.read_text(encoding="utf-8").split())
    interop = " ".join((ROOT / "docs" / "interop.md").read_text(encoding="utf-8").split())
    said = re.search(r"The ONNX model \(opset (\d+);", readme)
    assert said and int(said[1]) == OPSET
    said = re.search(r"\*\*Opset (\d+)\*\* of the default domain \(ONNX IR version (\d+)\)",
                     interop)
    assert said and (int(said[1]), int(said[2])) == (OPSET, IR_VERSION)
    assert f"Any runtime that runs opset {OPSET} runs the model" in interop


def test_readmes_project_layout_names_every_subpackage_and_tool():
    """README's paragraph on the project's layout names each subpackage of cnnspec/ and each
    file of tools/: one added is described where a newcomer looks for it."""
    readme = README.read_text(encoding="utf-8")
    layout = readme[readme.index("## Project layout"):readme.index("**Testing and CI.**")]
    packages = [path.name for path in (ROOT / "cnnspec").iterdir()
                if (path / "__init__.py").is_file()]
    tools = project_files(ROOT, "tools")
    assert len(packages) > 10 and len(tools) > 10
    assert [name for name in packages if f"`{name}/`" not in layout] == []
    assert [name for name in tools if f"`{name}`" not in layout] == []


# The suffixes of the project's tools: what counts as one outside a git checkout.
TOOL_SUFFIXES = (".py", ".sh")


def project_files(root, folder: str) -> list[str]:
    """The names of the files of ``root / folder`` that are part of the project: the ones git
    tracks in a checkout, else those with a suffix of :data:`TOOL_SUFFIXES`; a local file
    (an editor's swap file, a scratch script) is none."""
    try:
        listed = subprocess.run(["git", "ls-files", "--", folder], cwd=root,
                                capture_output=True, text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # no git, or not a checkout
        listed = []
    if listed:
        return sorted(PurePosixPath(path).name for path in listed)
    return sorted(path.name for path in (root / folder).iterdir()
                  if path.is_file() and path.suffix in TOOL_SUFFIXES)


def test_only_the_projects_files_count_as_tools(tmp_path):
    """An untracked file in tools/ failed the layout test, named nowhere in README."""
    (tmp_path / "tools").mkdir()
    for name in ("a.py", "b.sh", ".a.py.swp", "scratch.py"):
        (tmp_path / "tools" / name).write_text("")
    assert project_files(tmp_path, "tools") == ["a.py", "b.sh", "scratch.py"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "tools/a.py", "tools/b.sh"], cwd=tmp_path, check=True)
    assert project_files(tmp_path, "tools") == ["a.py", "b.sh"]


def _limits():
    from cnnspec.check import signal
    from cnnspec.check.gainfit import MATERIAL
    from cnnspec.check.lints import HIGH_MOMENTUM
    from cnnspec.ir.io import MAX_NESTING
    from cnnspec.ir.limits import MAX_INT, MAX_LAYERS, MAX_MODEL_NAME
    from cnnspec.kinds.catalogue import PRELU_INIT
    from cnnspec.lab.defaults import MEASURED_GRID, ROWS
    from cnnspec.lab.lsuv import LSUV_BATCH
    from cnnspec.lab.phase import THEORY_GRID
    from cnnspec.lang.resolve import MAX_REPEAT
    from cnnspec.render.backend import PDF_DPI
    from cnnspec.sourcefile import MAX_SPEC_BYTES
    from cnnspec.sweep.cells import MAX_CELLS

    return [("README.md", r"a `\.pdf` holds a ([\d,]+) dpi picture", PDF_DPI),
            ("README.md", r"One sweep plans at most ([\d,]+) trainings", MAX_CELLS),
            ("README.md", r"a spec larger than ([\d,]+) MiB", MAX_SPEC_BYTES // 2**20),
            ("README.md", r"a count above ([\d,]+) included", MAX_INT),
            ("docs/language.md", r"A network has at most ([\d,]+) layers", MAX_LAYERS),
            ("docs/language.md", r"Each count is at most ([\d,]+)", MAX_REPEAT),
            ("docs/language.md", r"the slopes start at ([\d.]+) whatever the spec's", PRELU_INIT),
            ("docs/how-to-initialise.md", r"where the gain fits \(within ([\d.]+)x", MATERIAL),
            ("docs/how-to-initialise.md", r"`train`/`compare` on the first ([\d,]+) training",
             LSUV_BATCH),
            ("docs/critical-init.md", r"`--grid (\d+)x\d+`", MEASURED_GRID[0]),
            ("docs/critical-init.md", r"`--grid \d+x(\d+)`", MEASURED_GRID[1]),
            ("docs/critical-init.md", r"at most the theory's (\d+)x\d+", THEORY_GRID[0]),
            ("docs/critical-init.md", r"at most the theory's \d+x(\d+)", THEORY_GRID[1]),
            ("docs/critical-init.md", r"`--rows` values \(default (\d+)\)", ROWS),
            ("README.md", r"a signal that shrinks or grows (\d+)x", signal.LIMIT),
            ("docs/how-to-initialise.md", r"has compounded (\d+)x over depth", signal.LIMIT),
            ("docs/language.md", r"warns of a momentum above ([\d.]+)", HIGH_MOMENTUM),
            ("docs/ir.md", r"up to ([\d,]+) of those characters", MAX_MODEL_NAME),
            ("docs/ir.md", r"Whole numbers are at most ([\d,]+)", MAX_INT),
            ("docs/ir.md", r"lists and objects nest at most (\d+) deep", MAX_NESTING)]


def test_the_limits_the_pages_give_are_the_codes():
    """Numbers README and the how-to give for a limit, a size or a start the code declares
    once."""
    for page, pattern, value in _limits():
        text = " ".join((ROOT / page).read_text(encoding="utf-8").split())
        said = re.search(pattern, text)
        assert said, f"{page} no longer says {pattern!r}"
        assert type(value)(said[1].replace(",", "")) == value, (page, said[0], value)


def heading_anchors(page) -> set[str]:
    """The anchors GitHub gives the headings of ``page`` (lower case, punctuation but '-'
    and '_' dropped, spaces as '-'), code blocks' lines aside."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.*)$", text, flags=re.MULTILINE)}


def test_every_link_between_the_pages_reaches_its_file_and_heading():
    """README links to the docs' sections for what it no longer repeats: each link's file
    is there, and so is the heading its anchor names."""
    from readme_blocks import PAGES

    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            path, _, anchor = target.partition("#")
            if re.match(r"\w+:", target):
                continue  # a web address
            linked = page.parent / path if path else page
            if not linked.exists() or (anchor and linked.suffix == ".md"
                                       and anchor not in heading_anchors(linked)):
                broken.append(f"{page.name}: {target}")
    assert broken == []


# The longest line of prose a page holds: its paragraphs are wrapped near 100 characters, a
# line running a little over for a link or a code span kept whole; far beyond, a paragraph
# (or several) was run onto one line (a measurements.md line of 13,112 characters).
LONGEST_PROSE_LINE = 400


def test_the_pages_prose_is_wrapped():
    """Outside fenced blocks and table rows, which are read whole, no line of README.md and
    docs/*.md is a paragraph left unwrapped."""
    long = []
    for page in PAGES:
        fenced = False
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            fenced ^= line.lstrip().startswith("```")
            if not fenced and not line.startswith("|") and len(line) > LONGEST_PROSE_LINE:
                long.append(f"{page.name}:{number}: {len(line)} characters")
    assert not long, long
