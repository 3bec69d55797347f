"""Reading, validating and writing the IR as JSON.

A ``.json`` IR file is accepted wherever a ``.cnn`` file is. It is validated against the JSON
Schema shipped beside this module (``schema.json``, Draft 2020-12, strict: every field required,
no unknown fields). Every violation is collected and reported as one :class:`SpecError` located by
the JSON path of the offending value (``$.layers[3].kernel``) with the reason in plain words.
"""
from __future__ import annotations

import functools
import json
import re
from importlib.resources import files
from pathlib import Path

from cnnspec.errors import (
    SCHEMA_HINTS,
    Span,
    SpecError,
    SpecErrors,
    closest,
    foreign_hint,
    hinted,
    shortened,
)
from cnnspec.ir.datasets import canonical_name, spelled_out
from cnnspec.ir.limits import MAX_INT, MAX_LAYERS, too_many_layers
from cnnspec.ir.migrate import upgrade
from cnnspec.ir.spec import Spec
from cnnspec.sourcefile import import_first, is_keras_model, read_spec_text

SCHEMA_HINT = "the IR is described field by field in docs/ir.md"


@functools.cache
def schema() -> dict:
    """The IR's JSON Schema (parsed once)."""
    return json.loads((files("cnnspec.ir") / "schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validator():
    # jsonschema (~40 ms) loads on the first validation, not when a .cnn command starts
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 3.0 as an integer; sizes and counts in the IR are written 3, and a
    # float size would flow into every shape computed from it, so 3.0 is rejected here.
    strict_integers = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool))
    validator = validators.extend(Draft202012Validator, type_checker=strict_integers,
                                  validators={"pattern": _pattern, "if": _if,
                                              "allOf": _all_of})
    return validator(schema())


def _if(validator, if_schema: dict, instance, schema_part: dict):
    """JSON Schema's ``if``/``then``/``else``, with the schema's one form of condition,
    ``{"properties": {"kind": {"const": "conv"}}, "required": ["kind"]}``, tested directly:
    every layer, init and schedule is such a choice among dozens of branches, and building a
    validator for each branch made a 1,000-layer IR take 20 s to validate."""
    holds = _const_condition(if_schema, instance)
    if holds is None:
        holds = validator.evolve(schema=if_schema).is_valid(instance)
    branch = "then" if holds else "else"
    if branch in schema_part:
        yield from validator.descend(instance, schema_part[branch])


def _all_of(validator, rules: list, instance, schema_part: dict):
    """JSON Schema's ``allOf``, going straight to the branch an ``if`` of :func:`_if`'s form
    picks (each rule descended into costs a new validator, and most rules are branches not
    taken)."""
    for index, rule in enumerate(rules):
        holds = _const_condition(rule["if"], instance) \
            if "if" in rule and set(rule) <= {"if", "then", "else"} else None
        if holds is None:
            yield from validator.descend(instance, rule, schema_path=index)
        elif ("then" if holds else "else") in rule:
            yield from validator.descend(instance, rule["then" if holds else "else"],
                                         schema_path=index)


def _const_condition(if_schema: dict, instance) -> bool | None:
    """Whether ``instance`` meets a one-key string ``const`` condition; None for any other
    form of condition (then the validator decides)."""
    properties = if_schema.get("properties", {})
    if set(if_schema) - {"properties", "required"} or len(properties) != 1:
        return None
    (key, rule), = properties.items()
    if set(rule) != {"const"} or not isinstance(rule["const"], str) \
            or if_schema.get("required", [key]) != [key]:
        return None
    if not isinstance(instance, dict):
        return True  # `properties` and `required` only constrain objects
    if key not in instance:
        return "required" not in if_schema
    return isinstance(instance[key], str) and instance[key] == rule["const"]


def _pattern(validator, pattern: str, instance, schema_part):
    """JSON Schema's ``pattern`` with ``$`` meaning the end of the string, as in ECMA-262:
    Python's ``$`` also matches before a final newline, which would let ``"conv1\n"`` pass as
    a name (and a model name names a folder)."""
    from jsonschema.exceptions import ValidationError

    anchored = pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern
    if isinstance(instance, str) and not re.search(anchored, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


WIDTH = 100  # a JSON value that fits on one line at its indent is written on one line


def to_json(ir: dict) -> str:
    """The IR as indented JSON text (no trailing newline); short values such as ``[3, 3]`` or
    ``{"name": "zeros"}`` stay on one line, and so does every list of numbers or names."""
    return _dump(ir, 0, 0)


def _dump(value, indent: int, used: int) -> str:
    """``value`` at ``indent``, starting after ``used`` characters of the current line."""
    flat = json.dumps(value)
    if not isinstance(value, (dict, list)) or not value or used + len(flat) <= WIDTH:
        return flat
    if isinstance(value, list) and not any(isinstance(v, (dict, list)) for v in value):
        return flat  # a row of numbers (a kernel literal's) stays a row
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k)}: " for k in value]
        items = [head + _dump(v, indent + 2, len(head)) for head, v in zip(items, value.values())]
        brackets = "{}"
    else:
        items = [pad + _dump(v, indent + 2, len(pad)) for v in value]
        brackets = "[]"
    return brackets[0] + "\n" + ",\n".join(items) + "\n" + " " * indent + brackets[1]


