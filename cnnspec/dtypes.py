"""The floating-point types a model computes in, declared once for the engine, the compiler,
check's memory estimate, training, the lab and the command line. Plain data, no NumPy, so that
reading them keeps ``cnnspec check`` and ``--help`` light.

Tensors are float32 by default; float64 is slower and is what gradient checks against finite
differences need.
"""
from __future__ import annotations

VALUE_BYTES = {"float32": 4, "float64": 8}  # the dtypes a model trains in, and their sizes
DTYPES = tuple(VALUE_BYTES)
DEFAULT_DTYPE = "float32"
# A run whose summary names no dtype is from before the dtype was a setting: it trained in
# float32, whatever the default is now.
UNRECORDED_DTYPE = "float32"
