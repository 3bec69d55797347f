"""``cnnspec diagram SPEC -o FILE``: draw a spec as a network diagram (format from FILE's
extension: .svg, .png, .pdf or .dot)."""
from __future__ import annotations

from pathlib import Path

import cnnspec
from cnnspec.cli.arguments import (
    add_ignore,
    add_output,
    add_spec,
    output_file,
    refuse_writing_over_inputs,
)
from cnnspec.errors import shown_path

HELP = "draw a spec as a network diagram (.svg, .png, .pdf or .dot)"


def _picture_file(text: str) -> str:
    """The type of ``-o``: a file in a format the renderer writes (its list is read only when
    a diagram is asked for: every command builds this parser, and ``check`` should not load
    the drawing code)."""
    from cnnspec.render.backend import FORMATS

    return output_file(*(f".{f}" for f in FORMATS))(text)


def add_arguments(parser) -> None:
    parser.epilog = (
        "Rendering uses the system's Graphviz `dot` when installed, else graphviz-pure (a "
        "port of dot installed with cnnspec; SVG and PNG; a .pdf is then a 200 dpi image). "
        "With neither, the .dot file is written beside FILE with the command that renders it, "
        "and the exit code is 1. Examples: cnnspec diagram specs/lenet5.cnn -o lenet5.svg; "
        "cnnspec diagram specs/plain30.cnn -o plain30.png --detail minimal")
    add_spec(parser)
    add_output(parser, _picture_file, "where to write the picture; the extension picks the "
               "format", required=True)
    parser.add_argument("--rankdir", choices=("TB", "LR"), default="TB",
                        help="layout direction: top to bottom (default) or left to right")
    parser.add_argument("--detail", choices=("full", "minimal"), default="full",
                        help="full: a node per layer with every setting; minimal: activations "
                             "and the like folded into the layer before them")
    add_ignore(parser)


def run(args) -> int:
    # deferred: Graphviz loads when the command runs (`cnnspec --help` stays fast)
    from cnnspec.render.backend import render_source
    from cnnspec.render.diagram import build_graph

    refuse_writing_over_inputs([("-o", args.output)], [("the spec", args.spec)])
    # drawn, not trained here; a warning it draws (filters that start identical) is left out
    # where check's is
    checked = cnnspec.load(args.spec, for_training=False, ignore=args.ignore)
    out = Path(args.output)
    graph = build_graph(checked, rankdir=args.rankdir, detail=args.detail)
    note = render_source(graph.source, out)
    print(f"wrote {shown_path(out)} ({note})")
    return 0
