"""The parser accepts nothing the IR schema rejects.

Every numeric bound (minimum, exclusiveMinimum, maximum, exclusiveMaximum), string length and
enum in cnnspec/ir/schema.json is found by walking the schema, and each must either have a row in
:data:`WRITTEN` (how the language writes that value) or a reason in :data:`NOT_WRITTEN`. For each
row, the value just outside the schema's bound is written into a spec: the parser must reject it
at that value's line and column, with a hint. The value on the bound (or just inside it) must
parse and its IR must validate. Enums: every member parses and validates; a near-miss is
rejected where it was written. So a ``.cnn`` file never passes the parser only to fail schema
validation in ``cnnspec export``.
"""
from dataclasses import dataclass

import pytest

from cnnspec.errors import SpecError
from cnnspec.ir import training_catalogue as catalogue
from cnnspec.ir.io import schema, validate
from cnnspec.lang import parse

BOUNDS = ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum", "minLength")
INITS = ("weight_init", "bias_init")


@dataclass(frozen=True)
class Constraint:
    where: str  # e.g. "layers.dropout.p", "init.normal.std", "training.data.shapes.size"
    keyword: str  # a bound keyword, or "enum"
    value: object  # the bound, or the enum's members
    type: str | None  # "integer", "number" or "string" for bounds


def _resolve(ref: str) -> dict:
    node = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _branch_tag(rule: dict) -> tuple[str, ...]:
    """The ``kind``/``name`` an ``if``/``then`` branch is for: ("dropout",), ("normal",)."""
    condition = rule.get("if", {}).get("properties", {})
    for key in ("kind", "name"):
        if "const" in condition.get(key, {}):
            return (condition[key]["const"],)
    return ()


def _canonical(path: tuple[str, ...]) -> str:
    """Inits have one definition wherever they occur: `init.<name>.<param>`."""
    for i, part in enumerate(path):
        if part in INITS:
            return ".".join(("init",) + path[i + 1:])
    return ".".join(p for p in path if p != "[]")


def _walk(node, path: tuple[str, ...], refs: tuple[str, ...] = ()):
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, path, refs)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        if node["$ref"] not in refs:  # `numbers` refers to itself
            yield from _walk(_resolve(node["$ref"]), path, refs + (node["$ref"],))
        return
    for keyword in BOUNDS:
        if keyword in node:
            yield Constraint(_canonical(path), keyword, node[keyword], node.get("type"))
    if "enum" in node:
        yield Constraint(_canonical(path), "enum", tuple(node["enum"]), None)
    if "const" in node and path == ("version",):
        yield Constraint("version", "const", node["const"], None)
    for key, sub in node.get("properties", {}).items():
        yield from _walk(sub, path + (key,), refs)
    if "items" in node:
        yield from _walk(node["items"], path + ("[]",), refs)
    for combination in ("anyOf", "oneOf"):
        yield from _walk(node.get(combination, []), path, refs)
    for rule in node.get("allOf", []):
        tag = _branch_tag(rule)
        for branch in ("then", "else"):
            yield from _walk(rule.get(branch, {}), path + tag, refs)
        if "if" not in rule:
            yield from _walk(rule, path, refs)


def constraints() -> list[Constraint]:
    return sorted(set(_walk(schema(), ())), key=lambda c: (c.where, c.keyword))


# -- how the language writes each constrained value ----------------------------------------------

HEAD = "input 1x8x8\n"
TRAIN = HEAD + "flatten\ndense 4\ntrain {\n  %s\n}\n"


def layer(line: str) -> str:
    return HEAD + line + "\n"


def init(expression: str) -> str:
    return layer("conv 4 3 weight " + expression)


def training(line: str) -> str:
    return TRAIN % line


GAINED = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "orthogonal",
          "delta_orthogonal")

