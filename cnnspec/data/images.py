"""Reading one input for ``predict``: a PNG/JPEG image or a ``.npy`` array.

The result is ``(C, H, W)`` in [0, 1] in the dtype the run's images are read in (float32, or
a float64 run's float64: k/255 not rounded to float32 first), like one training image before
preprocessing, plus a note saying what was done to it (``None`` when nothing was).

Images are converted to the model's channel count (1: greyscale "L"; 3: "RGB") and resized to
its ``H x W`` when they differ: shrinking averages the pixels each output pixel covers
(Pillow's box filter -- how the UCI digits themselves were made from 32x32 bitmaps), enlarging
interpolates bilinearly.

Polarity: every built-in dataset draws light strokes or objects on a dark background (digits,
MNIST, Fashion-MNIST, shapes), while a scanned or photographed digit is dark ink on light
paper. For one-channel images ``invert=None`` (the default) decides by the border: when the
outermost rows and columns are on average lighter than 0.5 the background is light, and the
image is inverted (``1 - x``) so that it looks like the training data; the note says so.
``invert=True``/``False`` forces the choice. Colour images and arrays are never inverted.

``.npy`` arrays are used as they are: shape (C, H, W), or (H, W) for a one-channel model,
or a batch (N, C, H, W); exactly the model's size (no resizing); integers 0..255 or floats in
[0, 1] -- or floats holding whole pixel values 0..255, which are divided by 255 (the note
says so).
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from cnnspec.damage import PICTURE_DAMAGE, reason, system_failure
from cnnspec.data import arrayfiles
from cnnspec.data.arrayfiles import DamagedArray
from cnnspec.data.arrays import MAX_PIXEL, holds_integers, pixels_to_unit, to_unit_float
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import InputError, RunError, shortened
from cnnspec.sourcefile import is_special, not_a_regular_file

PIL_MODES = {1: "L", 3: "RGB"}
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")
COLOUR_MODES = ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")
LIGHT_BACKGROUND = 0.5


def size_text(height: int, width: int) -> str:
    """An image's size as every message says it: ``757 high x 495 wide``, the spec's order
    (``input CxHxW``) with each side named, since image tools write width x height and a bare
    ``757x495`` reads backwards there; a square one ``28x28``, which reads alike either way."""
    return f"{height}x{width}" if height == width else f"{height} high x {width} wide"


def load_image(path: str | Path, shape: tuple[int, int, int], invert: bool | None = None,
               dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, str | None]:
    """``(x, note)``: the input at ``path`` as (C, H, W) ``dtype`` in [0, 1] for a model taking
    ``shape`` = (C, H, W), and what was changed (resized, inverted) or None."""
    path = Path(path)
    if path.is_dir():
        raise RunError(f"{path} is a folder, not an image",
                       hint="give image files (e.g. a shell pattern such as digits/*.png)")
    if is_special(path):
        raise not_a_regular_file(path, "give image files (PNG, JPEG) or .npy arrays")
    if not path.is_file():
        raise RunError(f"input not found: {path}", hint="check the path and the file name")
    if path.suffix.lower() == ".npy":
        return load_array(path, shape, dtype)
    return load_picture(path, tuple(shape), invert, dtype)


def load_inputs(path: str | Path, shape: tuple[int, int, int], dtype: str = DEFAULT_DTYPE
                ) -> list[tuple[str, np.ndarray, str | None]]:
    """``[(label, x, note)]``: the images in the input at ``path`` for a model taking ``shape``
    (C, H, W), in ``dtype``: one for a picture or a ``.npy`` image, N for a ``.npy`` batch
    (N, C, H, W) (or (N, H, W) for one channel), labelled ``file.npy[i]``."""
    path = Path(path)
    if path.suffix.lower() == ".npy" and path.is_file():
        x = read_array(path)
        batch = _npy_batch(x, path, shape, dtype)
        if batch is not None:
            images, note = batch
            if not len(images):  # it would give no result, and predict would print nothing
                raise InputError(f"{path} holds a batch of no images (shape {x.shape})",
                               hint=f"save at least one image: an array (N, {shape[0]}, "
                                    f"{shape[1]}, {shape[2]}) with N >= 1")
            return [(f"{path}[{i}]", x, note) for i, x in enumerate(images)]
        return [(str(path), *array_input(x, path, shape, batches=True, dtype=dtype))]
    x, note = load_image(path, shape, dtype=dtype)
    return [(str(path), x, note)]


def _npy_batch(x: np.ndarray, path: Path, shape: tuple[int, int, int], dtype: str
               ) -> tuple[np.ndarray, str | None] | None:
    """A ``.npy`` batch (N, C, H, W) (or (N, H, W) of a one-channel model, N > 1) as ``dtype``
    in [0, 1]; None for anything else (read then as one image, with its own messages)."""
    c, h, w = shape
    if x.ndim == 3 and c == 1 and x.shape[0] != 1 and x.shape[1:] == (h, w):
        return input_float(x[:, None], str(path), dtype)
    if x.ndim == 4 and x.shape[1:] == (c, h, w):
        return input_float(x, str(path), dtype)
    if x.ndim == 4:
        raise InputError(f"{path} holds a batch of shape {x.shape}; the model takes "
                       f"(N, {c}, {h}, {w})",
                       hint=_channels_last_hint(x.shape, shape)
                       or "arrays are not resized; give image files to have them resized")
    return None


def _channels_last_hint(given: tuple, shape: tuple[int, int, int], verb: str = "save"
                        ) -> str | None:
    """The hint for an array laid out channels last, (H, W, C) or (N, H, W, C), as Keras,
    TensorFlow and Pillow store images, where the model takes channels first; None for
    another shape. ``verb``: what the user does with the transposed array (``save`` it to the
    file given, ``pass`` it in Python)."""
    c, h, w = shape
    if len(given) not in (3, 4) or given[-3:] != (h, w, c):
        return None
    axes = "(0, 3, 1, 2)" if len(given) == 4 else "(2, 0, 1)"
    return (f"the array is channels last, as Keras and TensorFlow store images; cnnspec "
            f"takes them channels first, as PyTorch and Caffe do: {verb} "
            f"array.transpose{axes}")


def input_float(x: np.ndarray, what: str, dtype: str = DEFAULT_DTYPE
                ) -> tuple[np.ndarray, str | None]:
    """An input to predict as ``dtype`` (the run's) in [0, 1], and a note when it was
    rescaled: integers 0..255, and floats holding whole numbers 0..255 above 1 (pixel values
    saved unscaled), are divided by 255. Other floats must be in [0, 1]: a fraction above 1
    is more likely data that was preprocessed already than an image."""
    if np.issubdtype(x.dtype, np.floating) and x.size and np.all(np.isfinite(x)) \
            and x.min() >= 0 and 1 < x.max() <= MAX_PIXEL and np.all(x == np.round(x)):
        note = f"float values up to {float(x.max()):g} read as 0..255 and divided by 255"
        return pixels_to_unit(x, dtype), note
    try:
        scaled = to_unit_float(x, what, dtype)
    except RunError as exc:  # values no image has: a mistake in the input given (exit 2)
        raise InputError(exc.message, hint=exc.hint) from None
    if holds_integers(x) and x.size and x.max() <= DIM_INTEGERS:
        return scaled, (f"integer values up to {int(x.max())} read as 0..255 and divided by "
                        f"255: the image is at most {100 * x.max() / MAX_PIXEL:.2g}% bright")
    return scaled, None


# Integer inputs that reach no higher than this are noted: a range of its own (scikit-learn's
# digits are 0..16) read as 0..255 makes a near-black image that predict would classify
# without a word.
DIM_INTEGERS = 63


def read_array(path: Path) -> np.ndarray:
    """The array of a ``.npy`` file, its declared size checked before it is allocated."""
    try:
        return arrayfiles.read_npy(path)
    except (OSError, DamagedArray) as exc:
        raise _unreadable(f"cannot read {path} as a .npy array: {exc}", exc,
                          hint="save it with np.save(PATH, array)") from None


def _unreadable(message: str, exc: BaseException, hint: str) -> RunError:
    """The error for an input file the command was given that ``exc`` kept from being read:
    a failure of the run (exit 1) where the system could not read it (no permission, a disk's
    error), else a mistake in what was asked (exit 2): the file is no picture or array of the
    kind it should be, as a damaged data file is."""
    return (RunError if system_failure(exc) else InputError)(message, hint=hint)


def load_array(path: Path, shape: tuple[int, int, int], dtype: str = DEFAULT_DTYPE
               ) -> tuple[np.ndarray, str | None]:
    """A ``.npy`` input (C, H, W) or (H, W), checked against the model's ``shape``, as
    ``dtype``."""
    return array_input(read_array(path), path, shape, dtype=dtype)


def array_input(x: np.ndarray, path: Path, shape: tuple[int, int, int], batches: bool = False,
                dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, str | None]:
    """One input array (C, H, W) or (H, W), checked against the model's ``shape``, as
    ``dtype``; ``batches``: the command also takes a batch (N, C, H, W), which the message
    then names."""
    c, h, w = shape
    given = x.shape  # named in the message as the user saved it
    if x.ndim == 2 and c == 1:
        x = x[None]
    if x.shape != (c, h, w):
        forms = ([f"({c}, {h}, {w})"] + [f"({h}, {w})"] * (c == 1)
                 + [f"(N, {c}, {h}, {w})"] * batches)
        raise InputError(f"{path} holds an array of shape {given}; the model takes "
                         f"{' or '.join(forms)}",
                         hint=_channels_last_hint(given, shape) or _one_of_a_batch(given, shape)
                         or "arrays are not resized; give an image file to have it resized")
    return input_float(x, str(path), dtype)


def input_batch(images, shape: tuple[int, int, int], what: str = "the array of images",
                dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """``images`` (an array, or anything ``np.asarray`` takes) as a ``dtype`` batch
    (N, C, H, W) in [0, 1] for a model taking ``shape`` (C, H, W): the Python side of what
    ``cnnspec predict`` takes in a ``.npy`` file, in the same forms (a batch (N, C, H, W), one
    image (C, H, W), and for a one-channel model (N, H, W) or (H, W)) and values
    (:func:`input_float`: NaN, infinite or out-of-range values are an :class:`InputError`
    naming ``what``, integers 0..255 are divided by 255). A PyTorch tensor is read as its
    values; a path is refused (:func:`load_image` reads a file)."""
    if isinstance(images, (str, bytes, os.PathLike)):  # NumPy would make an array of no shape
        raise InputError(f"{what} must be an array, not a path ({shortened(repr(images))})",
                         hint="read the file first: x, note = cnnspec.data.images.load_image("
                         "path, run.spec.input_shape, dtype=run.input_dtype) reads a picture "
                         "or a .npy image as the model takes it")
    if callable(getattr(images, "detach", None)) and callable(getattr(images, "cpu", None)):
        # A PyTorch tensor: NumPy refuses one that requires grad or lives on a GPU.
        images = images.detach().cpu()
    try:
        x = np.asarray(images)
    except (ValueError, TypeError) as exc:  # ragged nested lists, objects NumPy cannot hold
        raise InputError(f"{what} is not an array of numbers: {exc}",
                         hint=f"give a NumPy array (N, {', '.join(map(str, shape))})") from None
    c, h, w = shape
    if x.shape == (c, h, w) or c == 1 and x.shape == (h, w):
        x = x.reshape(1, c, h, w)  # one image
    elif c == 1 and x.ndim == 3 and x.shape[1:] == (h, w):
        x = x[:, None]  # a batch of one-channel images without their channel axis
    if x.ndim != 4 or x.shape[1:] != (c, h, w):
        forms = [f"(N, {c}, {h}, {w})", f"({c}, {h}, {w})"] + [f"(N, {h}, {w})",
                                                                 f"({h}, {w})"] * (c == 1)
        raise InputError(f"{what} has shape {x.shape}; the model takes {' or '.join(forms)}",
                         hint=_channels_last_hint(x.shape, shape, "pass")
                         or "arrays are not resized: resize the images to the model's input "
                            f"{size_text(h, w)} first")
    return input_float(x, what, dtype)[0]


def _one_of_a_batch(given: tuple, shape: tuple[int, int, int]) -> str | None:
    """The hint for a batch of the model's images where one image is taken; None for another
    shape."""
    if given[1:] != tuple(shape) or not given[0]:
        return None
    return (f"it is a batch of {given[0]} images, and this command takes one: save one of "
            f"them, e.g. np.save(PATH, array[0])")


def load_picture(path: Path, shape: tuple[int, int, int], invert: bool | None,
                 dtype: str = DEFAULT_DTYPE) -> tuple[np.ndarray, str | None]:
    """A PNG/JPEG (anything Pillow reads) converted, resized and, if needed, inverted, as
    ``dtype``: its 8-bit values divided by 255 in that dtype, as the datasets' are."""
    from PIL import Image  # Pillow loads only to read an image

    c, h, w = shape
    if c not in PIL_MODES:
        raise InputError(f"the model takes {c}-channel inputs; images have 1 or 3 channels",
                       hint=f"give a .npy array of shape ({c}, {h}, {w}) instead")
    try:
        with warnings.catch_warnings():
            # Pillow warns of a damaged EXIF block (metadata, never read here) and of a
            # picture beyond MAX_IMAGE_PIXELS (decoded all the same; twice that is refused
            # below): neither changes the pixels, nor is it the user's to act on here.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                original_mode = image.mode
                image = _eight_bit(image).convert(PIL_MODES[c])
    except Image.DecompressionBombError:
        # Pillow refuses to decode more than 2 * Image.MAX_IMAGE_PIXELS pixels (a compressed
        # file can claim any size); say so in the user's terms.
        raise RunError(f"cannot read {path}: the image is larger than "
                       f"{2 * Image.MAX_IMAGE_PIXELS:,} pixels, too many to decode safely",
                       hint=f"resize it to about {size_text(h, w)}, the model's input, "
                            "first") from None
    except PICTURE_DAMAGE as exc:  # no picture Pillow knows, a damaged one, or a disk's error
        raise _unreadable(f"cannot read {path} as an image: {reason(exc)}", exc,
                          hint="give a PNG or JPEG file, or a .npy array") from None
    notes = []
    if c == 1 and original_mode in COLOUR_MODES:
        # A colour picture fed to a greyscale model loses its colour; say so.
        notes.append(f"converted {original_mode} to greyscale")
    if c == 3 and original_mode != "RGB":
        # A grey picture given to a colour model has no colour to tell, and a transparent
        # one (RGBA, LA) loses its transparency: the model sees what lies beneath it.
        notes.append(f"converted {original_mode} to RGB")
    if image.size != (w, h):
        notes.append(f"resized {size_text(image.height, image.width)} -> {size_text(h, w)}")
        shrink = image.width >= w and image.height >= h
        image = image.resize((w, h), Image.Resampling.BOX if shrink
                             else Image.Resampling.BILINEAR)
    x = np.asarray(image, dtype=dtype) / 255.0
    x = x[None] if c == 1 else x.transpose(2, 0, 1)  # (H, W, 3) -> (3, H, W)
    if c == 1 and (invert if invert is not None else has_light_background(x[0])):
        x = 1.0 - x
        notes.append("inverted to light strokes on a dark background, like the training data")
    return np.ascontiguousarray(x, dtype=dtype), "; ".join(notes) or None


def _eight_bit(image):
    """16-bit greyscale (PNG mode "I;16", or "I") as 8-bit "L": Pillow's own conversion clips
    every value above 255 to white, which would turn the picture into a blank."""
    from PIL import Image  # Pillow loads only to write an image

    if image.mode not in SIXTEEN_BIT_MODES:
        return image
    values = np.asarray(image, dtype=np.float64) / 65535.0
    return Image.fromarray(np.round(255.0 * np.clip(values, 0.0, 1.0)).astype(np.uint8), "L")


def has_light_background(x: np.ndarray) -> bool:
    """Whether the border of an (H, W) image in [0, 1] is on average lighter than 0.5."""
    border = np.concatenate([x[0], x[-1], x[1:-1, 0], x[1:-1, -1]])
    return float(border.mean()) > LIGHT_BACKGROUND