def validate(ir, path: str | None = None) -> None:
    """Raise :class:`SpecErrors` listing every schema violation in ``ir`` (nothing if valid)."""
    _refuse_too_many_layers(ir, path)
    violations = _one_type_error_a_place(sorted(_validator().iter_errors(ir), key=_sort_key))
    errors = [_with_declared_hint(_to_spec_error(v, path), v, ir) for v in violations]
    if errors:
        raise SpecErrors(_unique(errors))


def _refuse_too_many_layers(ir, path: str | None) -> None:
    """The schema's ``maxItems`` of ``layers``, said before the schema validates each layer:
    an IR of a million layers would take minutes to reach it."""
    layers = ir.get("layers") if isinstance(ir, dict) else None
    if isinstance(layers, list) and len(layers) > MAX_LAYERS:
        raise SpecErrors([SpecError(too_many_layers(len(layers)), json_path="$.layers",
                                    file=path, hint="an IR lists each layer once, repeat "
                                    "blocks copied out: is this the network meant?")])


def _one_type_error_a_place(violations: list) -> list:
    """``violations`` with one wrong-type error at each place, the first: a value of the wrong
    type breaks every branch that describes that place (an init given as a string fails the
    init object and each init's own branch), and the user needs to hear it once."""
    typed, kept = set(), []
    for violation in violations:
        if violation.validator == "type":
            where = tuple(violation.absolute_path)
            if where in typed:
                continue
            typed.add(where)
        kept.append(violation)
    return kept


class _NotANumber(ValueError):
    """Python's json reads NaN and Infinity, which JSON itself does not have."""


def _reject_constant(name: str):
    raise _NotANumber(name)


# A JSON string, written as an unrolled loop (runs of plain characters, then one escape): one
# step per run rather than per character, so a 10 MB string is skipped in milliseconds.
STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'


def _span_at(text: str, start: int, length: int = 1) -> Span:
    """The line and column of the ``length`` characters at offset ``start`` of ``text``."""
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Span(line, column, line, column + length)


def _constant_span(text: str) -> Span | None:
    """Where the first NaN or Infinity outside a string is (strings are skipped whole)."""
    for match in re.finditer(STRING + r'|(-?(?:NaN|Infinity))', text):
        if match.group(1):
            return _span_at(text, match.start(), len(match.group(1)))
    return None


# The IR nests 9 deep at most (a 4-D kernel literal in a layer's init: $.layers[i].weight_init
# .value[a][b][c][d]); anything much deeper is refused before Python's json, which recurses once
# per level, reads it.
MAX_NESTING = 12
_BRACKETS = re.compile(STRING + r'|[\[{]|[\]}]')


def _too_deep(text: str, path: str | None, limit: int, hint: str) -> SpecError | None:
    """The error at the first bracket nested deeper than ``limit``, if any."""
    depth = 0
    for match in _BRACKETS.finditer(text):
        bracket = match.group()
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return SpecError(f"lists and objects nested more than {limit} deep",
                                 span=_span_at(text, match.start()), file=path, **hinted(hint))
        elif bracket in "]}":
            depth = max(0, depth - 1)
    return None


# An integer of more digits than this is beyond any float (float64 ends near 1.8e308), so no
# field can hold it; it is refused as it is read, where its digits are.
MAX_DIGITS = 308


class _TooLong(ValueError):
    """An integer beyond any float in the JSON text."""


def _read_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise _TooLong(digits)
    return int(digits)


def _long_number_span(text: str) -> Span | None:
    match = re.search(rf"[0-9]{{{MAX_DIGITS + 1},}}", text)
    return _span_at(text, match.start(), len(match.group())) if match else None


# Hint templates (the command as the caller types it: SpecError.worded_hint)
IR_HINT = "an IR file is what `{export_command}` prints"
EXPORT_HINT = "`{export_command} SPEC > SPEC.json` writes the IR file of a spec"
EVERY_FIELD = spelled_out("field, defaults included")