# Schema place -> a spec with `{}` where the value goes. A tuple (spec, form) writes the value
# through `form`, e.g. a size inside `1x{}x8`.
WRITTEN: dict[str, str | tuple[str, str]] = {
    "input.shape": ("input {}\nflatten\n", "1x{}x8"),
    **{f"layers.{pool}.{field}": layer(f"{pool} {line}") for pool in ("maxpool", "avgpool")
       for field, line in (("size", "{}"), ("stride", "2 stride {}"), ("padding", "2 pad {}"))},
    "layers.conv.filters": layer("conv {} 3"),
    "layers.conv.kernel": layer("conv 4 {}"),
    "layers.conv.stride": layer("conv 4 3 stride {}"),
    "layers.conv.dilation": layer("conv 4 3 dilation {}"),
    "layers.conv.padding": layer("conv 4 3 pad {}"),
    "layers.conv.groups": layer("conv 4 3 groups {}"),
    **{f"layers.{kind}.{mult}": layer(f"{line} {mult} {{}}")
       for kind, line in (("conv", "conv 4 3"), ("conv_transpose", "conv_transpose 4 3"),
                          ("dense", "flatten\ndense 4"))
       for mult in ("lr_mult", "decay_mult")},
    "layers.conv_transpose.filters": layer("conv_transpose {} 3"),
    "layers.conv_transpose.kernel": layer("conv_transpose 4 {}"),
    "layers.conv_transpose.stride": layer("conv_transpose 4 3 stride {}"),
    "layers.conv_transpose.dilation": layer("conv_transpose 4 3 dilation {}"),
    "layers.conv_transpose.padding": layer("conv_transpose 4 3 pad {}"),
    "layers.conv_transpose.output_pad": layer("conv_transpose 4 3 stride 2 output_pad {}"),
    "layers.conv_transpose.groups": layer("conv_transpose 4 3 groups {}"),
    "layers.gelu.approximate": layer("gelu approximate {}"),
    "layers.upsample.factor": layer("upsample {}"),
    "layers.upsample.mode": layer("upsample 2 {}"),
    "layers.dense.units": layer("flatten\ndense {}"),
    "layers.dropout.p": layer("dropout {}"),
    "layers.elu.alpha": layer("elu {}"),
    "layers.leaky_relu.slope": layer("leaky_relu {}"),
    "layers.batchnorm.eps": layer("batchnorm eps {}"),
    "layers.batchnorm.momentum": layer("batchnorm momentum {}"),
    "layers.layernorm.eps": layer("layernorm eps {}"),
    "layers.groupnorm.eps": layer("groupnorm 1 eps {}"),
    "layers.groupnorm.groups": layer("groupnorm {}"),
    "layers.instancenorm.eps": layer("instancenorm eps {}"),
    "layers.dropout2d.p": layer("dropout2d {}"),
    "layers.kind": layer("{}"),
    "init.name": init("{}"),
    "init.normal.std": init("normal(0, {})"),
    "init.truncated_normal.std": init("truncated_normal(0, {})"),
    "init.variance_scaling.scale": init("variance_scaling(scale={})"),
    "init.variance_scaling.mode": init("variance_scaling(mode={})"),
    "init.variance_scaling.distribution": init("variance_scaling(distribution={})"),
    "init.he_uniform.mode": init("he_uniform(mode={})"),
    "init.he_normal.mode": init("he_normal(mode={})"),
    **{f"init.{name}.gain.value": init(name + "(gain={})") for name in GAINED},
    **{f"init.{name}.gain.nonlinearity": init(name + "(gain={})") for name in GAINED},
    **{f"init.{name}.gain.slope": init(name + "(gain=leaky_relu({}))") for name in GAINED},
    "init.gaussian.sigma": init("gaussian({})"),
    "init.sparse.nonzero": init("sparse(nonzero={})"),
    "init.sparse.std": init("sparse(std={})"),
    "init.lsuv.tol": init("lsuv(tol={})"),
    "init.lsuv.max_iter": init("lsuv(max_iter={})"),
    "training.data.name": training("data {}"),
    "training.data.shapes.size": training("data shapes(size={})"),
    "training.data.shapes.classes": training("data shapes(classes=[{}])"),
    "training.data.shapes.count": training("data shapes(classes=[x, o], count={})"),
    "training.data.shapes.noise": training("data shapes(noise={})"),
    "training.data.npz.path": training("data npz(path={})"),
    "training.preprocess": training("preprocess {}"),
    "training.optimizer.name": training("optimizer {}"),
    **{f"training.{key}.{entry.name}.{arg.name}": training(
        f"{key} {entry.name}({arg.name}={'[{}]' if arg.type in catalogue.LISTS else '{}'})")
       for key in ("optimizer", "schedule", "augment")
       for entry in catalogue.KEYS[key].catalogue.values()
       for arg in entry.args if arg.low is not None or arg.high is not None},
    "training.lr": training("lr {}"),
    "training.warmup": training("warmup {}"),
    "training.clip_norm": training("clip_norm {}"),
    "training.clip_value": training("clip_value {}"),
    "training.label_smoothing": training("label_smoothing {}"),
    "training.class_weights": training("class_weights [{}]"),
    "training.schedule.name": training("schedule {}"),
    "training.augment.name": training("augment [{}]"),
    "training.weight_decay": training("weight_decay {}"),
    "training.batch_size": training("batch {}"),
    "training.epochs": training("epochs {}"),
    "training.cores": training("cores {}"),
    "training.val_split": training("val_split {}"),
    "training.seed": training("seed {}"),
    "training.monitor": training("monitor {}"),
    "training.early_stop": training("early_stop {}"),
    "training.min_delta": training("min_delta {}"),
    "training.loss": training("loss {}"),
}

NOT_WRITTEN = {
    "version": "the resolver writes the IR version; a spec does not",
    "name": "a model name is a NAME token or the file's stem, never empty",
    **{f"layers.{kind}.default_inits": "the resolver marks the inits a layer took from the "
       "model-wide default; a spec does not write it"
       for kind in ("conv", "conv_transpose", "dense")},
}

# Where the parser is stricter than the schema on purpose, so the value on the bound is refused.
STRICTER = {
    ("training.data.shapes.count", "minimum"): "the loader draws at least 5 images per class",
    **{("training.data.shapes." + arg, "maximum"): "the loader draws at most 2^28 pixels in "
       "all" for arg in ("count", "size")},
}

