"""The JSON Schema of an IR init object, generated from the catalogue.

``cnnspec/ir/schema.json`` ships this as its ``$defs/init`` (``python tools/generate.py``
writes it; a test fails when it is stale). Every parameter is required: the IR is resolved,
defaults written out.
"""
from __future__ import annotations

from cnnspec.init.catalogue import INITS, PARAM_TYPES, Init


def _init_schema(init: Init) -> dict:
    properties = {"name": {"const": init.name}}
    properties.update({p.name: dict(PARAM_TYPES[p.type]) for p in init.params})
    return {"type": "object", "properties": properties,
            "required": ["name", *(p.name for p in init.params)],
            "additionalProperties": False}


def init_schema() -> dict:
    """The ``$defs/init`` schema: one if/then per init name."""
    return {
        "description": 'an init object {"name": ..., <params>}',
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"enum": [init.name for init in INITS]}},
        "allOf": [{"if": {"properties": {"name": {"const": init.name}}, "required": ["name"]},
                   "then": _init_schema(init)} for init in INITS],
    }
