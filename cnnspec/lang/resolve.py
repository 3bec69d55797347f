"""AST -> IR: expand repeats, name every layer, connect inputs, fill every default.

The rules (docs/ir.md and docs/language.md):

- a layer without ``name:`` is called ``<kind><n>``, n counting the statements of that kind at
  the top level from 1 (the next free number if that name is taken);
- ``conv 16 3x3 relu`` is two layers, the second named ``<conv's name>_relu``;
- ``repeat N as body { ... }`` writes its layers N times; instance i's layers are called
  ``body_<i>_<name>`` (an unnamed layer's name being its kind, or kind+ordinal if the kind
  occurs more than once in the block), with ``group`` ``body_<i>``; inside the block a name
  refers to the same instance's layer, and ``in`` to the instance's input;
- blocks nest: an inner block's layers are called ``<outer>_<i>_<inner>_<j>_<name>``, with
  ``group`` the innermost instance (``<outer>_<i>_<inner>_<j>``); ``in`` is the innermost
  instance's input, and a name refers to the layer of the same instance at each level (the
  innermost block that has it first, then the blocks around it, then the top level);
- a layer's input is the previous layer (``input`` for the first) unless ``<- a, b`` or
  ``add(a, b)`` says otherwise; only layers written earlier may be used, so the graph is acyclic.

Mistakes are collected, and raised together at the end.
"""
from __future__ import annotations

import copy
import re
from collections import Counter
from dataclasses import field
from pathlib import Path

from cnnspec.errors import Span, SpecError, SpecErrors
from cnnspec.init.catalogue import BUILT_IN_DEFAULTS
from cnnspec.init.catalogue import canonical as canonical_init
from cnnspec.ir.datasets import DATASETS, canonical_name, image_shape, with_defaults
from cnnspec.ir.instances import SAME_INSTANCE, in_instance, instance_group
from cnnspec.ir.limits import MAX_LAYERS, MAX_MODEL_NAME, too_many_layers
from cnnspec.ir.migrate import IR_VERSION
from cnnspec.ir.spec import Spec
from cnnspec.kinds.fields import BIAS_INIT_KEY, WEIGHT_INIT_KEY
from cnnspec.lang import values as read
from cnnspec.lang.ast import (
    DefaultStmt,
    Dims,
    InputStmt,
    LayerStmt,
    ListLit,
    ModelStmt,
    Module,
    Num,
    OutputStmt,
    RepeatStmt,
    TrainStmt,
    Value,
    Word,
    describe,
)
from cnnspec.lang.inits import read_bias_init, read_init
from cnnspec.lang.layers import KINDS, ReadLayer, read_kind, read_layer
from cnnspec.lang.suggest import did_you_mean
from cnnspec.lang.syntax_errors import SIZE_FORM
from cnnspec.lang.training import read_training
from cnnspec.records import record
from cnnspec.shapes import CHANNELS_ORDER, channels_first, shape_text

DEFAULT_WEIGHT_INIT = canonical_init({"name": BUILT_IN_DEFAULTS["weight"]})
DEFAULT_BIAS_INIT = canonical_init({"name": BUILT_IN_DEFAULTS["bias"]})
BLOCK_INPUT = "in"  # inside a repeat block: the input of the current instance
RESERVED = {"input", BLOCK_INPUT}
# The example an input line's hint gives where the spec names no data set: MNIST's images.
MNIST_SHAPE = DATASETS["mnist"].image
# Far beyond any network trained here; keeps a typo from making 10^9 layers. Nested blocks:
# the copies of the innermost block, all levels multiplied, are bounded too.
MAX_REPEAT = 1000


