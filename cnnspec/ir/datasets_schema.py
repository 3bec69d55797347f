"""The JSON Schema of an IR ``training.data`` object, generated from the dataset table.

``cnnspec/ir/schema.json`` ships this as its ``$defs/data`` (``python tools/generate.py``
writes it; a test fails when it is stale). Every argument is required: the IR is resolved,
defaults written out.
"""
from __future__ import annotations

from cnnspec.errors import listed
from cnnspec.ir.datasets import DATASETS, SHAPE_CLASSES, Arg, DatasetKind
from cnnspec.ir.limits import MAX_INT


def _arg_schema(arg: Arg) -> dict:
    if arg.kind == "classes":
        return {"type": "array", "items": {"enum": list(SHAPE_CLASSES)},
                "minItems": int(arg.minimum), "uniqueItems": True}
    if arg.kind == "path":
        return {"type": "string", "minLength": 1}
    if arg.kind == "bool":
        return {"type": "boolean"}
    if arg.kind == "int" and arg.minimum == 1:
        return {"$ref": "#/$defs/size"}
    schema: dict = {"type": "integer" if arg.kind == "int" else "number"}
    if arg.minimum is not None:
        schema["minimum"] = int(arg.minimum) if arg.kind == "int" else arg.minimum
    if arg.kind == "int":
        schema["maximum"] = MAX_INT
    return schema


def _kind_schema(kind: DatasetKind) -> dict:
    properties = {"name": {"const": kind.name}}
    properties.update({arg.name: _arg_schema(arg) for arg in kind.args})
    return {"type": "object", "properties": properties,
            "required": ["name", *(arg.name for arg in kind.args)],
            "additionalProperties": False}


def data_schema() -> dict:
    """The ``$defs/data`` schema: one if/then per dataset."""
    names = list(DATASETS)
    return {
        "description": f"a dataset: {listed(names, 'or')}",
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"enum": names}},
        "allOf": [{"if": {"properties": {"name": {"const": name}}, "required": ["name"]},
                   "then": _kind_schema(kind)} for name, kind in DATASETS.items()],
    }
