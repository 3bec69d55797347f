"""Data augmentation: random transforms of a batch of training images, vectorised over the batch.

The transforms and their arguments are declared in :data:`cnnspec.ir.training_catalogue.TRANSFORMS`
(``crop``, ``flip``, ``shift``, ``rotate``, ``noise``); an IR ``augment`` list names them in the
order they apply. Images are (N, C, H, W); every transform returns a new array of the same shape
and dtype and leaves its input alone. Each draws its random numbers from the generator it is
given, a fixed number per image, so the same generator state gives the same batch.

Training applies augmentation after the preprocessing, so an :class:`Augmenter` is told what the
preprocessing made of a black pixel (``fill``, the zero padding of ``crop`` and ``rotate``) and
how it scaled each channel (``scale``, applied to the noise's std): a transform then does the
same to preprocessed images as it would to the images as loaded, in [0, 1].
"""
from __future__ import annotations

import numpy as np


def translate(x: np.ndarray, dy: np.ndarray, dx: np.ndarray, fill: np.ndarray | None
              ) -> np.ndarray:
    """Image ``n`` of ``x`` moved down ``dy[n]`` and right ``dx[n]`` pixels (whole numbers,
    either sign): ``out[n, :, i, j] = x[n, :, i - dy[n], j - dx[n]]``. Outside ``x`` the
    pixels are ``fill`` (C,), or with ``fill`` None the nearest edge pixel's."""
    n, c, h, w = x.shape
    # A move by the image's side or more leaves nothing of it (only fill, or the edge pixels
    # repeated): the same as a move by the side exactly, which keeps the padding, and the
    # memory, a few images' worth however far ``crop(pad=99999)`` moves them.
    dy, dx = np.clip(dy, -h, h), np.clip(dx, -w, w)
    pad = int(max(np.abs(dy).max(initial=0), np.abs(dx).max(initial=0)))
    if fill is None:
        padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="edge")
    else:
        padded = np.empty((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
        padded[...] = np.asarray(fill, dtype=x.dtype).reshape(1, c, 1, 1)
        padded[:, :, pad:pad + h, pad:pad + w] = x
    rows = np.arange(h)[None, :] + pad - dy[:, None]  # (N, H)
    cols = np.arange(w)[None, :] + pad - dx[:, None]  # (N, W)
    return padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                  rows[:, None, :, None], cols[:, None, None, :]]


def crop(x, rng, fill, scale, pad: int) -> np.ndarray:
    """Zero-pad by ``pad`` and crop a random window of the image's size (torchvision's
    ``RandomCrop(size, padding=pad)``): a translation by -pad..pad pixels along each axis."""
    dy, dx = rng.integers(-pad, pad + 1, size=(2, len(x)))
    return translate(x, dy, dx, fill)


def shift(x, rng, fill, scale, pixels: int) -> np.ndarray:
    """A translation by -pixels..pixels along each axis, the edge pixels repeated into the gap
    (Keras' shift ranges with ``fill_mode="nearest"``)."""
    dy, dx = rng.integers(-pixels, pixels + 1, size=(2, len(x)))
    return translate(x, dy, dx, None)


def flip(x, rng, fill, scale, p: float) -> np.ndarray:
    """Each image mirrored left to right with probability ``p``."""
    mirrored = rng.random(len(x)) < p
    out = x.copy()
    out[mirrored] = x[mirrored, :, :, ::-1]
    return out


def rotate_by(x: np.ndarray, degrees: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Image ``n`` rotated counter-clockwise by ``degrees[n]`` about its centre (as
    torchvision's ``rotate``: 90 is ``np.rot90`` for a square image), bilinear, the pixels
    from outside the image ``fill`` (C,).

    Each output pixel (i, j) samples the input at the point the inverse rotation takes it to,
    blending the four pixels around it; an image padded with one ring of ``fill`` makes the
    blend at the border fade into ``fill``, as zero padding does in PyTorch's ``grid_sample``.
    """
    n, c, h, w = x.shape
    theta = np.deg2rad(np.asarray(degrees, dtype=np.float64))[:, None, None]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    y, xx = np.mgrid[0:h, 0:w]
    y, xx = (y - cy)[None], (xx - cx)[None]
    src_x = cx + np.cos(theta) * xx - np.sin(theta) * y  # (N, H, W)
    src_y = cy + np.sin(theta) * xx + np.cos(theta) * y
    padded = np.empty((n, c, h + 2, w + 2), dtype=x.dtype)
    padded[...] = np.asarray(fill, dtype=x.dtype).reshape(1, c, 1, 1)
    padded[:, :, 1:-1, 1:-1] = x
    y0, x0 = np.floor(src_y), np.floor(src_x)
    wy, wx = (src_y - y0).astype(x.dtype), (src_x - x0).astype(x.dtype)
    # Index into the padded image: -1 and h (or w) are the ring of fill, and any point further
    # out reads the ring too.
    rows0 = np.clip(y0, -1, h).astype(np.intp) + 1
    rows1 = np.clip(y0 + 1, -1, h).astype(np.intp) + 1
    cols0 = np.clip(x0, -1, w).astype(np.intp) + 1
    cols1 = np.clip(x0 + 1, -1, w).astype(np.intp) + 1
    images = np.arange(n)[:, None, None]

    def at(rows, cols):  # (N, H, W, C) -> (N, C, H, W)
        return padded[images, :, rows, cols].transpose(0, 3, 1, 2)

    wy, wx = wy[:, None], wx[:, None]
    top = at(rows0, cols0) * (1 - wx) + at(rows0, cols1) * wx
    bottom = at(rows1, cols0) * (1 - wx) + at(rows1, cols1) * wx
    return (top * (1 - wy) + bottom * wy).astype(x.dtype, copy=False)


def rotate(x, rng, fill, scale, degrees: float) -> np.ndarray:
    """A rotation by an angle drawn uniformly from [-degrees, degrees] per image."""
    return rotate_by(x, rng.uniform(-degrees, degrees, size=len(x)), fill)


def noise(x, rng, fill, scale, std: float) -> np.ndarray:
    """Gaussian noise of standard deviation ``std`` (times the channel's ``scale``) added to
    every pixel."""
    c = x.shape[1]
    sigma = std * np.asarray(scale, dtype=np.float64).reshape(1, c, 1, 1)
    return (x + rng.standard_normal(x.shape) * sigma).astype(x.dtype, copy=False)


# The transforms the IR names (cnnspec/ir/training_catalogue.py declares them, with their
# arguments); a test holds the two to each other.
TRANSFORMS = {"crop": crop, "flip": flip, "shift": shift, "rotate": rotate, "noise": noise}


class Augmenter:
    """The IR's ``augment`` list as one function of a batch and a generator.

    ``fill`` (C,) is the value of a black pixel and ``scale`` (C,) the factor each channel was
    multiplied by (1 / std for ``standardize``); the defaults suit images as loaded.
    """

    def __init__(self, transforms: list[dict], channels: int, fill=None, scale=None) -> None:
        for transform in transforms:
            assert transform["name"] in TRANSFORMS, transform  # the checker knows only these
        self.transforms = [dict(t) for t in transforms]
        self.fill = np.zeros(channels) if fill is None else np.asarray(fill, dtype=np.float64)
        self.scale = np.ones(channels) if scale is None else np.asarray(scale,
                                                                        dtype=np.float64)

    @classmethod
    def for_preprocessor(cls, transforms: list[dict], preprocessor) -> Augmenter:
        """An augmenter of images preprocessed by ``preprocessor`` (per channel
        ``(x - mean) / std``)."""
        return cls(transforms, preprocessor.channels,
                   fill=-preprocessor.mean / preprocessor.std, scale=1 / preprocessor.std)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``x`` (N, C, H, W) with every transform applied in order."""
        for transform in self.transforms:
            args = {k: v for k, v in transform.items() if k != "name"}
            x = TRANSFORMS[transform["name"]](x, rng, self.fill, self.scale, **args)
        return x


def batch_rng(augment: np.random.Generator, epoch: int, batch: int) -> np.random.Generator:
    """The generator of one training batch: a child of the ``augment`` stream's seed for
    (``epoch``, ``batch``), so a batch's transforms do not depend on the batches before it and
    a resumed run draws what an uninterrupted one does (as
    :func:`cnnspec.training.batches.epoch_order` does for the data order)."""
    parent = augment.bit_generator.seed_seq
    child = np.random.SeedSequence(parent.entropy, spawn_key=(*parent.spawn_key, epoch, batch))
    return np.random.default_rng(child)
