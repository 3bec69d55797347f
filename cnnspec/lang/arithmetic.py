"""The number a learner's arithmetic comes to, for a hint: a spec holds numbers, so
``normal(0, sqrt(2))``, ``lr 1/100`` and ``np.sqrt(2 / 9)`` are errors, and the hint gives the
number to write instead.

Only what such a value is made of is computed: numbers, ``+ - * / **``, parentheses, ``pi``,
``e`` and the functions of :data:`FUNCTIONS`, bare or as NumPy, ``math`` or PyTorch writes
them (``np.sqrt``). The text is parsed with Python's ``ast`` and walked here; nothing is
executed, and anything else (a name, a string, a large power) gives no number.
"""
from __future__ import annotations

import ast
import math

from cnnspec.errors import float_text
from cnnspec.lang.ast import Call, Num, Value, Word

FUNCTIONS = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log2": math.log2,
             "log10": math.log10}
CONSTANTS = {"pi": math.pi, "e": math.e}
# The modules a function or constant may be written with (np.sqrt, math.pi, torch.sqrt).
MODULES = ("np", "numpy", "math", "torch")
# Longer text is not arithmetic a hint should redo.
MAX_TEXT = 80
# ``a ** b`` is computed for |b| up to this (and a result that stays finite).
MAX_EXPONENT = 64


def number_text(x: float) -> str:
    """``x`` to four significant digits, as a spec writes it (``0.3333``, ``1e-5``)."""
    return float_text(float(f"{x:.4g}"))


def value_of_text(text: str) -> float | None:
    """The finite number the arithmetic ``text`` comes to, or None where it is not such."""
    if not text.strip() or len(text) > MAX_TEXT:
        return None
    try:
        tree = ast.parse(text.strip(), mode="eval")
        value = _value(tree.body)
    except (SyntaxError, ValueError, ArithmeticError, RecursionError, MemoryError):
        return None
    return value if value is not None and math.isfinite(value) else None


def value_of_call(value: Value) -> float | None:
    """The number a spec's ``sqrt(2)`` (a call of one of :data:`FUNCTIONS` on a number, or on
    such a call) or ``pi`` comes to, or None."""
    try:
        if isinstance(value, Num):
            return float(value.value)
        if isinstance(value, Word):
            return CONSTANTS.get(value.name)
        if (isinstance(value, Call) and value.name in FUNCTIONS and len(value.args) == 1
                and not value.kwargs):
            inner = value_of_call(value.args[0])
            result = None if inner is None else FUNCTIONS[value.name](inner)
            return result if result is not None and math.isfinite(result) else None
    except (ValueError, ArithmeticError):
        return None
    return None


def call_text(value: Value) -> str:
    """A call of :func:`value_of_call` as the spec wrote it (``sqrt(2)``)."""
    if isinstance(value, Num):
        return value.text
    if isinstance(value, Word):
        return value.name
    assert isinstance(value, Call)
    return f"{value.name}({', '.join(call_text(arg) for arg in value.args)})"


def _value(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant):
        is_number = isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        return float(node.value) if is_number else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        inner = _value(node.operand)
        return None if inner is None else (inner if isinstance(node.op, ast.UAdd) else -inner)
    if isinstance(node, ast.BinOp):
        return _binary(node)
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        function = FUNCTIONS.get(_name(node.func) or "")
        inner = _value(node.args[0])
        return None if function is None or inner is None else function(inner)
    name = _name(node)
    return None if name is None else CONSTANTS.get(name)


def _binary(node: ast.BinOp) -> float | None:
    a, b = _value(node.left), _value(node.right)
    if a is None or b is None:
        return None
    if isinstance(node.op, ast.Add):
        return a + b
    if isinstance(node.op, ast.Sub):
        return a - b
    if isinstance(node.op, ast.Mult):
        return a * b
    if isinstance(node.op, ast.Div):
        return a / b
    if isinstance(node.op, ast.Pow) and abs(b) <= MAX_EXPONENT:
        return math.pow(a, b)
    return None


def _name(node: ast.AST) -> str | None:
    """``sqrt`` of ``sqrt``, ``np.sqrt`` or ``math.sqrt``; None for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in MODULES):
        return node.attr
    return None
