"""The ``npz:PATH`` dataset: the user's own arrays in a NumPy ``.npz`` file.

Keys: ``x`` images (N, C, H, W) or (N, H, W) (one channel), uint8 0..255 or float in [0, 1];
``y`` (N,) integer labels 0..K-1. Optional: ``x_test`` and ``y_test`` (else a fixed stratified
80/20 split of ``x``, from ``numpy.random.default_rng(SPLIT_SEED)``, independent of the run's
seed) and ``classes`` (K strings naming the labels, else "0".."K-1"). The file is read with
``allow_pickle=False``: object arrays are refused.
"""
from __future__ import annotations

import unicodedata
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from cnnspec.data import arrayfiles
from cnnspec.data.arrayfiles import DamagedArray
from cnnspec.data.arrays import holds_integers, to_unit_float
from cnnspec.data.dataset import Dataset, stratified_split
from cnnspec.dtypes import DEFAULT_DTYPE
from cnnspec.errors import RunError, WordedError, counted, literal, shortened, shown_path
from cnnspec.sourcefile import (
    absence,
    check_path_hint,
    is_special,
    located,
    not_a_regular_file,
    not_found,
)

SPLIT_SEED = 0
# Labels are class indices 0..K-1. A label above this is an id, not an index (ImageNet-21k
# has 21,841 classes); taken at its word it would need that many class names and outputs.
MAX_CLASSES = 1_000_000
TEST_FRACTION = 0.2
# The arrays of an .npz dataset, by key: what each holds, and whether the file must hold
# it. The reader below reads these keys, and docs/data.md's table of them is generated from
# here (cnnspec/data/docs.py).
X, Y, X_TEST, Y_TEST, CLASSES = "x", "y", "x_test", "y_test", "classes"
NPZ_KEYS = {
    X: (("images, `(N, C, H, W)`, or `(N, H, W)` for one channel; `uint8` 0..255 (divided by "
        "255) or floats in [0, 1]"), True),
    Y: (("`(N,)` integer labels `0..K-1` (labels counted from 1, with no image of label 0, are "
        f"refused unless `{CLASSES}` names label 0 too; a training file of one class is "
        "refused: a classifier has nothing to tell apart)"), True),
    X_TEST: ((f"the test images, as `{X}`; give `{X_TEST}` and `{Y_TEST}` both or neither. "
             f"Without them a fixed stratified {TEST_FRACTION:.0%} of `{X}` is the test split "
             "(the same for every seed)"), False),
    Y_TEST: (f"the test labels, as `{Y}`", False),
    CLASSES: ("`(K,)` strings naming the labels (else `0` .. `K-1`)", False),
}
# What to give instead of a device, a pipe or a socket.
SPECIAL_HINT = "save the arrays with np.savez(PATH, x=images, y=labels)"
HINT = ("save it with np.savez(PATH, x=images, y=labels), images (N, C, H, W) or (N, H, W), "
        "labels integers 0..K-1")


def read_npz(path: str) -> dict[str, np.ndarray]:
    """All arrays of the file; unreadable files and pickled objects are RunErrors."""
    place = located(path)
    if is_special(place):
        raise not_a_regular_file(path, SPECIAL_HINT)
    why = absence(place, Path.is_file)
    if why == "" and place.is_dir():  # "": a name the system could look up
        raise WordedError(literal(folder_named(path)), hint=literal(folder_hint(path)))
    if why is not None:
        raise WordedError(literal(not_found("npz file", path, why)),
                          hint=literal(check_path_hint(path)))
    # An .npz is a zip archive; anything else (a .npy, text) would make np.load return a
    # bare array or complain about pickled data, which would mislead the user.
    if not zipfile.is_zipfile(place):
        raise RunError(f"cannot read {path}: not a .npz file (a .npz is a zip archive of "
                       "named arrays; a single .npy array has no labels)", hint=HINT)
    try:
        return arrayfiles.read_npz(place)
    except (OSError, DamagedArray) as exc:
        raise RunError(f"cannot read {path} as a .npz file: {exc}", hint=HINT) from None


