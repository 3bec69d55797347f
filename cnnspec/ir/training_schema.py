"""The JSON Schema of the IR's training settings, generated from the training catalogue.

``cnnspec/ir/schema.json`` ships these as ``$defs/optimizer``, ``$defs/schedule``,
``$defs/transform`` (one data augmentation) and ``$defs/training`` (``python tools/generate.py``
writes them; a test fails when they are stale). The data part, ``$defs/data``, is written by hand
and held to the dataset table by a test. Every argument is required: the IR is resolved, defaults
written out.
"""
from __future__ import annotations

from cnnspec.errors import SCHEMA_HINTS, listed
from cnnspec.ir.training_catalogue import (
    FOREIGN_KEY_NAMES,
    KEYS,
    OPTIMIZERS,
    SCHEDULES,
    TRANSFORMS,
    Entry,
    foreign_key_hint,
    name_hints,
)

# The words of each object's description: "an optimizer: sgd or adam".
DESCRIBED = {"optimizer": "an optimizer", "schedule": "a learning-rate schedule",
             "transform": "a data augmentation"}


def _entry_schema(entry: Entry) -> dict:
    properties = {"name": {"const": entry.name}}
    properties.update({a.name: a.schema() for a in entry.args})
    return {"type": "object", "properties": properties,
            "required": ["name", *(a.name for a in entry.args)],
            "additionalProperties": False}


def catalogue_schema(key: str, catalogue: dict[str, Entry]) -> dict:
    """The schema of an object naming an entry of ``catalogue``: one if/then per name."""
    return {
        "description": f"{DESCRIBED[key]}: {listed(catalogue, 'or')}",
        "type": "object",
        "required": ["name"],
        "properties": {"name": _names_schema(catalogue)},
        "allOf": [{"if": {"properties": {"name": {"const": name}}, "required": ["name"]},
                   "then": _entry_schema(entry)} for name, entry in catalogue.items()],
    }


def _key_schema(name: str) -> dict:
    key = KEYS[name]
    if key.arg is not None:
        return key.arg.schema()
    if key.many:
        return {"type": "array", "items": {"$ref": "#/$defs/transform"}}
    if key.objects or name == "data":
        return {"$ref": f"#/$defs/{name}"}
    return _names_schema(key.catalogue)


def _names_schema(catalogue: dict[str, Entry]) -> dict:
    """The names of ``catalogue``, with the hints for other libraries' names of its entries
    (answered as a .cnn file's are)."""
    hints = name_hints(catalogue)
    return {"enum": list(catalogue), **({SCHEMA_HINTS: hints} if hints else {})}


def training_schemas() -> dict[str, dict]:
    """``$defs`` name -> schema, for every part generated from the catalogue."""
    return {
        "optimizer": catalogue_schema("optimizer", OPTIMIZERS),
        "schedule": catalogue_schema("schedule", SCHEDULES),
        "transform": catalogue_schema("transform", TRANSFORMS),
        "training": {"type": "object",
                     "properties": {name: _key_schema(name) for name in KEYS},
                     "required": list(KEYS),
                     "additionalProperties": False,
                     # other libraries' names for settings, answered as a .cnn file's are
                     SCHEMA_HINTS: {name: foreign_key_hint(name, lines=False)
                                    for name in FOREIGN_KEY_NAMES}},
    }