# Python's json messages that read cut short without the position it appends to them.
JSON_MESSAGES = {"Invalid control character at": "a control character inside a string (JSON "
                 "writes it escaped: \\t, \\n, \\u0001)"}


def parse_json(text: str, path: str | None, hint: str, max_nesting: int = MAX_NESTING,
               deep_hint: str | None = None):
    """``text`` read as strict JSON, for every JSON file a user hands cnnspec (an IR, a Keras
    model): nesting deeper than ``max_nesting`` (before Python's json, which recurses once per
    level, and the readers after it, which recurse too, see it), NaN and Infinity (not JSON)
    and whole numbers beyond any float are each one located :class:`SpecErrors`, as is a
    syntax error; ``hint`` says what the file should be (``deep_hint`` for the nesting), each a
    hint template (:func:`cnnspec.errors.hinted`)."""
    too_deep = _too_deep(text, path, max_nesting, deep_hint or hint)
    if too_deep is not None:
        raise SpecErrors([too_deep])
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_int=_read_int)
    except json.JSONDecodeError as exc:
        raise SpecErrors([SpecError(f"not valid JSON: {JSON_MESSAGES.get(exc.msg, exc.msg)}",
                                    span=Span(exc.lineno, exc.colno), file=path,
                                    **hinted(hint))]) from None
    except _NotANumber as exc:
        raise SpecErrors([SpecError(
            f"not valid JSON: {exc.args[0]} is not a number in JSON", span=_constant_span(text),
            hint="every number in the file must be finite", file=path)]) from None
    except _TooLong as exc:
        raise SpecErrors([SpecError(
            f"a number of {len(exc.args[0].lstrip('-')):,} digits, beyond any float",
            span=_long_number_span(text), file=path,
            hint=f"whole numbers in cnnspec are at most {MAX_INT:,}")]) from None


def read_json(path: str | Path) -> Spec:
    """Read and validate a ``.json`` IR file; the :class:`Spec` has no text and no spans."""
    ir = parse_json(read_spec_text(path), str(path), IR_HINT,
                    deep_hint="the IR nests 9 deep at most (a 4-D kernel literal in a layer's "
                    f"init); {IR_HINT}")
    if is_keras_model(ir):  # model.to_json() saved as .json, the IR's suffix
        raise SpecErrors([SpecError("this JSON is a Keras model, not a cnnspec IR file",
                                    json_path="$", file=str(path), **hinted(import_first(path)))])
    if not holds_an_ir(ir):  # another JSON file: a run's summary.json, a config
        raise SpecErrors([SpecError(
            "not an IR file: an IR file is a network written out as JSON (a JSON object "
            f"with its {', '.join(IR_MARKS)}, input, output and training)", json_path="$",
            file=str(path), **hinted(EXPORT_HINT))])
    upgrade(ir)
    _canonical_dataset_name(ir)
    validate(ir, str(path))
    return Spec(ir=ir, path=str(path))


# The fields every IR has and other JSON files seldom do: a file with neither is no IR, and is
# told so rather than told each field the schema misses.
IR_MARKS = ("version", "layers")


def holds_an_ir(document) -> bool:
    """Whether ``document``, a JSON file's contents, may be meant as an IR (damaged or not):
    an object with one of :data:`IR_MARKS` at its top, or no object (which the schema says it
    must be)."""
    return not isinstance(document, dict) or any(mark in document for mark in IR_MARKS)


def _canonical_dataset_name(ir) -> None:
    """Another spelling of a dataset's name (``fashion_mnist``) becomes its canonical one, so
    everything after the loader sees one name."""
    training = ir.get("training") if isinstance(ir, dict) else None
    data = training.get("data") if isinstance(training, dict) else None
    if isinstance(data, dict) and "name" in data:
        data["name"] = canonical_name(data["name"]) or data["name"]


# --- turning jsonschema's findings into messages in plain words -------------------------------

def json_path(parts) -> str:
    """``['layers', 3, 'kernel']`` -> ``$.layers[3].kernel``."""
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{shortened(str(part), 40)}"
    return out


def _sort_key(error) -> tuple:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in error.absolute_path)


def _unique(errors: list[SpecError]) -> list[SpecError]:
    seen, out = set(), []
    for err in errors:
        key = (err.json_path, err.message)
        if key not in seen:
            seen.add(key)
            out.append(err)
    return out


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "a string",
               "boolean": "true or false", "array": "a list", "object": "an object",
               "null": "null"}


def _expected_type(expected) -> str:
    kinds = expected if isinstance(expected, list) else [expected]
    return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)


def _show(value) -> str:
    return shortened(json.dumps(value)) if not isinstance(value, (dict, list)) \
        else _json_type(value)