def folder_named(path: str) -> str:
    """The message for an ``npz`` setting whose path is a folder (a run folder, the folder
    of the arrays): an .npz file is wanted."""
    return f"{shown_path(path)} is a folder, not an .npz file"


# How many of a folder's .npz files a hint names.
NAMED_FILES = 3


def folder_hint(path: str) -> str:
    """What to give instead of the folder ``path``: the .npz files it holds, or how to write
    one."""
    held = sorted(str(Path(path) / file.name) for file in located(path).glob("*.npz"))
    if held:
        return f"name the .npz file itself: {', '.join(map(shown_path, held[:NAMED_FILES]))}"
    return f"name an .npz file; {HINT}"


def images_nchw(x: np.ndarray, key: str, path: str, dtype: str = DEFAULT_DTYPE) -> np.ndarray:
    """``x`` as (N, C, H, W) ``dtype`` in [0, 1]; (N, H, W) gets one channel."""
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise RunError(f"{path}: {key!r} has shape {x.shape}; expected (N, C, H, W) or "
                       "(N, H, W)", hint=HINT)
    if len(x) == 0:
        raise RunError(f"{path}: {key!r} holds no images", hint=HINT)
    if 0 in x.shape[1:]:  # the spec's input was told to take the shape: `input 1x8x0`
        raise RunError(f"{path}: {key!r} has shape {x.shape}: its images hold no pixels",
                       hint=HINT)
    return to_unit_float(x, f"{path}: {key!r}", dtype)


def labels(y: np.ndarray, key: str, path: str, n: int) -> np.ndarray:
    """``y`` as (N,) int64 labels >= 0, one per image."""
    if y.ndim != 1:
        raise RunError(f"{path}: {key!r} has shape {y.shape}; expected (N,) labels",
                       hint=ONE_HOT_HINT if _one_hot(y) else HINT)
    if len(y) != n:
        raise RunError(f"{path}: {len(y)} labels in {key!r} but {n} images", hint=HINT)
    if not holds_integers(y):
        raise RunError(f"{path}: labels {key!r} have dtype {y.dtype}, not integers",
                       hint="store class indices 0..K-1 as integers (e.g. y.astype(np.int64))")
    if y.size and y.min() < 0:
        raise RunError(f"{path}: labels {key!r} include negative values ({y.min()})", hint=HINT)
    if y.size and y.max() >= MAX_CLASSES:
        raise RunError(f"{path}: labels {key!r} go up to {y.max()}; labels are class indices "
                       f"0..K-1, with at most {MAX_CLASSES:,} classes",
                       hint="number the classes from 0 (e.g. np.unique(y, return_inverse=True)"
                       "[1] turns ids into indices)")
    return y.astype(np.int64)


# Keras' to_categorical (floats) and PyTorch's F.one_hot (integers) store a label as a row of
# K numbers.
ONE_HOT_HINT = ("the labels look one-hot, a row of 0s with one 1 per image: save the class "
                "indices instead, y.argmax(axis=1)")


def _one_hot(y: np.ndarray) -> bool:
    """Whether (N, K) labels hold one 1 in each row and 0 elsewhere."""
    return (y.ndim == 2 and y.shape[1] > 1 and y.size > 0 and y.dtype.kind in "iuf"
            and bool(np.isin(y, (0, 1)).all()) and bool((y.sum(axis=1) == 1).all()))


def refuse_labels_from_one(y_train: np.ndarray, y_test: np.ndarray,
                           arrays: dict[str, np.ndarray], path: str) -> None:
    """Stop when no image has label 0 and no ``classes`` array names the labels: labels
    counted from 1 (as MATLAB and many CSV files count them) would make class 0 an output no
    image trains, and every label one class off its name."""
    if CLASSES in arrays or (y_train == 0).any() or (y_test == 0).any():
        return
    lowest = int(min(y_train.min(), y_test.min()))
    highest = int(max(y_train.max(), y_test.max()))
    raise RunError(f"{path}: no image has label 0 (the labels run from {lowest} to {highest}); "
                   "labels are class indices 0..K-1",
                   hint=f"number the classes from 0, e.g. y - {lowest} (or give a 'classes' "
                   "array naming every label from 0)")


