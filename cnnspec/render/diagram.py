"""The network as a Graphviz diagram: every layer with its settings, shapes, parameter count and
how its weights start out.

Nodes are HTML-like tables (Graphviz's "HTML labels"): a header in the layer family's colour
(:mod:`cnnspec.render.palette`) with the name and kind, then the hyper-parameters, a fixed
kernel's numbers, the weight and bias inits with their concrete scale, and the output shape
with the parameter count. Edges carry the shape of the tensor they hold, written in a small
node of its own that the edge runs through (:func:`edge_label`); branches (``add``,
``concat``) come out as the DAG they are because every edge follows a layer's ``inputs``.
Layers of one repeated block (the IR's ``group``) share a cluster, and a run of identical
instances of a block is drawn short (:mod:`cnnspec.render.repeats`): the full diagram shows
the first and last instance with one summary node for those between; ``detail="minimal"``
draws the first instance only, labelled with the run's length, and also folds activations,
batch norms, dropouts and flattens into the layer before them and drops the lines a reader
can infer, so a 30-layer network fits on a screen.
"""
from __future__ import annotations

from dataclasses import field
from html import escape
from pathlib import Path

from cnnspec.check.alike import biases_apart
from cnnspec.check.exact import exact
from cnnspec.check.graph import consumers
from cnnspec.check.lint_catalogue import name_of
from cnnspec.check.lints import (
    constant_weights,
    frozen_copies,
    lasting_alike_filters,
    symmetric_starts,
)
from cnnspec.check.model import CheckedSpec, LayerInfo
from cnnspec.check.signal import Estimate
from cnnspec.errors import RunError, count_text
from cnnspec.held import HELD, HELD_MEANS, NON_TRAINABLE
from cnnspec.kinds import KINDS, is_weighted
from cnnspec.records import record
from cnnspec.render import palette
from cnnspec.render.backend import render_source
from cnnspec.render.kernel_table import is_fixed, kernels_html
from cnnspec.render.layer_text import (
    compact_hyperparams,
    compact_marks,
    hyperparams,
    is_frozen,
    layer_init_text,
    params_text,
)
from cnnspec.render.repeats import Block, identical_runs
from cnnspec.shapes import shape_text

DETAILS = ("full", "minimal")
RANKDIRS = ("TB", "LR")
INPUT_ID = "input"
# Ids of our own contain a dot, which no layer name can (the grammar's NAME), so they never
# clash with a layer's node or a repeated block's cluster. The network is drawn in a cluster
# under the title, so that the legend can be the graph's own label below it: as a node, the
# legend took a rank of the layout, beside the input, and stretched the input's edge across
# its width.
NETWORK_ID = "cluster_network."
FONT = "Helvetica"
# Layers that only transform values in place (or reshape them): in the minimal diagram they
# are listed in the node of the layer they follow instead of getting a node of their own.
FOLDABLE_FAMILIES = ("activation", "norm", "dropout", "reshape")
# An edge's label is a node of its own (:func:`edge_label`), not the edge's ``label``: dot
# keeps a node out of the clusters it is not in, but the place it makes for an edge's label
# (a virtual node) it lets into them, and a shortcut into a residual block, drawn left to
# right, had its shape on the block's dashed border. The node takes a rank between its edge's
# ends as dot's own label does, with the rank gap below: dot halves the gap when edges have
# labels, its nodes do not.
EDGE_COLOUR = "#666666"
LABEL_COLOUR = "#555555"
LABEL_PORT = "line"
LABEL_SUFFIX = ".label"
RANKSEP = "0.15"


@record
class Unit:
    """One diagram node: a layer and, in the minimal diagram, the layers folded into it."""

    layers: list[LayerInfo] = field(default_factory=list)

    @property
    def head(self) -> LayerInfo:
        return self.layers[0]

    @property
    def last(self) -> LayerInfo:
        return self.layers[-1]

    @property
    def node_id(self) -> str:
        return self.head.name

    @property
    def group(self) -> str | None:
        return self.head.ir.get("group")


