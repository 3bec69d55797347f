"""Turning DOT source into a picture without asking the user to install system packages.

The renderer is the system's ``dot`` when it is on PATH (the reference implementation, with
every output format), else ``graphviz-pure``, a port of dot installed from the package index
as one of our dependencies, which takes dot's flags and writes SVG and PNG. It has no PDF
writer, so there a PDF is made from a high-resolution PNG with Pillow (a raster PDF; the
message says so). With neither, the ``.dot`` file is written and :class:`RunError` says how
to render it: asking for a picture and getting none is a failure, even though the graph
itself is kept.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cnnspec.atomic import write_bytes, write_text
from cnnspec.errors import RunError
from cnnspec.records import record

FORMATS = ("svg", "png", "pdf", "dot")
PNG_DPI = 110
# A PDF made from a PNG needs more pixels to print well.
PDF_DPI = 200
_TIMEOUT_S = 120


@record(frozen=True)
class Renderer:
    """A dot-compatible command and the output formats it writes itself."""

    command: str
    formats: tuple[str, ...]

    @property
    def name(self) -> str:
        return Path(self.command).name


def find_renderer() -> Renderer | None:
    """The system's ``dot`` if installed, else ``graphviz-pure`` (also looked for beside the
    running Python, for a virtual environment that is not on PATH), else None."""
    dot = shutil.which("dot")
    if dot:
        return Renderer(dot, ("svg", "png", "pdf"))
    pure = shutil.which("graphviz-pure") or shutil.which(
        "graphviz-pure", path=str(Path(sys.executable).parent))
    if pure:
        return Renderer(pure, ("svg", "png"))
    return None


def output_format(out_path: Path) -> str:
    """The format named by the file's extension; RunError for anything else."""
    fmt = out_path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise RunError(f"cannot tell the picture format of {out_path}",
                       hint="end the output file in " + ", ".join("." + f for f in FORMATS))
    return fmt


def _run(renderer: Renderer, source: str, fmt: str, out_path: Path, dpi: int) -> None:
    """Run the renderer on ``source`` (fed on stdin) writing ``fmt`` to ``out_path``."""
    command = [renderer.command, "-q", f"-T{fmt}", f"-o{out_path}"]
    if fmt == "png":
        command.insert(1, f"-Gdpi={dpi}")
    try:
        result = subprocess.run(command, input=source.encode("utf-8"), capture_output=True,
                                timeout=_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RunError(f"{renderer.name} could not run: {exc}",
                       hint="render the .dot file by hand, e.g. dot -Tsvg FILE.dot -o FILE.svg"
                       ) from exc
    if result.returncode != 0 or not out_path.exists():
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RunError(f"{renderer.name} failed to draw {out_path.name}: "
                       + (detail[-1] if detail else f"exit code {result.returncode}"),
                       hint="try another format (.svg is the most robust) or render the "
                            ".dot file with a system Graphviz")


def _pdf_from_png(renderer: Renderer, source: str, out_path: Path) -> None:
    """A raster PDF: render a PNG at :data:`PDF_DPI` and let Pillow wrap it in a PDF."""
    from PIL import Image  # Pillow loads only to convert a picture

    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "diagram.png"
        _run(renderer, source, "png", png, PDF_DPI)
        with Image.open(png) as image:
            image.convert("RGB").save(out_path, "PDF", resolution=PDF_DPI)


def render_source(source: str, out_path: Path) -> str:
    """Write the DOT ``source`` as the picture ``out_path`` names; returns a one-line note on
    how it was made (e.g. ``drawn with graphviz-pure``) for the user.

    Raises :class:`RunError` when no renderer is installed (after writing the ``.dot`` file
    beside ``out_path``) or when the renderer fails.
    """
    fmt = output_format(out_path)
    _ensure_parent(out_path)
    if fmt == "dot":
        write_text(out_path, source)
        return "wrote the Graphviz source"
    renderer = find_renderer()
    if renderer is None:
        dot_path = out_path.with_suffix(".dot")
        write_text(dot_path, source)
        raise RunError(
            f"no Graphviz renderer found, so no {fmt.upper()} was drawn; the graph is in "
            f"{dot_path}",
            hint=f"pip install graphviz-pure, then run: graphviz-pure -T{fmt} {dot_path} "
                 f"-o {out_path} (or, with Graphviz installed: dot -T{fmt} {dot_path} "
                 f"-o {out_path})")
    # Drawn in a folder of its own and then written into place as run files are: a renderer
    # that cannot open ``out_path`` (a read-only folder) would say so as a failure to draw,
    # and one stopped halfway would leave half a picture where the old one was.
    with tempfile.TemporaryDirectory() as tmp:
        drawn = Path(tmp) / out_path.name
        if fmt in renderer.formats:
            _run(renderer, source, fmt, drawn, PNG_DPI)
            note = f"drawn with {renderer.name}"
        else:
            _pdf_from_png(renderer, source, drawn)
            note = (f"drawn with {renderer.name}, which has no PDF writer: the PDF holds a "
                    f"{PDF_DPI} dpi image (use .svg for a vector picture)")
        write_bytes(out_path, drawn.read_bytes())
    return note


def _ensure_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the folder {path.parent}: {exc.strerror or exc}",
                       hint="check the output path") from exc