def refuse_labels_outside(y: np.ndarray, key: str, path: str, n_classes: int) -> None:
    """Stop at the first label of ``y`` (the file's array ``key``) that no class of the
    ``n_classes`` a network was trained on has: it cannot be scored. Named by its index in
    the file's array, where the user can look it up."""
    outside = np.flatnonzero(y >= n_classes)
    if not len(outside):
        return
    first, highest = int(outside[0]), n_classes - 1
    others = (f", and {counted(len(outside) - 1, 'more label', 'more labels')} above {highest}"
              if len(outside) > 1 else "")
    images = X_TEST if key == Y_TEST else X
    raise RunError(f"{path}: {key!r} holds label {int(y[first])} at index {first}{others}; "
                   f"the network was trained on {n_classes} classes, labels 0..{highest}",
                   hint=f"keep only the images of labels 0..{highest} (keep = {key} <= "
                   f"{highest}; {images}[keep], {key}[keep]), or train a new run on data of "
                   "these classes")


def class_names(arrays: dict[str, np.ndarray], path: str, n_classes: int,
                unnamed: int | None = None) -> list[str]:
    """The ``classes`` array as strings (at least ``n_classes`` of them, one per label), or
    "0".."K-1" for K = ``unnamed`` (default ``n_classes``)."""
    if CLASSES not in arrays:
        return [str(i) for i in range(n_classes if unnamed is None else unnamed)]
    names = arrays[CLASSES]
    if names.ndim != 1 or len(names) < n_classes:
        raise RunError(f"{path}: 'classes' must list at least {n_classes} names "
                       f"(one per label), got shape {names.shape}", hint=HINT)
    names = [_name_text(v, label, path) for label, v in enumerate(names)]
    for label, name in enumerate(names):
        _refuse_unprintable(name, label, path)
    # Two labels of one name could not be told apart in an evaluation's table or a
    # prediction's probabilities (keyed by name).
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    if twice:
        raise RunError(f"{path}: 'classes' names {shortened(twice[0], 40)!r} more than once",
                       hint="give each label its own name")
    return names


def _name_text(value, label: int, path: str) -> str:
    """One entry of ``classes`` as text: bytes (``np.array([b'cat'])``, dtype S) are read as
    UTF-8, not shown as their repr (``b'cat'``)."""
    if not isinstance(value, bytes):
        return str(value)
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        quoted = shortened(repr(bytes(value)), 60)
        raise RunError(f"{path}: 'classes' name {quoted} of label {label} is not UTF-8 text "
                       f"(byte {value[exc.start]:#04x} at {exc.start})",
                       hint="store the names as text, e.g. np.array(['cat', 'dog']), or "
                       "as UTF-8 bytes") from None


def _refuse_unprintable(name: str, label: int, path: str) -> None:
    """Stop at a class name that cannot stand in a table cell: empty or blank (no cell says
    which class it is), or holding a control character (a newline breaks the table's rows, a
    terminal escape sequence would be obeyed by the terminal that prints it)."""
    if not name.strip():
        raise RunError(f"{path}: 'classes' gives label {label} an empty name",
                       hint="name every label, e.g. np.array(['cat', 'dog'])")
    control = next((char for char in name if unicodedata.category(char) == "Cc"), None)
    if control is not None:
        raise RunError(f"{path}: 'classes' name {shortened(repr(name), 60)} of label {label} "
                       f"holds the control character {control!r}",
                       hint="class names are printed in tables: use letters, digits, spaces "
                       "and punctuation")


