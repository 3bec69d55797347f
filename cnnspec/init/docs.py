"""The tables of initializers generated from the catalogue: docs/language.md's (as the
language writes each init) and docs/ir.md's (the JSON object the IR holds). ``python
tools/generate.py`` writes each between its marker lines; a test fails when a page is stale."""
from __future__ import annotations

import inspect
import json
import textwrap

from cnnspec.errors import float_text
from cnnspec.init.catalogue import (
    ALIASES,
    BUILT_IN_DEFAULTS,
    FOREIGN_NAMES,
    FOREIGN_PARAMS,
    FOREIGN_VALUES,
    INITS,
    PARAM_TYPES,
    REQUIRED,
    Init,
    InitParam,
)
from cnnspec.init.describe import init_json
from cnnspec.init.gains import (
    CALCULATE_GAIN,
    DEFAULT_LEAKY_SLOPE,
    LEAKY_GAIN_TEXT,
    MOMENT_KEEPING,
    gain_text,
    nonlinearity_gain,
)
from cnnspec.markdown import cell

# (table, source) of each generated table, as its marker lines name them.
INIT_TABLE = ("initializers", "cnnspec/init/catalogue.py")
IR_INIT_TABLE = ("IR initializers", "cnnspec/init/catalogue.py")
GAIN_TABLE = ("gains", "cnnspec/init/gains.py")
PAGE_WIDTH = 95  # the width the pages' prose is wrapped to
NO_BREAK = "\u00a0"


def _default(value) -> str:
    return gain_text(value) if isinstance(value, dict) else float_text(value) if isinstance(
        value, float) else str(value)


def _written(init: Init) -> str:
    if init.written:
        return f"`{init.written}`"
    if not init.params:
        call = init.name
    else:
        args = [p.name if p.default is REQUIRED else
                f"{p.name}={p.written_default or _default(p.default)}" for p in init.params]
        call = f"{init.name}({', '.join(args)})"
    return f"`{call}`" + "".join(f", `{alias}`" for alias in init.aliases)


def init_table() -> str:
    """The markdown table: how each init is written (with its aliases), what it draws, and
    whether it may initialise a bias."""
    rows = ["| written | distribution | bias |", "|---|---|---|"]
    for init in INITS:
        rows.append(f"| {_written(init)} | {cell(init.doc)} | "
                    f"{'yes' if init.bias else ''} |")
    return "\n".join(rows + ["", *foreign_table()])


def foreign_table() -> list[str]:
    """Other libraries' words for inits and their parameters, as the language answers them."""
    rows = ["| written elsewhere | here |", "|---|---|"]
    rows += [f"| `{name}` | {hint} |" for name, hint in FOREIGN_NAMES.items()]
    rows += [f"| `{name}=` | {hint} |" for name, hint in FOREIGN_PARAMS.items()]
    rows += [f"| `{value}` | {hint} |" for values in FOREIGN_VALUES.values()
             for value, hint in values.items()]
    return rows


def _ir_object(init: Init) -> str:
    """The init as the IR holds it, every parameter written: a default as its JSON value, a
    required parameter as ``…``."""
    fields = [f'"name": {json.dumps(init.name)}']
    fields += [f'"{p.name}": {"…" if p.default is REQUIRED else json.dumps(p.default)}'
               for p in init.params]
    return "`{" + ", ".join(fields) + "}`"


def _schema_text(schema: dict) -> str:
    """A parameter type's JSON Schema (:data:`PARAM_TYPES`) in words: its values, its bound,
    or the ``$defs`` entry of the IR's schema it refers to."""
    if "enum" in schema:
        return " / ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "$ref" in schema:
        return f"`$defs/{schema['$ref'].rpartition('/')[2]}`"
    types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
    text = " or ".join(types)
    if "exclusiveMinimum" in schema:
        text += f" > {schema['exclusiveMinimum']}"
    return text


def _ir_param(param: InitParam) -> str:
    text = f"`{param.name}`: {_schema_text(PARAM_TYPES[param.type])}"
    if param.default is REQUIRED:
        return text + ", required"
    if param.written_default:  # a null that stands for a value computed from the others
        return text + f" (null: {param.written_default})"
    return text


def ir_init_table() -> str:
    """docs/ir.md's table: each init as the IR's JSON object with its defaults filled in, the
    type of each parameter, whether it may initialise a bias and what it draws; then the
    language's other names for inits, which the IR writes by their canonical names, and the
    inits a layer gets where no line gives one."""
    rows = ["| object (defaults filled in) | parameters | bias | what it draws |",
            "|---|---|---|---|"]
    for init in INITS:
        params = "; ".join(_ir_param(p) for p in init.params) or "—"
        rows.append(f"| {cell(_ir_object(init))} | {cell(params)} | "
                    f"{'yes' if init.bias else ''} | {cell(init.doc)} |")
    aliases = ", ".join(f"`{alias}` as `{name}`" for alias, name in ALIASES.items())
    defaults = ", the ".join(f"{role} `{init_json({'name': name})}`"
                             for role, name in BUILT_IN_DEFAULTS.items())
    notes = (f"The IR holds canonical names only; the language also reads {aliases}. A conv "
             f"or dense layer whose own line and the model's `default` give it no init gets "
             f"the built-in one: the {defaults}.")
    return "\n".join(rows + ["", _wrapped(notes)])


def _wrapped(text: str) -> str:
    """``text`` wrapped to the pages' width, never inside a `code span`: its spaces are held
    as no-break spaces, which textwrap does not break at, while it wraps."""
    parts = text.split("`")
    parts[1::2] = [part.replace(" ", NO_BREAK) for part in parts[1::2]]
    wrapped = textwrap.fill("`".join(parts), PAGE_WIDTH, break_long_words=False,
                            break_on_hyphens=False)
    return wrapped.replace(NO_BREAK, " ")


def gain_table() -> str:
    """| gain | value | from |: each nonlinearity a gain may name, with its gain (those
    PyTorch's calculate_gain lacks computed as :func:`~cnnspec.init.gains.nonlinearity_gain`
    does)."""
    torch = "PyTorch's `calculate_gain`"
    rows = ["| gain | value | from |", "|---|---|---|"]
    rows += [f"| `{name}` | {text} | {torch} |" for name, (_, text) in CALCULATE_GAIN.items()]
    rows.append(f"| `leaky_relu(slope)` | {LEAKY_GAIN_TEXT}, slope "
                f"{float_text(DEFAULT_LEAKY_SLOPE)} if not given | {torch} |")
    for name, function in MOMENT_KEEPING.items():
        defaults = ", ".join(f"{param.name} {float_text(param.default)}" for param in
                             list(inspect.signature(function).parameters.values())[1:])
        rows.append(f"| `{name}` | {nonlinearity_gain(name):.3f}"
                    + (f" ({defaults})" if defaults else "")
                    + " | keeps the second moment: 1 / √E[f(z)²] for z ~ N(0, 1) |")
    return "\n".join(rows)