def _with_declared_hint(spec_error: SpecError, error, ir) -> SpecError:
    """A training value out of its range gets the hint its declaration gives (what the value
    means, a typical one), as the language gives it for a ``.cnn`` file."""
    if error.validator in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        from cnnspec.ir.training_catalogue import declared_arg

        arg = declared_arg(ir, list(error.absolute_path))
        if arg is not None and arg.hint:
            spec_error.hint = arg.hint
    return spec_error


def _schema_hints(schema_part: dict) -> dict[str, str]:
    """The hints of a schema part (:data:`cnnspec.errors.SCHEMA_HINTS`), following a
    ``{"$ref": "#/..."}`` to the place of the schema they are written in."""
    hints = schema_part.get(SCHEMA_HINTS, {})
    ref = hints.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        return functools.reduce(lambda part, key: part[key], ref[2:].split("/"), schema())
    return hints


def _one_branch_but_for_values(context) -> list:
    """The errors of the one branch of an anyOf an object fits in form (its keys, and the
    words that tell the branches apart: a gain's ``"nonlinearity": "leaky_relu"``) but for a
    value, ``slope -1`` say: said at that value; none where no branch or several do."""
    branches: dict = {}
    for inner in context:
        branches.setdefault(inner.schema_path[0], []).append(inner)
    fitting = [errors for errors in branches.values()
               if all(e.relative_path and e.validator not in ("const", "enum") for e in errors)]
    return fitting[0] if len(fitting) == 1 else []


def _to_spec_error(error, path: str | None) -> SpecError:
    """One jsonschema ``ValidationError`` as a SpecError with a JSON path and a plain reason."""
    where = list(error.absolute_path)
    value, rule, schema_part = error.instance, error.validator, error.schema
    hint, template = SCHEMA_HINT, None
    if rule == "required":
        missing = [f for f in error.validator_value
                   if not isinstance(value, dict) or f not in value]
        field = missing[0] if missing else "?"
        where.append(field)
        message = f"missing field '{field}'"
        template = EVERY_FIELD
    elif rule == "additionalProperties":
        allowed = sorted(schema_part.get("properties", {}))
        extra = sorted(set(value) - set(allowed))
        where.append(extra[0])
        message = f"unknown field '{shortened(extra[0])}'"
        hint = "allowed here: " + ", ".join(allowed)
        close = closest(extra[0], allowed)
        if close:
            hint = f"did you mean '{close}'? " + hint
        # another library's name for a field: the spelling guess would mislead
        hint = foreign_hint(_schema_hints(schema_part), extra[0]) or hint
    elif rule == "enum":
        options = [str(o) for o in error.validator_value]
        message = f"{_show(value)} is not one of: {', '.join(options)}"
        close = closest(str(value), options)
        # another library's word for one of ours: the spelling guess would mislead
        hint = (foreign_hint(_schema_hints(schema_part), value)
                or (f"did you mean '{close}'?" if close else hint))
    elif rule == "const":
        message = f"expected {json.dumps(error.validator_value)}, got {_show(value)}"
    elif rule == "type":
        message = f"expected {_expected_type(error.validator_value)}, got {_json_type(value)}"
        if "description" in schema_part:
            message += f" ({schema_part['description']})"
    elif rule in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">",
              "exclusiveMaximum": "<"}[rule]
        message = f"must be {op} {error.validator_value}, got {_show(value)}"
    elif rule == "minItems":
        message = f"needs at least {error.validator_value} item(s), got {len(value)}"
    elif rule == "maxItems":
        message = f"allows at most {error.validator_value} item(s), got {len(value)}"
    elif rule == "uniqueItems":
        message = "has repeated items"
    elif rule == "pattern":
        message = f"{_show(value)} is not {schema_part.get('description', 'well formed')}"
    elif rule in ("anyOf", "oneOf"):
        # A list that fits a branch but for an item: report the item (e.g. the string in a
        # kernel literal's row), not the whole list. Objects keep the branch's description,
        # which lists every form (a gain's nonlinearities are spread over branches).
        inner = [e for e in error.context if e.relative_path]
        if isinstance(value, dict):  # an object of one branch's form but for a value
            inner = _one_branch_but_for_values(error.context)
        if inner and isinstance(value, (list, dict)):
            from jsonschema.exceptions import best_match  # see _validator

            return _to_spec_error(best_match(inner), path)
        wanted = schema_part.get("description", "a different value")
        message = f"expected {wanted}, got {_show(value)}"
    else:
        message = error.message
    hints = hinted(template) if template else {"hint": hint}
    return SpecError(message, json_path=json_path(where), file=path, **hints)
