"""PyTorch's ``torch.nn.init`` calls written as inits here, with what PyTorch means by the
arguments they leave out (:data:`cnnspec.init.catalogue.TORCH_INITS`).

``nn.init.normal_(w, mean=0.1)`` draws N(0.1, 1): PyTorch's ``std`` is 1 unless given, where
``normal`` here has no default for it, so the call here is ``normal(mean=0.1, std=1)``. A
call's arguments are read as Python reads them (``ast``), the same for a call the parser read
and for one it stopped at (``nn.init.normal_(m.weight, ...)``, a '.' the grammar refuses).
"""
from __future__ import annotations

import ast

from cnnspec.errors import float_text, listed
from cnnspec.init.catalogue import (
    ALIASES,
    PARAMS,
    REQUIRED,
    TORCH_BOUND_NAMES,
    TORCH_INITS,
    TORCH_TENSOR_ARGUMENT,
    TORCH_TRAILING_UNDERSCORE,
)
from cnnspec.init.gains import gain
from cnnspec.records import record


@record(frozen=True)
class TorchCall:
    """A PyTorch init call written here: ``text`` (``normal(mean=0.1, std=1)``) and
    ``reasons`` it differs from the user's call beyond its name's trailing '_' (its tensor
    argument left out, PyTorch's defaults written)."""

    text: str
    reasons: tuple[str, ...]

    @property
    def why(self) -> str:
        """Every reason the call differs from the user's, its name's first."""
        return "; ".join((TORCH_TRAILING_UNDERSCORE, *self.reasons))


def torch_init_call(name: str, args: str) -> TorchCall | None:
    """PyTorch's init ``name`` (``normal_``) called with ``args`` (its source from '(' to ')',
    or "" for the name alone) as the call here: our name, PyTorch's tensor argument left out
    (a first argument that is no number), and PyTorch's default written for each parameter
    left out whose default here is none or another. None for a name that is no PyTorch init
    of :data:`TORCH_INITS`, and for arguments Python would not read (``**kwargs``)."""
    if name not in TORCH_INITS:
        return None
    ours, params = TORCH_INITS[name]
    read = _arguments(args)
    if read is None:
        return None
    source, positional, keywords = read
    why = []
    if positional and not _is_number(positional[0]):
        positional = positional[1:]
        why.append(TORCH_TENSOR_ARGUMENT)
    given = {param for (param, _), _ in zip(params, positional)} | set(keywords)
    added = [(param, ours_name, default) for param, default in params
             if param not in given and (ours_name := _our_param(ours, param)) is not None
             and _differs(PARAMS[ALIASES.get(ours, ours)][ours_name], default)]
    if added:
        why.append(f"PyTorch's {name} takes {listed(f'{p}={_text(d)}' for p, _, d in added)} "
                   "where none is given")
    kept = _in_place(ours, params, len(positional), set(keywords))
    parts = ([ast.get_source_segment(source, arg) for arg in positional[:kept]]
             + [f"{param}={ast.get_source_segment(source, arg)}"
                for (param, _), arg in zip(params[kept:], positional[kept:])]
             + [f"{key}={ast.get_source_segment(source, value)}"
                for key, value in keywords.items()]
             + [f"{ours_name}={_text(default)}" for _, ours_name, default in added])
    return TorchCall(f"{ours}({', '.join(parts)})" if parts else ours, tuple(why))


def _in_place(ours: str, params: tuple[tuple[str, object], ...], count: int,
              keywords: set[str]) -> int:
    """How many of ``count`` arguments given by position to PyTorch's init of ``params`` stand
    where ours (``ours``) reads the same parameter; the rest are written as PyTorch's keywords,
    which the hint then mends (kaiming_normal_(w, 0.2, 'fan_out') is a=0.2, mode=fan_out:
    written by position, ours read 0.2 as its mode). None move where PyTorch would refuse the
    call: more arguments than its parameters, or one given by position and by keyword."""
    if count > len(params) or keywords & {param for param, _ in params[:count]}:
        return count
    own = list(PARAMS[ALIASES.get(ours, ours)])
    counterparts = {_our_param(ours, param) for param, _ in params}
    for i, (param, _) in enumerate(params[:count]):
        mine = _our_param(ours, param)
        if i >= len(own) or own[i] != mine and (mine is not None or own[i] in counterparts):
            return i
    return count


def _arguments(args: str) -> tuple[str, list[ast.expr], dict[str, ast.expr]] | None:
    """The source of a call of ``args`` ('(...)' or ""), and its positional and keyword
    arguments, each written as the user wrote it there."""
    source = f"f{args or '()'}"
    try:
        call = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or any(key.arg is None for key in call.keywords) \
            or any(isinstance(arg, ast.Starred) for arg in call.args):
        return None
    return source, list(call.args), {key.arg: key.value for key in call.keywords}


def _is_number(node: ast.expr) -> bool:
    """Whether ``node`` is a number written out (``0.1``, ``-2``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
        and not isinstance(node.value, bool)


def _our_param(ours: str, param: str) -> str | None:
    """The parameter of our init ``ours`` that PyTorch's ``param`` is (its bounds ``a`` and
    ``b``, ``low`` and ``high``); None where ours has none (kaiming's ``a`` and
    ``nonlinearity``, read into the gain)."""
    own = PARAMS[ALIASES.get(ours, ours)]
    renamed = TORCH_BOUND_NAMES.get(param, param)
    return renamed if renamed in own else param if param in own else None


def _differs(default, torch_default) -> bool:
    """Whether our ``default`` of a parameter is not PyTorch's ``torch_default``: none (a
    value to give), another value, or a gain of another size."""
    if default is REQUIRED:
        return True
    if isinstance(default, dict):  # a gain: {"nonlinearity": "linear"} is PyTorch's gain=1
        return gain(default) != torch_default
    return default != torch_default


def _text(value) -> str:
    """A default as a spec writes it: ``1``, ``-2``, ``fan_in``."""
    return value if isinstance(value, str) else float_text(float(value))
