"""Turning user-supplied image arrays into float32 in [0, 1], with errors that name the problem.

Shared by the ``npz`` dataset and ``predict``'s ``.npy`` inputs. Integer arrays are pixel
values 0..255 and are divided by 255; float arrays must already lie in [0, 1].
"""
from __future__ import annotations

import numpy as np

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import RunError

MAX_PIXEL = 255


def holds_integers(x: np.ndarray) -> bool:
    """Whether ``x`` holds plain integers: NumPy counts timedelta64 among its integers
    (``np.issubdtype(np.timedelta64, np.integer)``), but a duration is no pixel or label."""
    return x.dtype.kind in "iu"


def pixels_to_unit(x: np.ndarray, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """Pixel values 0..255 (any integer or integral array) as ``dtype`` in [0, 1], k / 255.

    Divided in ``dtype`` itself, into the one array it returns: dividing in float64 first
    held a float64 copy of the whole set beside the result (CIFAR-10's 60,000 images: 1.4 GiB
    more at the peak of loading). For every k in 0..255, float32's k / 255 is bit for bit the
    float64 quotient rounded to float32 (tests check all 256)."""
    out = np.empty(x.shape, dtype)
    return np.divide(x, MAX_PIXEL, out=out, dtype=out.dtype, casting="unsafe")


def to_unit_float(x: np.ndarray, what: str, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """``x`` as ``dtype`` (a run's; float32 by default) in [0, 1]: integers 0..255 scaled by
    1/255, floats checked as they are."""
    if x.dtype == np.bool_:
        return x.astype(dtype)
    if holds_integers(x):
        if x.size and (x.min() < 0 or x.max() > MAX_PIXEL):
            raise RunError(f"{what} has integer values outside 0..255 "
                           f"(min {x.min()}, max {x.max()})",
                           hint="store pixel values as uint8 0..255 or floats in [0, 1]")
        return pixels_to_unit(x, dtype)
    if not np.issubdtype(x.dtype, np.floating):
        raise RunError(f"{what} has dtype {x.dtype}, not numbers",
                       hint="store images as uint8 0..255 or floats in [0, 1]")
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise RunError(f"{what} contains {bad} NaN or infinite values",
                       hint="replace or drop the affected images")
    if x.size and (x.min() < 0 or x.max() > 1):
        raise RunError(f"{what} has float values outside [0, 1] "
                       f"(min {x.min():g}, max {x.max():g})",
                       hint="scale the images to [0, 1] (e.g. divide 0..255 values by 255); "
                       "preprocessing such as standardize is applied by cnnspec itself")
    return x.astype(dtype)