def split_or_given(arrays: dict[str, np.ndarray], path: str, dtype: str = DEFAULT_DTYPE):
    """(x_train, y_train, x_test, y_test) from the file's test arrays or a fixed split, the
    images in ``dtype``."""
    for key in (key for key, (_, required) in NPZ_KEYS.items() if required):
        if key not in arrays:
            found = ", ".join(sorted(arrays)) or "none"
            hint = HINT
            if f"{key}_train" in arrays:  # a common layout elsewhere; name the rename
                hint = ("name the training arrays x and y, not x_train and y_train "
                        "(np.savez(PATH, x=..., y=..., x_test=..., y_test=...))")
            raise RunError(f"{path}: missing array {key!r} (found: {found})", hint=hint)
    x = images_nchw(arrays[X], X, path, dtype)
    y = labels(arrays[Y], Y, path, len(x))
    has_test = (X_TEST in arrays, Y_TEST in arrays)
    if any(has_test) and not all(has_test):
        missing = Y_TEST if has_test[0] else X_TEST
        raise RunError(f"{path}: {missing!r} is missing; give both x_test and y_test or "
                       "neither", hint=HINT)
    if all(has_test):
        x_test = images_nchw(arrays[X_TEST], X_TEST, path, dtype)
        y_test = labels(arrays[Y_TEST], Y_TEST, path, len(x_test))
        if x_test.shape[1:] != x.shape[1:]:
            raise RunError(f"{path}: 'x_test' images are {x_test.shape[1:]} but 'x' images are "
                           f"{x.shape[1:]}", hint="both must have the same (C, H, W)")
        return x, y, x_test, y_test
    n_test = split_test_count(len(x))
    if n_test is None:
        raise RunError(f"{path}: {counted(len(x), 'image')} "
                       f"{'is' if len(x) == 1 else 'are'} too few to split into train and test",
                       hint="give at least 5 images, or x_test and y_test")
    train, test = stratified_split(y, n_test, np.random.default_rng(SPLIT_SEED))
    return x[train], y[train], x[test], y[test]


def training_image_count(path: str) -> int | None:
    """How many training images the file at ``path`` holds (:func:`split_or_given`'s x_train),
    counted from the headers of its labels and test images alone, no array read: ``y``'s
    length where the file gives a test split, else what the fixed split leaves to train on.
    None where the headers cannot tell (no file, a damaged one, no labels, too few to split):
    loading the file says why."""
    place = located(path)
    if is_special(place):  # a pipe would block the read; loading refuses it
        return None
    try:
        shapes = arrayfiles.npz_member_shapes(place, [Y, X_TEST])
    except (OSError, DamagedArray, zipfile.BadZipFile):
        return None
    if not shapes[Y]:
        return None
    n = shapes[Y][0]
    if shapes[X_TEST] is not None:
        return n
    n_test = split_test_count(n)
    return None if n_test is None else n - n_test


def split_test_count(n: int) -> int | None:
    """How many of ``n`` images the fixed split tests on (:data:`TEST_FRACTION` of them);
    None where that leaves no test image or no training image."""
    n_test = round(TEST_FRACTION * n)
    return n_test if 1 <= n_test < n else None


def file_digest(path: str | Path) -> str:
    """A digest of the file's bytes (BLAKE2b, 128 bits): what a run records of its npz file,
    so that a resumed run finds out that the file at that place has changed since (it would
    go on, on other data, as another run)."""
    import hashlib  # a run's start and resume only

    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_npz(path: str, dtype: str = DEFAULT_DTYPE, n_classes: int | None = None) -> Dataset:
    """The user's dataset in ``path`` (see the module docstring for the keys), its images in
    ``dtype``.

    ``n_classes``: how many classes the labels index where that is known before the file is
    read (a trained network's): the file may then hold images of only some of them (a test
    file of digits 5..9 for a network of the ten), a file without a ``classes`` array has
    "0".."n_classes-1" for names, and a label at or above ``n_classes`` is refused. None: the
    labels tell, 0 up to the highest.
    """
    arrays = read_npz(path)
    x_train, y_train, x_test, y_test = split_or_given(arrays, path, dtype)
    labelled = int(max(y_train.max(), y_test.max())) + 1
    if n_classes is None:
        refuse_labels_from_one(y_train, y_test, arrays, path)
    else:
        for key in (key for key in (Y, Y_TEST) if key in arrays):
            refuse_labels_outside(arrays[key], key, path, n_classes)
    classes = class_names(arrays, path, labelled, n_classes)
    c, h, w = x_train.shape[1:]
    source = f"{X_TEST}/{Y_TEST}" if X_TEST in arrays else "a fixed 80/20 split"
    description = (f"arrays from {path}: {c}x{h}x{w}, {len(classes)} classes; "
                   f"{len(x_train)} train / {len(x_test)} test ({source})")
    return Dataset("npz", x_train, y_train, x_test, y_test, classes, description)