def units(checked: CheckedSpec, detail: str = "full",
          readers: dict[str, list[str]] | None = None) -> list[Unit]:
    """The diagram's nodes in layer order.

    In the minimal diagram a foldable layer joins the unit before it when it reads that unit's
    last layer, is its only reader, and sits in the same repeated block; so every folded
    layer's output goes nowhere but the next layer of its unit, and edges between units stay
    exact. ``readers``: the layers that read each layer (:func:`cnnspec.check.graph.consumers`
    of the spec, built here when not given).
    """
    readers = consumers(checked.spec) if readers is None else readers
    out: list[Unit] = []
    for layer in checked.layers:
        previous = out[-1] if out else None
        if (detail == "minimal" and previous is not None
                and KINDS[layer.kind].family in FOLDABLE_FAMILIES
                and layer.inputs == [previous.last.name]
                and len(readers.get(previous.last.name, ())) == 1
                and layer.ir.get("group") == previous.group):
            previous.layers.append(layer)
        else:
            out.append(Unit([layer]))
    return out


def _row(text: str, size: int = 9, align: str = "left", colour: str | None = None) -> str:
    font = f'<font point-size="{size}"' + (f' color="{colour}"' if colour else "") + ">"
    return f'<tr><td align="{align}">{font}{escape(text)}</font></td></tr>'


def _header(unit: Unit, frozen: bool) -> str:
    head = unit.head
    kinds = " + ".join([head.kind] + [layer.kind for layer in unit.layers[1:]])
    fill = palette.FROZEN_FILL if frozen else palette.fill(head.kind)
    lock = f'  <font color="#555555">{HELD}</font>' if frozen else ""
    return (f'<tr><td bgcolor="{fill}" align="center"><font point-size="11">'
            f"<b>{escape(head.name)}</b>  {escape(kinds)}{lock}</font></td></tr>")


# Shown under the layers of check's kept warnings that their filters are copies (the two lints
# below: frozen copies are frozen-copies' warning, other identical starts identical-filters'),
# so that the diagram marks a layer where check warns of it and nowhere else (a warning
# silenced by --ignore or a spec's comment is left out here too): their filters start as copies
# of each other (check.lints.symmetric_starts), and where they stay copies
# (check.lints.lasting_alike_filters, which init-report's "same filters" column reads too:
# nothing after them tells them apart, their weights never change, or they are frozen) "and
# stay so". Where drawn biases differ, the copies are the filters' weights
# (check.alike.biases_apart).
COPIES_LINTS = frozenset({name_of(constant_weights), name_of(frozen_copies)})
SYMMETRY_WARNING = "the {} start identical"
SYMMETRY_STAYS = " and stay so"
WARNING_COLOUR = "#b2182b"


def _symmetry_rows(layer: LayerInfo, symmetric: bool) -> list[str]:
    """The warning that the filters of ``layer`` start identical (``symmetric``: and stay so),
    with what alone sets them apart where its biases are drawn, worded as `cnnspec check`
    words it."""
    apart = biases_apart(layer)
    noun = KINDS[layer.kind].noun
    text = SYMMETRY_WARNING.format(f"{noun}' weights" if apart else noun)
    rows = [text + (SYMMETRY_STAYS if symmetric else "")] + ([apart] if apart else [])
    return [_row(row, colour=WARNING_COLOUR) for row in rows]


def _warned_copies(checked: CheckedSpec) -> set[str]:
    """The layers that check's kept warnings of :data:`COPIES_LINTS` are about, with the
    copies of a repeat block a folded one holds for."""
    return {name for warning in checked.warnings if warning.lint in COPIES_LINTS
            for name in (*warning.about, *warning.copies)}


