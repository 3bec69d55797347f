"""The names of the initializer catalogue, their parameters and defaults.

Every init in the IR is ``{"name": ..., <params>}`` with a canonical name and every parameter
explicit (docs/ir.md). :func:`canonical` turns a possibly partial init (an alias, missing
defaults) into that form and rejects unknown names and parameters, so the rest of the
package can read an init without guessing.
"""
from __future__ import annotations

import difflib

from cnnspec.errors import SpecError

REQUIRED = object()  # marks a parameter without a default

RELU_GAIN = {"nonlinearity": "relu"}
LINEAR_GAIN = {"nonlinearity": "linear"}

# name -> {param: default}; the order is the order users meet them in docs/ir.md.
PARAMS: dict[str, dict[str, object]] = {
    "zeros": {},
    "ones": {},
    "constant": {"value": REQUIRED},
    "uniform": {"low": REQUIRED, "high": REQUIRED},
    "normal": {"mean": 0.0, "std": REQUIRED},
    "truncated_normal": {"mean": 0.0, "std": REQUIRED},
    "variance_scaling": {"scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal"},
    "glorot_uniform": {"gain": LINEAR_GAIN},
    "glorot_normal": {"gain": LINEAR_GAIN},
    "he_uniform": {"mode": "fan_in", "gain": RELU_GAIN},
    "he_normal": {"mode": "fan_in", "gain": RELU_GAIN},
    "lecun_uniform": {},
    "lecun_normal": {},
    "orthogonal": {"gain": LINEAR_GAIN},
    "identity": {},
    "literal": {"values": REQUIRED},
    "sobel_x": {},
    "sobel_y": {},
    "laplacian": {},
    "gaussian": {"sigma": REQUIRED},
    "box": {},
    "x_kernel": {},
    "lsuv": {"tol": 0.1, "max_iter": 10},
}

INIT_NAMES: tuple[str, ...] = tuple(PARAMS)

# Spellings the language accepts for the same scheme; the IR only holds the canonical name.
ALIASES = {
    "xavier_uniform": "glorot_uniform",
    "xavier_normal": "glorot_normal",
    "kaiming_uniform": "he_uniform",
    "kaiming_normal": "he_normal",
    "dirac": "identity",
}

# Fixed kernels: no randomness, the same values every time.
KERNEL_NAMES = ("literal", "sobel_x", "sobel_y", "laplacian", "gaussian", "box", "x_kernel")
# Schemes drawn from a distribution whose scale follows from the fans.
SCALED_NAMES = ("variance_scaling", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                "lecun_uniform", "lecun_normal")


def canonical_name(name: str) -> str:
    """The canonical name of an init, resolving aliases; SpecError with a suggestion otherwise."""
    name = ALIASES.get(name, name)
    if name in PARAMS:
        return name
    close = difflib.get_close_matches(str(name), list(INIT_NAMES) + list(ALIASES), n=1)
    hint = f"did you mean {close[0]}?" if close else "known inits: " + ", ".join(INIT_NAMES)
    raise SpecError(f"unknown initializer {name!r}", hint=hint)


def canonical(init: dict) -> dict:
    """``init`` with its canonical name and every parameter explicit (defaults filled in)."""
    if "name" not in init:
        raise SpecError("an init needs a name", hint="e.g. {\"name\": \"he_normal\"}")
    name = canonical_name(init["name"])
    allowed = PARAMS[name]
    unknown = [key for key in init if key != "name" and key not in allowed]
    if unknown:
        expected = ", ".join(allowed) if allowed else "no parameters"
        raise SpecError(f"{name} has no parameter {unknown[0]!r}", hint=f"{name} takes {expected}")
    out: dict = {"name": name}
    for key, default in allowed.items():
        if key in init:
            out[key] = init[key]
        elif default is REQUIRED:
            raise SpecError(f"{name} needs {key}", hint=f"{name} takes " + ", ".join(allowed))
        else:
            out[key] = dict(default) if isinstance(default, dict) else default
    return out