# Enum members written differently in the language, or needing arguments.
SPELLED = {
    "layers.kind": {"conv": "conv 4 3", "conv_transpose": "conv_transpose 4 3",
                    "upsample": "upsample 2",
                    "dense": "flatten\ndense 4", "maxpool": "maxpool 2",
                    "avgpool": "avgpool 2", "dropout": "dropout 0.5",
                    "dropout2d": "dropout2d 0.5", "groupnorm": "groupnorm 1",
                    "add": "add(input, input)", "concat": "concat(input, input)"},
    "init.name": {"constant": "constant(0.5)", "uniform": "uniform(-1, 1)",
                  "normal": "normal(0, 0.1)", "truncated_normal": "truncated_normal(0, 0.1)",
                  "literal": "[[1, 0, 1], [0, 1, 0], [1, 0, 1]]", "gaussian": "gaussian(1)"},
    "training.data.name": {"fashion-mnist": "fashion_mnist", "npz": 'npz(path="a.npz")'},
    # one more class than the one tried: shapes needs two
    "training.data.shapes.classes": {c: f"{c}, {'o' if c != 'o' else 'x'}" for c in
                                     ("x", "plus", "o", "square", "hbar", "vbar", "diag",
                                      "antidiag", "triangle", "diamond")},
}
# A near miss for each enum, rejected where it is written.
WRONG_MEMBER = {"layers.kind": "convv", "init.name": "he_normall", "training.data.name": "cifar",
                "training.data.shapes.classes": "star", "training.optimizer.name": "adamx",
                "training.schedule.name": "cosin", "training.loss": "hinge",
                "training.preprocess": "normalize", "training.monitor": "val_los",
                "layers.gelu.approximate": "tanhh", "training.augment.name": "flop",
                "layers.upsample.mode": "bilinearr"}


def _outside_and_on(c: Constraint):
    """(a value the schema rejects, the nearest value it accepts)."""
    if c.type == "string":
        return '"' + "a" * (c.value - 1) + '"', '"' + "a" * c.value + '"'
    # float32's range bounds a layer's numbers: 0.5 is lost beside 3.4e38, a millionth is not
    step = 1 if c.type == "integer" else max(0.5, abs(c.value) * 1e-6)
    return {"minimum": (c.value - step, c.value),
            "exclusiveMinimum": (c.value, c.value + step),
            "maximum": (c.value + step, c.value),
            "exclusiveMaximum": (c.value, c.value - step)}[c.keyword]


def _spec(where: str, written: str) -> tuple[str, int, int]:
    """The spec text with ``written`` in place (through the row's form), and the 1-based line and
    column where the written token starts."""
    template = WRITTEN[where]
    template, form = template if isinstance(template, tuple) else (template, "{}")
    before = template[:template.index("{}")]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return template.replace("{}", form.replace("{}", written)), line, column


def _rejected_at(text: str, line: int, column: int) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse(text, path="limits.cnn")
    err = info.value
    assert (err.span.line, err.span.column) == (line, column), (text, err.message, err.span)
    assert err.hint, (text, err.message)
    return err


def _accepted(text: str) -> None:
    validate(parse(text, path="limits.cnn").ir)


BOUND_CASES = [c for c in constraints() if c.keyword in BOUNDS and c.where not in NOT_WRITTEN]
ENUM_CASES = [c for c in constraints() if c.keyword == "enum" and c.where not in NOT_WRITTEN]


def test_every_constraint_the_schema_states_is_written_here_or_explained():
    places = {c.where for c in constraints()}
    assert places - set(WRITTEN) - set(NOT_WRITTEN) == set()
    assert set(WRITTEN) - places == set(), "rows for places the schema no longer constrains"
    assert len(BOUND_CASES) > 50 and len(ENUM_CASES) > 15  # the walk does reach the schema


@pytest.mark.parametrize("c", BOUND_CASES, ids=lambda c: f"{c.where}-{c.keyword}")
def test_a_value_outside_a_schema_bound_is_a_parse_error_where_it_is_written(c):
    outside, on = _outside_and_on(c)
    text, line, column = _spec(c.where, str(outside))
    _rejected_at(text, line, column)
    if (c.where, c.keyword) not in STRICTER:
        _accepted(_spec(c.where, str(on))[0])


@pytest.mark.parametrize("c", ENUM_CASES, ids=lambda c: c.where)
def test_every_enum_member_parses_and_a_near_miss_is_refused(c):
    spelled = SPELLED.get(c.where, {})
    for member in c.value:
        _accepted(_spec(c.where, spelled.get(member, member))[0])
    wrong = WRONG_MEMBER.get(c.where, "nonsense")
    text, line, column = _spec(c.where, wrong)
    _rejected_at(text, line, column)


def test_the_stricter_cases_are_still_stricter():
    # If the parser ever stops refusing these, STRICTER is stale and the bound test should run.
    for where, keyword in STRICTER:
        c = next(c for c in BOUND_CASES if (c.where, c.keyword) == (where, keyword))
        with pytest.raises(SpecError):
            parse(_spec(where, str(_outside_and_on(c)[1]))[0])