def ir_copy(value):
    """A copy of IR data (dicts, lists and scalars) that shares nothing mutable with it, as
    ``copy.deepcopy`` makes, several times faster (a 200-layer spec copies every layer): no
    memo, and no dispatch on types the IR does not hold (anything else goes to deepcopy)."""
    if isinstance(value, dict):
        return {key: ir_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [ir_copy(item) for item in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    return copy.deepcopy(value)


@record(frozen=True)
class Scope:
    """One instance of a block around a layer: its name prefix (``body_2_``), the labels
    written in the block, and the block's name (``body``)."""

    prefix: str
    labels: frozenset[str]
    block: str


@record
class Entry:
    """One layer statement at one place in the expanded network. ``scopes`` are the block
    instances around it, outermost first; ``opens`` the instances (groups) it is the first
    layer of."""

    stmt: LayerStmt
    name: str
    group: str | None = None
    scopes: tuple[Scope, ...] = ()
    opens: tuple[str, ...] = ()


def _later_instance_hint(entry: Entry, name: str) -> str | None:
    """For a block's layer that names a later instance's layer by its full name (`b_2_x` in
    instance 1 of block b): the block's own name, which means each instance's layer."""
    for scope in reversed(entry.scopes):
        written = in_instance(name, scope.block)
        if written is not None:
            number, local = written
            return (f"'{name}' is instance {number}'s '{local}', made after this one; write "
                    f"'{local}' for each instance's own layer ({SAME_INSTANCE})")
    return None


@record
class Header:
    """The statements that are not layers, at most one of each."""

    model: ModelStmt | None = None
    input: InputStmt | None = None
    default: DefaultStmt | None = None
    output: OutputStmt | None = None
    train: TrainStmt | None = None


def model_name_from_file(path: str | None) -> str:
    """The model name of a spec without a ``model`` line: its file's stem, with every character
    the IR's model name does not allow (it names the run folder) replaced by ``_``."""
    stem = Path(path).stem if path else ""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem).lstrip(".-")[:MAX_MODEL_NAME]
    return name or "model"


def no_input_line(path: str | None = None) -> SpecError:
    """The error of a spec with no ``input`` line, at its start. ``fmt`` gives it too for a
    file with no statement at all (empty, or comments alone): no spec to lay out, most likely
    the wrong file or one a failed write emptied."""
    return SpecError("the spec has no input line", span=Span(1, 1), file=path,
                     hint="say the input's channels x height x width, e.g. `input 1x28x28`")


@record
class Resolver:
    path: str | None
    errors: list[SpecError] = field(default_factory=list)
    spans: dict[tuple[str, str | None], Span] = field(default_factory=dict)
    reported_duplicates: set[str] = field(default_factory=set)
    expanded: int = 0  # layer statements expanded so far, each copy a repeat block makes too
    # the top-level repeat blocks by name (`repeat1` unnamed), and the layer statements each
    # has expanded so far: the one that makes most is blamed for passing MAX_LAYERS
    top_blocks: dict[str, RepeatStmt] = field(default_factory=dict)
    expanded_by_block: Counter = field(default_factory=Counter)

    # -- the whole spec ---------------------------------------------------------------------

    def resolve(self, module: Module, text: str | None) -> Spec:
        header, body = self._split(module)
        # read first: an input line's hint gives the shape of the images the spec trains on
        training = read_training(header.train.settings if header.train else [], self.errors,
                                 self.spans, header.train.span.line if header.train else None)
        shape = self._input_shape(header.input, training["data"])
        weight_init, bias_init = self._defaults(header.default)
        entries = self._expand(body)
        layers = self._layers(entries, weight_init, bias_init)
        output = self._output(header.output, layers)
        if header.train is not None:  # the block as a whole: a layer below it is warned of
            self.spans[("train", None)] = header.train.span
        name = self._model_name(header.model)
        self._raise_errors()
        ir = {
            "version": IR_VERSION,
            "name": name,
            "input": {"shape": shape},
            "layers": layers,
            "output": output,
            "training": training,
        }
        return Spec(ir=ir, path=self.path, text=text, spans=self.spans)

    def _raise_errors(self) -> None:
        for err in self.errors:
            if err.file is None:
                err.file = self.path
        # In the order of the file, as a compiler lists them.
        self.errors.sort(key=lambda e: (e.span.line, e.span.column) if e.span else (0, 0))
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise SpecErrors(list(self.errors))

    def _split(self, module: Module) -> tuple[Header, list[LayerStmt | RepeatStmt]]:
        header = Header()
        body: list[LayerStmt | RepeatStmt] = []
        slots = {ModelStmt: "model", InputStmt: "input", DefaultStmt: "default",
                 OutputStmt: "output", TrainStmt: "train"}
        for stmt in module.statements:
            slot = slots.get(type(stmt))
            if slot is None:
                body.append(stmt)
            elif getattr(header, slot) is not None:
                first = getattr(header, slot).span.line
                self.errors.append(SpecError(
                    f"a spec has one '{slot}' {'block' if slot == 'train' else 'line'}, "
                    f"this is the second", span=stmt.span, hint=f"the first is on line {first}"))
            else:
                setattr(header, slot, stmt)
        return header, body

    def _model_name(self, stmt: ModelStmt | None) -> str:
        if stmt is not None and len(stmt.name) > MAX_MODEL_NAME:
            # Collected with the others, so that it names the file as they do.
            self.errors.append(SpecError(
                f"the model name is {len(stmt.name)} characters long, more than "
                f"{MAX_MODEL_NAME}", span=stmt.name_span,
                hint="the model name names the run folder: keep it short"))
        if stmt is not None:
            return stmt.name
        return model_name_from_file(self.path)

    def _input_shape(self, stmt: InputStmt | None, data: dict) -> list[int]:
        if stmt is None:
            self.errors.append(no_input_line())
            return [1, 1, 1]
        self.spans[("input", None)] = stmt.span
        value = stmt.value
        if not isinstance(value, Dims) or len(value.values) != 3:
            listed = _listed_shape(value)
            self.errors.append(SpecError(
                f"the input shape must be channels x height x width, not {describe(value)}",
                span=value.span, rewrite=listed and listed[1],
                hint=listed[0] if listed else f"e.g. {self._input_example(data)}"))
            return [1, 1, 1]
        if min(value.values) < 1:
            self.errors.append(SpecError(f"every input size must be at least 1, not {value.text}",
                                         span=value.span,
                                         hint="channels, height and width count from 1, "
                                         "e.g. `input 1x28x28`"))
            return [1, 1, 1]
        return list(value.values)

    def _input_example(self, data: dict) -> str:
        """An input line, with what it says: the images of the data set the train block
        names, where their shape is known before loading (`data digits`: `input 1x8x8`),
        else MNIST's."""
        named = ("training", "data") in self.spans and canonical_name(data.get("name"))
        shape = image_shape(with_defaults(data)) if named else None
        c, h, w = shape or MNIST_SHAPE
        channels = {1: "one channel", 3: "three channels"}.get(c, f"{c} channels")
        whose = f": the {named} images" if shape else ""
        return f"`input {shape_text((c, h, w))}` ({channels}, {h} x {w} pixels{whose})"

    def _defaults(self, stmt: DefaultStmt | None) -> tuple[dict, dict]:
        """The model-wide weight and bias inits (`default weight X, bias Y`)."""
        weight, bias = DEFAULT_WEIGHT_INIT, DEFAULT_BIAS_INIT
        seen: set[str] = set()
        for setting in stmt.settings if stmt else []:
            if setting.key in seen:
                self.errors.append(SpecError(f"default {setting.key} is given twice",
                                             span=setting.key_span,
                                             hint="say each default once: "
                                             "`default weight INIT, bias INIT`"))
                continue
            seen.add(setting.key)
            try:
                if setting.key == "weight":
                    weight = read_init(setting.value, "the default weight initializer")
                elif setting.key == "bias":
                    bias = read_bias_init(setting.value)
                else:
                    raise SpecError(f"unknown default '{setting.key}'", span=setting.key_span,
                                    hint=_default_hint(setting.key))
                # where a layer's defaulted init came from, for the checker's errors about it
                # ("default" is a keyword, so no layer is called so)
                self.spans[("default", f"{setting.key}_init")] = setting.span
            except SpecError as err:
                self.errors.append(err)
        return weight, bias

    # -- names --------------------------------------------------------------------------------

    def _expand(self, body: list[LayerStmt | RepeatStmt]) -> list[Entry]:
        """Every layer statement at its place in the network, named."""
        entries: list[Entry] = []
        taken = self._explicit_names(body)
        counters: dict[str, int] = {}
        repeats = 0
        for stmt in body:
            if isinstance(stmt, LayerStmt):
                kind = self._kind(stmt)
                counters[kind] = counters.get(kind, 0) + 1
                name = stmt.label or self._fresh(kind, counters[kind], taken)
                self._count_expanded(stmt, ())
                entries.append(Entry(stmt, name))
                continue
            repeats += 1
            entries += self._expand_repeat(stmt, repeats, taken)
        return entries

    def _kind(self, stmt: LayerStmt) -> str:
        try:
            return read_kind(stmt.head)
        except SpecError:
            return stmt.head.name  # reported when the layer is read

    def _fresh(self, kind: str, n: int, taken: set[str]) -> str:
        while f"{kind}{n}" in taken:
            n += 1
        taken.add(f"{kind}{n}")
        return f"{kind}{n}"

    def _explicit_names(self, body: list[LayerStmt | RepeatStmt]) -> set[str]:
        """Names the user wrote at one level (the top, or a block's); duplicates and reserved
        names reported, in nested blocks too."""
        first: dict[str, Span] = {}
        for stmt in body:
            if isinstance(stmt, RepeatStmt):
                self._explicit_names(stmt.layers)
                continue
            self._check_labels([stmt], first)
        return set(first)

    def _check_labels(self, stmts: list[LayerStmt], first: dict[str, Span]) -> None:
        for stmt in stmts:
            if stmt.label is None:
                continue
            if stmt.label in RESERVED:
                self.errors.append(SpecError(
                    f"'{stmt.label}' is reserved and cannot name a layer", span=stmt.label_span,
                    hint="`input` is the network's input; `in` a repeat block's input"))
            elif stmt.label in first:
                self.reported_duplicates.add(stmt.label)
                self.errors.append(SpecError(
                    f"duplicate layer name '{stmt.label}'", span=stmt.label_span,
                    hint=f"'{stmt.label}' is already defined on line "
                    f"{first[stmt.label].line}; pick another name"))
            else:
                first[stmt.label] = stmt.label_span

    def _expand_repeat(self, stmt: RepeatStmt, index: int, taken: set[str],
                       outer: tuple[Scope, ...] = (), copies: int = 1) -> list[Entry]:
        """The layers of block ``stmt`` (the ``index``-th block at its level) in each of its
        instances; ``outer`` are the instances around it, ``copies`` how many there are."""
        count = self._repeat_count(stmt, copies)
        if count is None:
            return []
        if not stmt.layers:  # it would add nothing, and silently: a body was meant
            end = stmt.name_span or stmt.count.span
            self._error(SpecError(
                "a repeat block with no layers repeats nothing",
                span=Span(stmt.span.line, stmt.span.column, end.end_line or end.line,
                          end.end_column or end.column),
                hint="write the layers to repeat between '{' and '}', one to a line, e.g. "
                     "`conv 16 3x3 pad same relu`, or remove the block"))
            return []
        block = (outer[-1].prefix if outer else "") + (stmt.name or f"repeat{index}")
        if not outer:
            self.top_blocks[block] = stmt
        local = self._local_names(stmt.layers)
        labels = frozenset(s.label for s in stmt.layers
                           if isinstance(s, LayerStmt) and s.label)
        entries = []
        for i in range(1, count + 1):
            group = instance_group(block, i)
            scopes = (*outer, Scope(group + "_", labels, block))
            instance: list[Entry] = []
            blocks = 0
            for member, name in zip(stmt.layers, local):
                if isinstance(member, RepeatStmt):
                    blocks += 1
                    instance += self._expand_repeat(member, blocks, taken, scopes,
                                                    copies * count)
                else:
                    self._count_expanded(member, scopes)
                    instance.append(Entry(member, scopes[-1].prefix + name, group, scopes))
            if instance:
                instance[0].opens = (group, *instance[0].opens)
            entries += instance
        return entries

    def _count_expanded(self, stmt: LayerStmt, scopes: tuple[Scope, ...]) -> None:
        """Count one more layer statement expanded (``scopes``: the block instances around
        it), and stop at once past :data:`MAX_LAYERS` (each statement makes a layer at least):
        a long block in `repeat 1000` would otherwise make millions before any check could
        refuse them."""
        self.expanded += 1
        if scopes:
            self.expanded_by_block[scopes[0].block] += 1
        if self.expanded > MAX_LAYERS:
            self._stop_at_too_many_layers(stmt, self.expanded_by_block)

    def _stop_at_too_many_layers(self, stmt: LayerStmt, by_block: Counter) -> None:
        """Refuse the network at the count of the top-level repeat block that makes most of
        its layers (``by_block``: how many each makes, by name), the count to lower; at
        ``stmt``, the statement that passed the limit, when no block makes any."""
        why = ("repeat blocks copy their layers (nested counts multiply), and "
               "`conv 8 3x3 relu` makes two")
        if not by_block:
            error = SpecError(too_many_layers(), span=stmt.decl_span,
                              hint=f"here the limit is passed: {why}")
        else:
            block, made = by_block.most_common(1)[0]
            repeat = self.top_blocks[block]
            error = SpecError(too_many_layers(), span=repeat.count.span,
                              hint=f"the repeat block '{block}' makes at least {made:,} "
                                   f"of them: lower its count; {why}")
        self.errors.append(error)
        self._raise_errors()

    def _repeat_count(self, stmt: RepeatStmt, copies: int) -> int | None:
        """A block's count, checked (None after an error); ``copies`` is how many instances
        of the blocks around it there are."""
        hint = ("the count is how many copies of the block to chain, e.g. "
                "`repeat 3 as stage {`")
        try:
            count = read.positive_int(stmt.count, "the repeat count", hint=hint)
            if count > MAX_REPEAT:
                raise SpecError(f"the repeat count must be at most {MAX_REPEAT}, not {count}",
                                span=stmt.count.span, hint=hint)
            if count * copies > MAX_REPEAT:
                raise SpecError(f"the repeat count {count} inside {copies:,} copies of the "
                                f"blocks around it makes {count * copies:,} copies, more "
                                f"than {MAX_REPEAT}", span=stmt.count.span,
                                hint="nested counts multiply; make one of them smaller")
        except SpecError as err:
            self._error(err)  # an inner block is read once per outer instance: report once
            return None
        return count

    def _local_names(self, stmts: list[LayerStmt | RepeatStmt]) -> list[str | None]:
        """Names inside a block: the label, else the kind (numbered if it occurs twice);
        None for a nested block."""
        kinds = [self._kind(s) if isinstance(s, LayerStmt) else None for s in stmts]
        names, counts = [], {}
        for stmt, kind in zip(stmts, kinds):
            if kind is None:
                names.append(None)
                continue
            counts[kind] = counts.get(kind, 0) + 1
            if stmt.label:
                names.append(stmt.label)
            elif sum(1 for s, k in zip(stmts, kinds) if k == kind and not s.label) == 1:
                names.append(kind)
            else:
                names.append(f"{kind}{counts[kind]}")
        return names

    # -- layers ---------------------------------------------------------------------------------

    def _layers(self, entries: list[Entry], weight_init: dict, bias_init: dict) -> list[dict]:
        all_names = self._all_names(entries)
        defined: dict[str, Span] = {}
        read_cache: dict[int, ReadLayer | None] = {}
        layers: list[dict] = []
        prev = "input"
        block_inputs: dict[str, str] = {}  # each block instance's input
        by_block: Counter = Counter()  # the layers each top-level repeat block makes
        for entry in entries:
            for group in entry.opens:
                block_inputs[group] = prev
            block_input = block_inputs.get(entry.group, "input")
            layer = self._read_once(entry, read_cache)
            if layer is None:
                defined[entry.name] = entry.stmt.decl_span
                prev = entry.name
                continue
            inputs = self._inputs(entry, layer, prev, block_input, defined, all_names)
            made_before = len(layers)
            layers.append(self._ir_layer(entry, layer, inputs, weight_init, bias_init))
            self._record_spans(entry, layer)
            defined[entry.name] = entry.stmt.decl_span
            prev = entry.name
            if layer.norm is not None:
                prev = self._norm_layer(entry, layer, layers, defined)
            if layer.activation is not None:
                prev = self._activation_layer(entry, layer, prev, layers, defined)
            if entry.scopes:
                by_block[entry.scopes[0].block] += len(layers) - made_before
            if len(layers) > MAX_LAYERS:  # its activation and norm layers passed the limit
                self._stop_at_too_many_layers(entry.stmt, by_block)
        self._check_unique(layers)
        return layers

    def _check_unique(self, layers: list[dict]) -> None:
        """Generated names (`conv1_relu`, `body_2_conv`) may meet a name the user wrote."""
        seen: set[str] = set()
        for layer in layers:
            name = layer["name"]
            span = self.spans.get((name, None))
            # A label written twice in a block is reported once, at the label; not again for
            # each instance's (prefixed) name, nor for the activation or norm its statement
            # names after it (`conv1: conv 8 3x3 relu` twice: conv1_relu twice too).
            told = name in self.reported_duplicates or any(
                e.message.startswith("duplicate") and e.span is not None and span is not None
                and e.span.line == span.line for e in self.errors)
            if name in seen and not told:
                self._error(SpecError(
                    f"two layers are called '{name}'", span=self.spans.get((name, None)),
                    hint="names are generated for activations (`<layer>_relu`), unnamed layers "
                    "(`<kind><n>`) and repeat blocks (`<block>_<i>_<name>`); rename one"))
            seen.add(name)

    def _all_names(self, entries: list[Entry]) -> dict[str, Span]:
        """Every layer name with its declaration, to tell 'later' from 'undefined'."""
        names = {}
        for entry in entries:
            names.setdefault(entry.name, entry.stmt.decl_span)
        return names

    def _read_once(self, entry: Entry, cache: dict[int, ReadLayer | None]) -> ReadLayer | None:
        """Read a statement once even if a repeat uses it many times (one error, not N)."""
        key = id(entry.stmt)
        if key not in cache:
            try:
                cache[key] = read_layer(entry.stmt, f"'{entry.stmt.label or entry.name}'")
            except SpecError as err:
                self.errors.append(err)
                cache[key] = None
        return cache[key]

    def _inputs(self, entry: Entry, layer: ReadLayer, prev: str, block_input: str,
                defined: dict[str, Span], all_names: dict[str, Span]) -> list[str]:
        stmt = entry.stmt
        refs = layer.refs
        if stmt.inputs is not None and refs:
            self._error(SpecError(f"the inputs of {entry.name} are given twice",
                                  span=stmt.inputs[0].span,
                                  hint=f"write either {layer.kind}(a, b) or {layer.kind} <- a, b"))
        refs = refs or stmt.inputs or []
        kind = KINDS[layer.kind]
        if kind.merge and len(refs) < 2:
            self._error(SpecError(
                f"{layer.kind} needs at least two inputs", span=stmt.head.span,
                hint=f"name them: {layer.kind}(a, b) or {layer.kind} <- a, b"))
            return [self._ref_name(entry, r, block_input) for r in refs] or [prev]
        if not kind.merge and len(refs) > 1:
            self._error(SpecError(
                f"a {layer.kind} layer takes one input, got {len(refs)}", span=refs[1].span,
                hint="combine several inputs first with add(...) or concat(...)"))
            refs = refs[:1]
        if not refs:
            return [prev]
        return [self._check_ref(entry, r, block_input, defined, all_names) for r in refs]

    def _ref_name(self, entry: Entry, ref: Word, block_input: str,
                  defined: dict[str, Span] | None = None) -> str:
        """The layer a reference names. Inside a block, a label of the block, or a generated
        name of this instance's earlier layers (`conv`, `a_relu`), is that instance's layer;
        in nested blocks the innermost that has the name decides."""
        if entry.group is not None and ref.name == BLOCK_INPUT:
            return block_input
        for scope in reversed(entry.scopes):
            if ref.name in scope.labels or (defined and scope.prefix + ref.name in defined):
                return scope.prefix + ref.name
        return ref.name

    def _check_ref(self, entry: Entry, ref: Word, block_input: str, defined: dict[str, Span],
                   all_names: dict[str, Span]) -> str:
        name = self._ref_name(entry, ref, block_input, defined)
        if name == "input" or name in defined:
            return name
        if ref.name == BLOCK_INPUT:
            self._error(SpecError("'in' (a block's input) is only defined inside a repeat block",
                                  span=ref.span, hint="refer to the layer by its name"))
        elif name in all_names:
            self._error(SpecError(
                f"layer '{ref.name}' is used before it is defined (line "
                f"{all_names[name].line})", span=ref.span,
                hint=_later_instance_hint(entry, ref.name) or "a layer may only use layers "
                "written before it (this also rules out cycles); move this layer below it"))
        elif not self._told(f"undefined layer '{ref.name}'", ref.span):
            # the hint once, at the first copy of a block's line: for every copy, its difflib
            # scores against every layer above were quadratic in the block's copies (59,598
            # comparisons for 99 copies of 6 layers)
            self._error(SpecError(f"undefined layer '{ref.name}'", span=ref.span,
                                  hint=did_you_mean(ref.name, ["input", *defined],
                                                    "layers defined above")))
        return name

    def _error(self, err: SpecError) -> None:
        # A statement inside a repeat is checked once per instance; report it once.
        if not self._told(err.message, err.span):
            self.errors.append(err)

    def _told(self, message: str, span: Span | None) -> bool:
        """Whether an error of ``message`` at ``span`` is reported already."""
        return any((e.message, e.span) == (message, span) for e in self.errors)

    def _ir_layer(self, entry: Entry, layer: ReadLayer, inputs: list[str], weight_init: dict,
                  bias_init: dict) -> dict:
        fields = dict(layer.fields)
        if WEIGHT_INIT_KEY in fields:
            defaulted = []
            if fields[WEIGHT_INIT_KEY] is None:
                fields[WEIGHT_INIT_KEY] = weight_init
                defaulted.append(WEIGHT_INIT_KEY)
            if not fields["bias"]:
                fields[BIAS_INIT_KEY] = None
            elif fields[BIAS_INIT_KEY] is None:
                fields[BIAS_INIT_KEY] = bias_init
                defaulted.append(BIAS_INIT_KEY)
            fields["default_inits"] = defaulted
        # A copy per layer: repeat instances share one ReadLayer, layers share the defaults.
        return ir_copy({"name": entry.name, "kind": layer.kind, "inputs": inputs,
                        "group": entry.group, **fields})

    def _record_spans(self, entry: Entry, layer: ReadLayer) -> None:
        self.spans[(entry.name, None)] = entry.stmt.decl_span
        for field_name, span in layer.spans.items():
            self.spans[(entry.name, field_name)] = span
        if entry.stmt.inputs:
            first, last = entry.stmt.inputs[0].span, entry.stmt.inputs[-1].span
            self.spans[(entry.name, "inputs")] = Span(first.line, first.column, last.end_line,
                                                      last.end_column)
        elif layer.refs:
            self.spans[(entry.name, "inputs")] = entry.stmt.head.span
        # each input where it is written, for a check that concerns one of them
        for i, ref in enumerate(entry.stmt.inputs or layer.refs):
            self.spans[(entry.name, f"inputs[{i}]")] = ref.span

    def _norm_layer(self, entry: Entry, layer: ReadLayer, layers: list[dict],
                    defined: dict[str, Span]) -> str:
        """`conv 16 3x3 bn relu`: the batch norm as its own layer with its defaults, named
        ``<conv's name>_<the word written>`` (``conv1_bn``)."""
        kind, word, span = layer.norm
        name = f"{entry.name}_{word}"
        layers.append({"name": name, "kind": kind, "inputs": [entry.name], "group": entry.group,
                       **ir_copy(KINDS[kind].fields)})
        self.spans[(name, None)] = span
        defined[name] = span
        return name

    def _activation_layer(self, entry: Entry, layer: ReadLayer, source: str, layers: list[dict],
                          defined: dict[str, Span]) -> str:
        """`conv 16 3x3 relu`: the relu as its own layer after ``source`` (the conv, or its
        norm), named after the conv."""
        kind, params, span = layer.activation
        name = f"{entry.name}_{kind}"
        layers.append({"name": name, "kind": kind, "inputs": [source], "group": entry.group,
                       **params})
        self.spans[(name, None)] = span
        for field_name in params:  # e.g. the slope of `leaky_relu(0.2)`
            self.spans[(name, field_name)] = span
        defined[name] = span
        return name

    # -- output ---------------------------------------------------------------------------------

    def _output(self, stmt: OutputStmt | None, layers: list[dict]) -> str | None:
        names = [layer["name"] for layer in layers]
        if not names:
            if not self.errors:
                self.errors.append(SpecError("the spec has no layers", span=Span(1, 1),
                                             hint="add layers below the input line, "
                                             "e.g. `flatten` then `dense 10`"))
            return None
        if stmt is None:
            return names[-1]
        if stmt.name not in names:
            self.errors.append(SpecError(f"output names an undefined layer '{stmt.name}'",
                                         span=stmt.name_span,
                                         hint=did_you_mean(stmt.name, names, "layers")))
            return names[-1]
        self.spans[("output", None)] = stmt.span
        return stmt.name


def _default_hint(key: str) -> str:
    """The hint for an unknown default: another library's name of an initializer (Keras'
    kernel_initializer, `init`) rewritten as the default that sets it, else the closest."""
    from cnnspec.lang.foreign import initializer_option  # only for an unknown default

    option = initializer_option(key)
    if option is not None:
        return (f"{key} is `default {option} INIT` here, e.g. `default weight "
                f"{BUILT_IN_DEFAULTS['weight']}, bias {BUILT_IN_DEFAULTS['bias']}`")
    return did_you_mean(key, ["weight", "bias"], "defaults")


def _listed_shape(value: Value) -> tuple[str, str] | None:
    """For an input shape written as a list of three sizes (``input [3, 32, 32]``, as Python
    writes one): the hint and the input line it means, channels first (a list that reads as
    height x width x channels, Keras' order, turned); None for another value. A tuple does
    not parse and is told so by the syntax error (:func:`~cnnspec.lang.foreign.
    shape_tuple_line`)."""
    if not isinstance(value, ListLit) or len(value.items) != 3 or not all(
            isinstance(item, Num) and isinstance(item.value, int) and item.value >= 1
            for item in value.items):
        return None
    sizes = tuple(item.value for item in value.items)
    meant = channels_first(sizes) or sizes
    order = f"; {CHANNELS_ORDER}" if meant != sizes else ""
    line = f"input {shape_text(meant)}"
    return f"write `{line}`: {SIZE_FORM}{order}", line
