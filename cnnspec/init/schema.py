"""The JSON Schema of an IR init object and of a gain, generated from the catalogue and the
gain table.

``cnnspec/ir/schema.json`` ships these as its ``$defs/init`` and ``$defs/gain`` (``python
tools/generate.py`` writes them; a test fails when they are stale). Every parameter is
required: the IR is resolved, defaults written out.
"""
from __future__ import annotations

from cnnspec.errors import SCHEMA_HINTS
from cnnspec.init import keras
from cnnspec.init.catalogue import (
    ALIASES,
    FOREIGN_PARAMS,
    FOREIGN_VALUES,
    INITS,
    PARAM_TYPES,
    PARAMS,
    Init,
)
from cnnspec.init.describe import init_json, mode_hint
from cnnspec.init.fans import FAN_MODES
from cnnspec.init.gains import LEAKY_SLOPE_LOW, NONLINEARITIES

# Where the hints for other libraries' parameter names (FOREIGN_PARAMS) are written, once: on
# the init object, read by every init's own branch, whose additionalProperties finds the field.
PARAM_HINTS = {"$ref": f"#/$defs/init/{SCHEMA_HINTS}"}


def _param_schema(param_type: str) -> dict:
    """A parameter's schema, with the hints for other libraries' spellings of its values."""
    schema = dict(PARAM_TYPES[param_type])
    if param_type in FOREIGN_VALUES:
        schema[SCHEMA_HINTS] = dict(FOREIGN_VALUES[param_type])
    return schema


def _init_schema(init: Init) -> dict:
    properties = {"name": {"const": init.name}}
    properties.update({p.name: _param_schema(p.type) for p in init.params})
    modes = _mode_hints(init)
    if modes:
        properties["mode"][SCHEMA_HINTS] = modes
    return {"type": "object", "properties": properties,
            "required": ["name", *(p.name for p in init.params)],
            "additionalProperties": False, SCHEMA_HINTS: PARAM_HINTS}


def _mode_hints(init: Init) -> dict[str, str]:
    """The hint for each fan mode ``init`` does not take where another named scheme draws
    what it asks (:func:`cnnspec.init.describe.mode_hint`: He's over fan_avg is Glorot's),
    as a ``.cnn`` file's is answered."""
    own = PARAMS[init.name]
    if "mode" not in own:
        return {}
    taken = PARAM_TYPES[next(p.type for p in init.params if p.name == "mode")]["enum"]
    hints = {mode: mode_hint({**own, "name": init.name, "mode": mode}, json_ir=True)
             for mode in FAN_MODES if mode not in taken}
    return {mode: hint for mode, hint in hints.items() if hint}


def _alias_hints() -> dict[str, str]:
    """The hint for each alias the language accepts (``kaiming_normal``) named in a JSON IR,
    which holds canonical names only: the init it is, as the IR writes it. So for PyTorch's
    spelling (``kaiming_normal_``), whose NAME_HINTS hint names the alias a spec may write."""
    return {key: f"{key} is written {name} in the IR: {init_json({'name': name})}"
            for alias, name in ALIASES.items() for key in (alias, f"{alias}_")}


def _name_hints() -> dict[str, str]:
    """The hints of a name that is no init of the IR, by the name looked up
    (:func:`cnnspec.errors.foreign_hint`): an alias's canonical name, other libraries' names
    (NAME_HINTS) over Keras' class names, each init written as a JSON IR writes it, ready to
    paste in."""
    return {**keras.ir_name_hints(), **_alias_hints()}


def init_schema() -> dict:
    """The ``$defs/init`` schema: one if/then per init name."""
    return {
        "description": 'an init object {"name": ..., <params>}',
        "type": "object",
        "required": ["name"],
        # other libraries' parameter names answered as a .cnn file's are (FOREIGN_PARAMS)
        SCHEMA_HINTS: dict(FOREIGN_PARAMS),
        # other libraries' names for our schemes answered as a .cnn file's are, the init
        # written as the IR writes it; the language's aliases with their canonical names
        "properties": {"name": {"enum": [init.name for init in INITS],
                                SCHEMA_HINTS: _name_hints()}},
        "allOf": [{"if": {"properties": {"name": {"const": init.name}}, "required": ["name"]},
                   "then": _init_schema(init)} for init in INITS],
    }


def gain_schema() -> dict:
    """The ``$defs/gain`` schema: a positive number, a nonlinearity of the table, or
    leaky_relu with its slope under the leaky_relu layer's rule (:data:`LEAKY_SLOPE_LOW`)."""
    plain = [name for name in NONLINEARITIES if name != "leaky_relu"]
    return {
        "description": 'a gain: {"value": g} or {"nonlinearity": "'
                       + "|".join(NONLINEARITIES) + '"} (with "slope" for leaky_relu)',
        "type": "object",
        "anyOf": [
            {"type": "object", "properties": {"value": {"type": "number",
                                                        "exclusiveMinimum": 0}},
             "required": ["value"], "additionalProperties": False},
            {"type": "object", "properties": {"nonlinearity": {"enum": plain}},
             "required": ["nonlinearity"], "additionalProperties": False},
            {"type": "object",
             "properties": {"nonlinearity": {"const": "leaky_relu"},
                            "slope": {"type": "number", "minimum": LEAKY_SLOPE_LOW}},
             "required": ["nonlinearity", "slope"], "additionalProperties": False},
        ],
    }