def _init_rows(layer: LayerInfo, with_bias: bool, symmetric: bool | None) -> list[str]:
    rows = []
    if layer.weight_init is not None:
        rows.append(_row("W: " + layer_init_text(layer, "weight")))
        if symmetric is not None:
            rows += _symmetry_rows(layer, symmetric)
        if is_fixed(layer.weight_init):
            kernels = kernels_html(layer)
            if kernels:
                rows.append(f'<tr><td align="center">{kernels}</td></tr>')
    # a norm's shift is its bias: shown as a conv's is (a weighted kind without one: "none")
    if with_bias and (layer.bias_init is not None or is_weighted(layer.kind)):
        rows.append(_row("b: " + (layer_init_text(layer, "bias") if layer.bias_init is not None
                                  else "none")))
    return rows


def _footer(unit: Unit) -> str:
    parts = ["out " + shape_text(unit.last.output_shape)]
    params = sum(layer.params for layer in unit.layers)
    if params:
        parts.append(f"{count_text(params)} params")
    return _row(",  ".join(parts), size=9, colour="#333333")


def full_label(layer: LayerInfo, symmetric: bool | None = None) -> str:
    """The HTML label of one layer in the full diagram; ``symmetric`` adds the warning that its
    filters start identical (True: and stay so, nothing after it telling them apart)."""
    frozen = is_frozen(layer)
    rows = [_header(Unit([layer]), frozen)]
    rows += [_row(text) for text in hyperparams(layer)]
    rows += _init_rows(layer, with_bias=True, symmetric=symmetric)
    footer = ["out " + shape_text(layer.output_shape)]
    if layer.params:
        footer.append(params_text(layer))
    rows.append(_row(",  ".join(footer), colour="#333333"))
    return _table(rows, frozen, layer.kind)


def minimal_label(unit: Unit, symmetric: bool | None = None) -> str:
    """The HTML label of one unit in the minimal diagram: header, one line of settings, the
    weight init (the point of the picture), and output shape with parameter count."""
    frozen = any(is_frozen(layer) for layer in unit.layers)
    rows = [_header(unit, frozen)]
    setting = compact_hyperparams(unit.head)
    if setting:
        rows.append(_row(setting))
    if is_weighted(unit.head.kind):
        rows += _init_rows(unit.head, with_bias=False, symmetric=symmetric)
    rows.append(_footer(unit))
    return _table(rows, frozen, unit.head.kind)


def _table(rows: list[str], frozen: bool, kind: str) -> str:
    colour = palette.FROZEN_LINE if frozen else palette.line(kind)
    style = ' style="dashed"' if frozen else ""
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" '
            f'color="{colour}" bgcolor="white"{style}>{"".join(rows)}</table>>')


def _input_label(checked: CheckedSpec) -> str:
    rows = [(f'<tr><td bgcolor="{palette.fill("input")}"><font point-size="11"><b>input</b>'
            f"</font></td></tr>"), _row(shape_text(checked.input_shape), align="center")]
    return _table(rows, False, "input")


def legend_label(checked: CheckedSpec, unit_list: list[Unit],
                 extra: list[str] | None = None) -> str:
    """A small key: the colour of each layer family the nodes show (a node is coloured by
    its first layer: the minimal diagram's activations and dropouts folded into a conv show
    none of theirs), and what the marks mean."""
    seen = list(dict.fromkeys(palette.family(unit.head.kind) for unit in unit_list))
    cells = "".join(
        f'<td bgcolor="{palette.FAMILIES[name][0]}"><font point-size="9">{escape(name)}'
        f"</font></td>" for name in seen)
    inits = " ".join(layer_init_text(layer, "weight") for layer in checked.layers)
    notes = ["edge: tensor shape C x H x W, or one number: a flat tensor's values"]
    if "σ=" in inits:
        notes.append("σ: std of the initial weights")
    if "U(±" in inits:
        notes.append("U(±a): uniform on [-a, a]")
    if any(is_frozen(layer) for layer in checked.layers):
        notes.append(f"dashed grey: {HELD}, {HELD_MEANS}")
    notes += extra or []
    width = max(len(seen), 1)
    rows = [f'<tr><td colspan="{width}"><font point-size="10"><b>legend</b></font></td></tr>',
            f"<tr>{cells}</tr>"]
    rows += [f'<tr><td colspan="{width}" align="left"><font point-size="9">{escape(note)}'
             f"</font></td></tr>" for note in notes]
    return (f'<<table border="1" cellborder="0" cellspacing="2" cellpadding="2" '
            f'color="#bbbbbb">{"".join(rows)}</table>>')


