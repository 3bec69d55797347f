"""Input preprocessing from the spec's ``training.preprocess``, fitted on the training split.

- ``none``: the images as loaded (in [0, 1]).
- ``zero_center``: subtract the per-channel mean of the training images.
- ``standardize``: subtract that mean and divide by the per-channel standard deviation.

Statistics come from the training split only, so nothing about the validation or test images
leaks into the model; they are stored in the run (:meth:`Preprocessor.to_dict`) so that
``eval`` and ``predict`` transform their inputs exactly as training did. A channel whose
training std is (almost) zero is divided by 1 instead: it carries no information and dividing
would only blow up noise.
"""
from __future__ import annotations

import numpy as np

from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import RunError
from cnnspec.ir.training_catalogue import PREPROCESSORS
from cnnspec.records import record

PREPROCESS_MODES = tuple(PREPROCESSORS)  # declared, with what each does, in the IR's catalogue
MIN_STD = 1e-6  # below this a channel counts as constant
# Images whose statistics are summed at a time: the float64 deviations of a whole set (numpy's
# std of float32 images holds them all) were 1.1 GiB for CIFAR-10's training split, more than
# the images themselves; a part of 1,024 32x32 colour images holds 24 MiB.
STATS_PART = 1024


def _check_mode(mode: str) -> None:
    if mode not in PREPROCESS_MODES:
        raise RunError(f"unknown preprocess mode {mode!r}",
                       hint=f"use one of {', '.join(PREPROCESS_MODES)}")


# eq=False: the generated __eq__ would compare arrays, whose truth value is ambiguous.
@record(frozen=True, eq=False)
class Preprocessor:
    """A fitted preprocessing: ``mode`` and per-channel ``mean`` and ``std``, each (C,) float64.

    For ``none`` the mean is 0 and the std 1; for ``zero_center`` the std is 1.
    """

    mode: str
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, mode: str, images: np.ndarray, picked: np.ndarray | None = None
            ) -> Preprocessor:
        """Per-channel statistics of the training images ``images[picked]`` (N, C, H, W; all
        of ``images`` when ``picked`` is None), read :data:`STATS_PART` images at a time.

        Sums run in float64 so that the mean of many float32 pixels is not rounded away; the
        standard deviation is taken about that mean in a second pass, as NumPy's std does.
        """
        _check_mode(mode)
        count = len(images) if picked is None else len(picked)
        if images.ndim != 4 or count == 0:
            raise RunError(f"preprocessing needs training images (N, C, H, W), "
                           f"got an array of shape {(count, *images.shape[1:])}")
        channels = images.shape[1]
        mean = np.zeros(channels)
        std = np.ones(channels)
        values = count * images.shape[2] * images.shape[3]
        if mode in ("zero_center", "standardize"):
            mean = sum(part.sum(axis=(0, 2, 3), dtype=np.float64)
                       for part in _parts(images, picked)) / values
        if mode == "standardize":
            centre = mean.reshape(-1, 1, 1)
            squares = sum(np.square(part - centre).sum(axis=(0, 2, 3))
                          for part in _parts(images, picked))
            std = np.sqrt(squares / values)
            std = np.where(std < MIN_STD, 1.0, std)
        return cls(mode, mean, std)

    @property
    def channels(self) -> int:
        return len(self.mean)

    def apply(self, x: np.ndarray, dtype: str | np.dtype = DEFAULT_DTYPE,
              in_place: bool = False) -> np.ndarray:
        """``(x - mean) / std`` per channel, computed in ``dtype`` (the run's), as a new array;
        with ``in_place``, in ``x`` itself where it is in ``dtype`` already (a copy the caller
        made for this: a training split is then held once, not twice).

        ``x`` is (N, C, H, W) or one image (C, H, W); the caller's array is left unchanged
        unless ``in_place``. A float64 run's inputs are preprocessed in float64: computed in
        float32 and widened, they would carry float32's rounding into every layer.
        """
        if x.ndim not in (3, 4) or x.shape[-3] != self.channels:
            raise RunError(f"cannot preprocess an array of shape {x.shape} (wrong number of "
                           f"channels or axes): expected (N, {self.channels}, H, W) or "
                           f"({self.channels}, H, W)",
                           hint="the input must have as many channels as the training data")
        mean = self.mean.astype(dtype).reshape(-1, 1, 1)
        std = self.std.astype(dtype).reshape(-1, 1, 1)
        out = x if in_place and x.dtype == np.dtype(dtype) else x.astype(dtype)
        np.subtract(out, mean, out=out)
        return np.divide(out, std, out=out)

    def formula(self) -> str:
        """The transformation in words, for whoever applies it outside cnnspec (to an
        exported model's inputs): ``(x - mean) / std per channel, mean [0.3046], std
        [0.3756]`` for ``standardize``, ``x - mean ...`` for ``zero_center``, and ``x`` for
        ``none``. ``x`` is an image in [0, 1]."""
        mean = "[" + ", ".join(f"{v:.4g}" for v in self.mean) + "]"
        std = "[" + ", ".join(f"{v:.4g}" for v in self.std) + "]"
        if self.mode == "standardize":
            return f"(x - mean) / std per channel, mean {mean}, std {std}"
        if self.mode == "zero_center":
            return f"x - mean per channel, mean {mean}"
        return "x"

    def to_dict(self) -> dict:
        """JSON-ready form: ``{"mode", "mean": [...], "std": [...]}``."""
        return {"mode": self.mode, "mean": [float(v) for v in self.mean],
                "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessor:
        """The inverse of :meth:`to_dict`; a malformed record is a RunError."""
        try:
            mode, mean, std = d["mode"], d["mean"], d["std"]
        except (KeyError, TypeError) as exc:
            raise RunError(f"preprocessing record is missing {exc}",
                           hint="the run's files may be damaged; train again") from None
        _check_mode(mode)
        try:
            mean = np.asarray(mean, dtype=np.float64)
            std = np.asarray(std, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):  # Overflow: an integer past float64

            raise RunError("preprocessing record has mean/std that are not numbers",
                           hint="the run's files may be damaged; train again") from None
        # apply() computes in the run's dtype, float32 the narrowest: a value beyond its
        # range would become infinite, a std below its smallest would become 0, and every
        # score NaN.
        with np.errstate(over="ignore", under="ignore"):
            mean32, std32 = mean.astype(np.float32), std.astype(np.float32)
        if mean.ndim != 1 or mean.shape != std.shape or len(mean) == 0 \
                or not np.all(np.isfinite(mean32)) or not np.all(np.isfinite(std32)) \
                or not np.all(std32 > 0):
            raise RunError("preprocessing record has malformed mean/std",
                           hint="the run's files may be damaged; train again")
        return cls(mode, mean, std)


def _parts(images: np.ndarray, picked: np.ndarray | None):
    """``images[picked]`` (all of ``images`` when None) as copies of :data:`STATS_PART` images."""
    count = len(images) if picked is None else len(picked)
    for start in range(0, count, STATS_PART):
        chosen = slice(start, start + STATS_PART) if picked is None else \
            picked[start:start + STATS_PART]
        yield images[chosen]
