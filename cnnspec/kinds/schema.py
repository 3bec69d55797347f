"""The JSON Schema of an IR layer, generated from the registry.

``cnnspec/ir/schema.json`` ships this as its ``$defs/layer`` (the IR package reads the file and
imports nothing); ``python tools/generate.py`` writes it and a test fails when it is stale.
Every field is required (the IR is fully resolved); a layer without a bias has a null
``bias_init``.
"""
from __future__ import annotations

from cnnspec.kinds.fields import BIAS_INIT_KEY, field_schema
from cnnspec.kinds.kind import Kind

NAME = {"$ref": "#/$defs/name"}


def _inputs(kind: Kind) -> dict:
    schema = {"type": "array", "items": NAME, "minItems": 2 if kind.merge else 1}
    if not kind.merge:
        schema["maxItems"] = 1
    return schema


def kind_schema(kind: Kind) -> dict:
    """The schema of one layer of ``kind``."""
    properties = {"name": NAME, "kind": {"const": kind.name},
                  "group": {"type": ["string", "null"]}, "inputs": _inputs(kind)}
    properties.update({f.name: field_schema(f) for f in kind.fields})
    body = {"type": "object", "properties": properties,
            "required": ["name", "kind", "group", "inputs", *(f.name for f in kind.fields)],
            "additionalProperties": False}
    if not any(f.type == "bias_init" for f in kind.fields):
        return body
    bias_rule = {
        "if": {"properties": {"bias": {"const": False}}, "required": ["bias"]},
        "then": {"properties": {
            BIAS_INIT_KEY: {"type": "null", "description": "null because bias is false"}}},
        "else": {"properties": {BIAS_INIT_KEY: {"$ref": "#/$defs/init"}}},
    }
    return {"allOf": [body, bias_rule]}


def layer_schema(kinds: list[Kind]) -> dict:
    """The ``$defs/layer`` schema: one if/then per kind."""
    return {
        "description": 'a layer {"name", "kind", "inputs", "group", <fields of its kind>}',
        "type": "object",
        "required": ["name", "kind", "inputs", "group"],
        "properties": {"kind": {"enum": [kind.name for kind in kinds]}},
        "allOf": [{"if": {"properties": {"kind": {"const": kind.name}}, "required": ["kind"]},
                   "then": kind_schema(kind)} for kind in kinds],
    }