def _title(checked: CheckedSpec) -> str:
    text = f"{checked.spec.name}: {count_text(checked.total_params)} parameters"
    if checked.frozen_params:
        text += f" ({count_text(checked.frozen_params)} {NON_TRAINABLE})"
    return text


@record
class Collapse:
    """How runs of identical blocks are drawn short.

    ``node_of`` sends each hidden layer to the node drawn in its place; ``summaries`` maps the
    first hidden instance's group to the summary node standing for the hidden instances (full
    diagram); ``labels`` overrides cluster labels (minimal diagram: ``body_1 … body_28``).
    """

    node_of: dict[str, str] = field(default_factory=dict)
    summaries: dict[str, tuple[str, str]] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # lines for the legend


def collapse_plan(checked: CheckedSpec, unit_list: list[Unit], detail: str) -> Collapse:
    """Full: runs of 3 or more keep their first and last instance and a summary node
    (``body_2..body_28``) for the rest. Minimal: runs of 2 or more keep the first instance, which
    stands for all."""
    plan = Collapse()
    unit_of = {layer.name: unit for unit in unit_list for layer in unit.layers}
    if detail == "full":
        for run in identical_runs(checked, min_length=3):
            hidden = run[1:-1]
            node_id = f"{hidden[0].group}..{hidden[-1].group}"
            plan.summaries[hidden[0].group] = (node_id, summary_label(run[0], hidden))
            for block in hidden:
                for layer in block.layers:
                    plan.node_of[layer.name] = node_id
        return plan
    for run in identical_runs(checked, min_length=2):
        first = run[0]
        # Short, so the edge entering the cluster does not cross it.
        plan.labels[first.group] = f"{first.source} x{len(run)}"
        plan.notes.append(f"{first.source} x{len(run)}: {first.group} drawn for "
                          f"{len(run)} identical blocks")
        for block in run[1:]:
            for layer, stand_in in zip(block.layers, first.layers):
                plan.node_of[layer.name] = unit_of[stand_in.name].node_id
    return plan


def summary_label(first: Block, hidden: list[Block]) -> str:
    """The node standing for ``hidden`` instances identical to ``first``."""
    kinds = " + ".join(layer.kind for layer in first.layers)
    params = sum(layer.params for layer in first.layers)
    name = hidden[0].group if len(hidden) == 1 else f"{hidden[0].group} … {hidden[-1].group}"
    more = "1 more block" if len(hidden) == 1 else f"{len(hidden)} more blocks"
    rows = [(f'<tr><td bgcolor="{palette.FAMILIES["input"][0]}"><font point-size="11">'
            f"<b>{escape(name)}</b></font></td></tr>"),
            _row(f"{more} like {first.group}", align="center"),
            _row(f"each: {kinds}", align="center")]
    if params:
        rows.append(_row(f"{count_text(params)} params each", align="center"))
    rows.append(_row("out " + shape_text(hidden[-1].layers[-1].output_shape), align="center",
                     colour="#333333"))
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" '
            f'color="#999999" bgcolor="white" style="rounded">{"".join(rows)}</table>>')


def _clusters(unit_list: list[Unit]) -> list[tuple[str | None, list[Unit]]]:
    """Consecutive units of the same repeated block, as ``(group, units)`` runs."""
    runs: list[tuple[str | None, list[Unit]]] = []
    for unit in unit_list:
        if runs and runs[-1][0] == unit.group:
            runs[-1][1].append(unit)
        else:
            runs.append((unit.group, [unit]))
    return runs


