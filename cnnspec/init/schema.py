"""The JSON Schema of an IR init object, generated from the catalogue.

``cnnspec/ir/schema.json`` ships this as its ``$defs/init`` (``python tools/generate.py``
writes it; a test fails when it is stale). Every parameter is required: the IR is resolved,
defaults written out.
"""
from __future__ import annotations

from cnnspec.errors import SCHEMA_HINTS
from cnnspec.init import keras
from cnnspec.init.catalogue import (
    FOREIGN_PARAMS,
    FOREIGN_VALUES,
    INITS,
    NAME_HINTS,
    PARAM_TYPES,
    Init,
)

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
    return {"type": "object", "properties": properties,
            "required": ["name", *(p.name for p in init.params)],
            "additionalProperties": False, SCHEMA_HINTS: PARAM_HINTS}


def init_schema() -> dict:
    """The ``$defs/init`` schema: one if/then per init name."""
    return {
        "description": 'an init object {"name": ..., <params>}',
        "type": "object",
        "required": ["name"],
        # other libraries' parameter names answered as a .cnn file's are (FOREIGN_PARAMS)
        SCHEMA_HINTS: dict(FOREIGN_PARAMS),
        # other libraries' names for our schemes answered as a .cnn file's are: NAME_HINTS
        # first, then Keras' class names (cnnspec.lang.inits reads them in that order)
        "properties": {"name": {"enum": [init.name for init in INITS],
                                SCHEMA_HINTS: {**keras.name_hints(), **NAME_HINTS}}},
        "allOf": [{"if": {"properties": {"name": {"const": init.name}}, "required": ["name"]},
                   "then": _init_schema(init)} for init in INITS],
    }