def _marks(unit_list: list[Unit], detail: str) -> list[str]:
    """The legend's lines on the marks of the minimal diagram's compact settings (``/2``,
    ``g16``) that its nodes show; the full diagram writes its settings out."""
    if detail != "minimal":
        return []
    return compact_marks([compact_hyperparams(unit.head) for unit in unit_list])


def build_graph(checked: CheckedSpec, rankdir: str = "TB", detail: str = "full"):
    """The diagram of a checked spec as a :class:`graphviz.Digraph` (not yet rendered).

    ``rankdir`` is ``"TB"`` (top to bottom) or ``"LR"``; ``detail`` is ``"full"`` (a node per
    layer with every setting) or ``"minimal"`` (activations and the like folded in).
    """
    import graphviz  # only when a diagram is drawn: the CLI's start-up stays light

    if rankdir not in RANKDIRS:
        raise RunError(f"unknown rankdir {rankdir!r}", hint="use TB or LR")
    if detail not in DETAILS:
        raise RunError(f"unknown detail {detail!r}", hint="use full or minimal")
    estimate = Estimate.of(checked.spec, checked.layers)  # the layer graph, built once
    unit_list = units(checked, detail, estimate.consumers)
    plan = collapse_plan(checked, unit_list, detail)
    edges = diagram_edges(unit_list, plan, skip_hidden=detail == "minimal")
    home = _label_homes(edges, unit_list, plan)
    graph = graphviz.Digraph(
        name=checked.spec.name,
        graph_attr={"rankdir": rankdir, "fontname": FONT, "nodesep": "0.3", "ranksep": RANKSEP,
                    "label": legend_label(checked, unit_list, _marks(unit_list, detail)
                                          + plan.notes), "labelloc": "b",
                    "bgcolor": "white"},
        node_attr={"shape": "plain", "fontname": FONT},
        edge_attr={"color": EDGE_COLOUR, "arrowsize": "0.6"},
    )
    network = graphviz.Digraph(name=NETWORK_ID)
    network.attr(label=_title(checked), labelloc="t", fontsize="14", peripheries="0")
    network.node(INPUT_ID, label=_input_label(checked))
    # layer -> whether its filters stay identical, for the layers whose filters start so
    facts = exact(checked.spec, estimate)
    lasting = lasting_alike_filters(checked.spec, estimate, facts)
    starting = symmetric_starts(checked.spec, estimate, facts)
    warned = _warned_copies(checked)
    identical = {name: name in lasting for name in [*starting, *lasting] if name in warned}
    for group, members in _clusters(unit_list):
        if group in plan.summaries:
            node_id, text = plan.summaries[group]
            network.node(node_id, label=text)
        shown = [unit for unit in members if unit.head.name not in plan.node_of]
        if not shown:
            continue
        target = network
        if group is not None:
            target = graphviz.Digraph(name=f"cluster_{group}")
            target.attr(label=plan.labels.get(group, group), style="rounded,dashed",
                        color="#999999", fontsize="10", fontcolor="#555555", labeljust="l",
                        peripheries="1")  # the network's cluster, around it, has none
        for unit in shown:
            symmetric = identical.get(unit.head.name)
            text = (full_label(unit.head, symmetric) if detail == "full"
                    else minimal_label(unit, symmetric))
            target.node(unit.node_id, label=text)
        if group is not None:
            _add_labels(target, [edge for edge in edges if home[edge] == group], rankdir)
            network.subgraph(target)
    _add_labels(network, [edge for edge in edges if home[edge] is None], rankdir)
    graph.subgraph(network)
    for edge in edges:
        _add_edge(graph, edge, rankdir)
    return graph


@record(frozen=True)
class Edge:
    """One edge of the diagram: the nodes it joins and the shape of the tensor it carries."""

    source: str
    target: str
    shape: tuple[int, ...]

    @property
    def label_id(self) -> str:
        """The id of the node holding the edge's label: no layer's name holds ``->``."""
        return f"{self.source}->{self.target}{LABEL_SUFFIX}"


def is_edge_label(node_id: str) -> bool:
    """Whether ``node_id`` is the node of an edge's label (:attr:`Edge.label_id`)."""
    return "->" in node_id and node_id.endswith(LABEL_SUFFIX)


def diagram_edges(unit_list: list[Unit], plan: Collapse, skip_hidden: bool) -> list[Edge]:
    """One edge per input of each unit's first layer, with that tensor's shape.

    Hidden layers are replaced by the node drawn in their place; edges that would then join a
    node to itself, or repeat an edge already drawn, are left out. With ``skip_hidden`` (the
    minimal diagram) edges into hidden layers are left out too: the instance drawn already
    shows that wiring.
    """
    unit_of = {layer.name: unit for unit in unit_list for layer in unit.layers}

    def node_of(name: str) -> str:
        if name == INPUT_ID:
            return INPUT_ID
        return plan.node_of.get(name, unit_of[name].node_id)

    edges: dict[tuple[str, str], Edge] = {}
    for unit in unit_list:
        head = unit.head
        if skip_hidden and head.name in plan.node_of:
            continue
        target = node_of(head.name)
        for name, shape in zip(head.inputs, head.input_shapes):
            source = node_of(name)
            if source != target and (source, target) not in edges:
                edges[source, target] = Edge(source, target, tuple(shape))
    return list(edges.values())


def _label_homes(edges: list[Edge], unit_list: list[Unit],
                 plan: Collapse) -> dict[Edge, str | None]:
    """The repeated block whose cluster holds each edge's label: the block of both its ends,
    else none (the label sits in the network, outside every block's cluster)."""
    group_of = {unit.node_id: unit.group for unit in unit_list
                if unit.head.name not in plan.node_of}  # input and summaries: in none
    homes = {}
    for edge in edges:
        group = group_of.get(edge.source)
        homes[edge] = group if group == group_of.get(edge.target) else None
    return homes


def _add_labels(subgraph, edges: list[Edge], rankdir: str) -> None:
    for edge in edges:
        subgraph.node(edge.label_id, label=edge_label(edge, rankdir))


def edge_label(edge: Edge, rankdir: str) -> str:
    """The HTML label of an edge's label node: a cell as thin as the edge and filled in its
    colour, which the edge runs through (the port ``line``), drawing it across the node, and
    the tensor's shape beside it: on the right of a downward edge, above a rightward one."""
    line = f'<td port="{LABEL_PORT}" width="1" height="1" bgcolor="{EDGE_COLOUR}"></td>'
    text = (f'<td cellpadding="2"><font point-size="8" color="{LABEL_COLOUR}">'
            f"{escape(shape_text(edge.shape))}</font></td>")
    rows = f"<tr>{line}{text}</tr>" if rankdir == "TB" else f"<tr>{text}</tr><tr>{line}</tr>"
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">{rows}'
            f"</table>>")


def _add_edge(graph, edge: Edge, rankdir: str) -> None:
    """The edge drawn in two halves, into its label's node and out of it."""
    entry, leave = ("n", "s") if rankdir == "TB" else ("w", "e")
    graph.edge(edge.source, f"{edge.label_id}:{LABEL_PORT}:{entry}", arrowhead="none")
    graph.edge(f"{edge.label_id}:{LABEL_PORT}:{leave}", edge.target)


def render_diagram(checked: CheckedSpec, out_path, rankdir: str = "TB",
                   detail: str = "full") -> Path:
    """Draw the diagram to ``out_path``; the format follows the extension (``.svg``, ``.png``,
    ``.pdf`` or ``.dot``). Returns the path written.

    Raises :class:`RunError` if no Graphviz renderer is installed (the ``.dot`` source is then
    written beside ``out_path`` and the message says how to render it).
    """
    out = Path(out_path)
    render_source(build_graph(checked, rankdir, detail).source, out)
    return out
