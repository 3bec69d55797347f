"""Damaged and odd ``.npz`` data files, made from a seed: the cases of ``tests/test_fuzz_npz.py``.

Each case starts from a good file (``x`` float32 (30, 1, 8, 8) in [0, 1], ``y`` labels 0..2,
which the spec ``SPEC`` trains on) and applies one or more damages: to the archive (cut short,
a member that is no ``.npy``, a terabyte declared, a pickled member, compression, a
compressed stream damaged), to the
images (dtypes from bool to datetime, NaN, infinities, values outside [0, 1] or 0..255,
(N, H, W), 2-D and 5-D arrays, no images, another size), to the labels (negative, fractional,
out of range, from 1, another count) or to the optional arrays (one of ``x_test``/``y_test``
alone, another image size, ``classes`` as bytes, with duplicates, control characters, or too
few names).
"""
from __future__ import annotations

import io
import random
import struct
import warnings
import zipfile

import numpy as np

SPEC = """\
input 1x8x8
c1: conv 4 3x3 relu
flatten
fc: dense 3
train {
  data npz(path="data.npz")
  batch_size 8
}
"""
IMAGES, CLASSES = 30, 3
# The same network with settings that read the data in other ways: data-driven init (LSUV),
# batch norm, most images held out to validate, per-channel preprocessing, augmentation, one
# score per image (bce needs 2 classes: most files are refused by it, which is meant).
SPECS = [SPEC] + [SPEC.replace(old, new) for old, new in (
    ("conv 4 3x3 relu", "conv 4 3x3 weight lsuv relu"),
    ("conv 4 3x3 relu", "conv 4 3x3\nbn1: batchnorm\nrelu1: relu"),
    ("batch_size 8", "batch_size 8\n  val_split 0.9\n  early_stop 1"),
    ("batch_size 8",
     "batch_size 64\n  preprocess zero_center\n  augment [crop(pad=2), flip, noise(0.05)]"),
    ("fc: dense 3", "fc: dense 2"),
    ("fc: dense 3\ntrain {", "fc: dense 1\ntrain {\n  loss bce"),
)]


def good_arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {"x": rng.random((IMAGES, 1, 8, 8), dtype=np.float32),
            "y": np.arange(IMAGES) % CLASSES}


# Damages to the arrays, each (name, function of (arrays, rng) -> arrays).

def _x_as(dtype):
    def damage(arrays, rng):
        x = arrays["x"]
        if np.dtype(dtype).kind in "iub":
            x = (x * 255).astype(dtype) if dtype != np.bool_ else x > 0.5
        elif np.dtype(dtype).kind in "mM":
            x = (x * 255).astype(np.int64).astype(dtype)
        else:
            x = x.astype(dtype)
        return {**arrays, "x": x}
    return damage


def _x_values(value):
    def damage(arrays, rng):
        x = arrays["x"].copy()
        x.flat[rng.integers(x.size)] = value
        return {**arrays, "x": x}
    return damage


def _x_shape(shape_of):
    def damage(arrays, rng):
        x = arrays["x"]
        return {**arrays, "x": np.resize(x, shape_of(len(x)))}
    return damage


def _y_as(make):
    def damage(arrays, rng):
        return {**arrays, "y": make(arrays["y"], rng)}
    return damage


def _with(key, make):
    def damage(arrays, rng):
        return {**arrays, key: make(arrays, rng)}
    return damage


def _without(key):
    def damage(arrays, rng):
        return {k: v for k, v in arrays.items() if k != key}
    return damage


def _renamed(old, new):
    def damage(arrays, rng):
        out = {k: v for k, v in arrays.items() if k != old}
        if old in arrays:
            out[new] = arrays[old]
        return out
    return damage


def _test_split(n_test, shape=None):
    """x_test/y_test: the last ``n_test`` images split off (another image shape if given)."""
    def damage(arrays, rng):
        x, y = arrays["x"], arrays["y"]
        if n_test >= len(x):
            return arrays
        x_test = x[-n_test:] if shape is None else np.resize(x[-n_test:], (n_test, *shape))
        return {**arrays, "x": x[:-n_test], "y": y[:-n_test], "x_test": x_test,
                "y_test": y[-n_test:]}
    return damage


def _few(n):
    def damage(arrays, rng):
        return {**arrays, "x": arrays["x"][:n], "y": arrays["y"][:n]}
    return damage


ARRAY_DAMAGES = [
    ("x bool", _x_as(np.bool_)), ("x uint8", _x_as(np.uint8)), ("x uint16", _x_as(np.uint16)),
    ("x uint16 > 255", lambda a, r: {**a, "x": (a["x"] * 60000).astype(np.uint16)}),
    ("x int8", _x_as(np.int8)), ("x int64", _x_as(np.int64)),
    ("x float16", _x_as(np.float16)), ("x float64", _x_as(np.float64)),
    ("x longdouble", _x_as(np.longdouble)),
    ("x complex64", _x_as(np.complex64)), ("x complex128", _x_as(np.complex128)),
    ("x datetime64", _x_as("datetime64[s]")), ("x timedelta64", _x_as("timedelta64[s]")),
    ("x bytes", lambda a, r: {**a, "x": a["x"].astype("S4")}),
    ("x str", lambda a, r: {**a, "x": a["x"].astype("U4")}),
    ("x structured", lambda a, r: {**a, "x": np.zeros(a["x"].shape, "f4,f4")}),
    ("x nan", _x_values(np.nan)), ("x inf", _x_values(np.inf)), ("x -inf", _x_values(-np.inf)),
    ("x negative", _x_values(-0.5)), ("x above 1", _x_values(1.5)),
    ("x 255 float", lambda a, r: {**a, "x": a["x"] * 255}),
    ("x huge float", _x_values(1e38)),
    ("x constant", lambda a, r: {**a, "x": np.zeros_like(a["x"])}),
    ("x NHW", _x_shape(lambda n: (n, 8, 8))), ("x 5-D", _x_shape(lambda n: (n, 1, 1, 8, 8))),
    ("x 2-D", _x_shape(lambda n: (n, 64))), ("x 0-D", lambda a, r: {**a, "x": np.float32(0.5)}),
    ("x NHWC", _x_shape(lambda n: (n, 8, 8, 1))),
    ("x 3 channels", _x_shape(lambda n: (n, 3, 8, 8))),
    ("x 9x9", _x_shape(lambda n: (n, 1, 9, 9))), ("x 1x1", _x_shape(lambda n: (n, 1, 1, 1))),
    ("x 0 wide", _x_shape(lambda n: (n, 1, 8, 0))),
    ("x 0 channels", _x_shape(lambda n: (n, 0, 8, 8))),
    ("x no images", lambda a, r: {**a, "x": a["x"][:0], "y": a["y"][:0]}),
    ("x fortran", lambda a, r: {**a, "x": np.asfortranarray(a["x"])}),
    ("x non-contiguous", lambda a, r: {**a, "x": a["x"][:, :, ::-1, :]}),
    ("x big-endian", lambda a, r: {**a, "x": a["x"].astype(">f4")}),
    ("1 image", _few(1)), ("2 images", _few(2)), ("4 images", _few(4)), ("5 images", _few(5)),
    ("7 images", _few(7)),
    ("y negative", _y_as(lambda y, r: np.where(y == 0, -1, y))),
    ("y float integral", _y_as(lambda y, r: y.astype(np.float32))),
    ("y float fractional", _y_as(lambda y, r: y + 0.5)),
    ("y bool", _y_as(lambda y, r: y > 0)), ("y uint8", _y_as(lambda y, r: y.astype(np.uint8))),
    ("y int8", _y_as(lambda y, r: y.astype(np.int8))),
    ("y uint64 huge", _y_as(lambda y, r: np.where(y == 2, 2**63 + 5, y).astype(np.uint64))),
    ("y datetime", _y_as(lambda y, r: y.astype("datetime64[D]"))),
    ("y timedelta", _y_as(lambda y, r: y.astype("timedelta64[D]"))),
    ("y complex", _y_as(lambda y, r: y.astype(np.complex64))),
    ("y str", _y_as(lambda y, r: y.astype("U2"))),
    ("y from 1", _y_as(lambda y, r: y + 1)), ("y out of range", _y_as(lambda y, r: y * 2)),
    ("y huge id", _y_as(lambda y, r: np.where(y == 1, 10**9, y))),
    ("y one class", _y_as(lambda y, r: np.zeros_like(y))),
    ("y two classes", _y_as(lambda y, r: y % 2)),
    ("y 2-D", _y_as(lambda y, r: y[:, None])), ("y one-hot", _y_as(lambda y, r: np.eye(3)[y])),
    ("y 0-D", _y_as(lambda y, r: np.int64(1))), ("y short", _y_as(lambda y, r: y[:-1])),
    ("y long", _y_as(lambda y, r: np.concatenate([y, y[:1]]))),
    ("no x", _without("x")), ("no y", _without("y")),
    ("x_train", _renamed("x", "x_train")), ("y_train", _renamed("y", "y_train")),
    ("extra array", _with("z", lambda a, r: np.arange(3))),
    ("test split", _test_split(6)), ("test split 1", _test_split(1)),
    ("test split all but 1", _test_split(IMAGES - 1)),
    ("test 9x9", _test_split(6, (1, 9, 9))), ("test NHW", _test_split(6, (8, 8))),
    ("test 3 channels", _test_split(6, (3, 8, 8))),
    ("no x_test", _without("x_test")), ("no y_test", _without("y_test")),
    ("x_test only", _with("x_test", lambda a, r: a["x"][:4])),
    ("y_test only", _with("y_test", lambda a, r: a["y"][:4])),
    ("y_test class 5", _with("y_test", lambda a, r: np.full(len(a.get("x_test", a["x"][:4])), 5))),
    ("y_test negative",
     _with("y_test", lambda a, r: -np.ones(len(a.get("x_test", a["x"][:4])), int))),
    ("x_test empty", _with("x_test", lambda a, r: a["x"][:0])),
    ("classes", _with("classes", lambda a, r: np.array(["a", "b", "c"]))),
    ("classes bytes", _with("classes", lambda a, r: np.array([b"a", b"b", b"c"]))),
    ("classes latin-1 bytes", _with("classes", lambda a, r: np.array([b"\xe9", b"b", b"c"]))),
    ("classes duplicates", _with("classes", lambda a, r: np.array(["a", "a", "c"]))),
    ("classes newline", _with("classes", lambda a, r: np.array(["a\nb", "b", "c"]))),
    ("classes escape", _with("classes", lambda a, r: np.array(["\x1b[31mred", "b", "c"]))),
    ("classes empty", _with("classes", lambda a, r: np.array(["", "b", "c"]))),
    ("classes blank", _with("classes", lambda a, r: np.array(["  ", "b", "c"]))),
    ("classes too few", _with("classes", lambda a, r: np.array(["a", "b"]))),
    ("classes too many", _with("classes", lambda a, r: np.array(["a", "b", "c", "d"]))),
    ("classes 2-D", _with("classes", lambda a, r: np.array([["a", "b", "c"]]))),
    ("classes 0-D", _with("classes", lambda a, r: np.array("abc"))),
    ("classes numbers", _with("classes", lambda a, r: np.array([1.5, 2.5, 3.5]))),
    ("classes ints", _with("classes", lambda a, r: np.array([0, 0, 1]))),
    ("classes long", _with("classes", lambda a, r: np.array(["x" * 5000, "b", "c"]))),
    ("classes unicode", _with("classes", lambda a, r: np.array(["кот", "🐕", "e\u0301"]))),
    ("classes bidi", _with("classes", lambda a, r: np.array(["a\u202eb", "b", "c"]))),
]


# Damages to the archive's bytes, each (name, function of (bytes, rng) -> bytes).

def _npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_twice(members: dict[str, bytes]) -> bytes:
    """An archive holding each member twice (zipfile warns, and writes it)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(buffer, "w") as archive:
        warnings.simplefilter("ignore")
        for name, data in [*members.items(), *members.items()]:
            archive.writestr(name, data)
    return buffer.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _member_changed(change):
    def damage(data, rng):
        members = _members(data)
        name = sorted(members)[rng.randrange(len(members))]
        members[name] = change(members[name], rng)
        return _zip(members)
    return damage


def _huge_header(npy: bytes, rng) -> bytes:
    header = ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000, 1, 1), }"
              .ljust(117) + "\n")
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + npy[-64:]


def _cut(data: bytes, rng) -> bytes:
    return data[:rng.randrange(len(data))]


def _flip(data: bytes, rng) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    return bytes(data)


def damaged_stream(data: bytes, name: str, at: int = 12) -> bytes:
    """The zip archive ``data`` with 16 bytes of its member ``name``'s stored stream, from
    byte ``at``, overwritten: the archive's directory stays sound, and a compressed member
    fails in its decompressor (zlib, bz2 or LZMA, each in its own way)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offset = archive.getinfo(name).header_offset
    # the local header: 30 bytes, then the name and an extra field of the lengths it gives
    name_length, extra_length = struct.unpack("<HH", data[offset + 26:offset + 30])
    start = offset + 30 + name_length + extra_length + at
    return data[:start] + b"\xff" * 16 + data[start + 16:]


ARCHIVE_DAMAGES = [
    ("archive cut", _cut), ("archive bytes flipped", _flip),
    ("archive empty", lambda d, r: b""), ("archive empty zip", lambda d, r: _zip({})),
    ("archive text", lambda d, r: b"x,y\n0.5,1\n"),
    ("archive .npy", lambda d, r: _npy(np.zeros((3, 8, 8), np.float32))),
    ("member cut", _member_changed(_cut)), ("member flipped", _member_changed(_flip)),
    ("member huge shape", _member_changed(_huge_header)),
    ("member text", _member_changed(lambda m, r: b"hello")),
    ("member empty", _member_changed(lambda m, r: b"")),
    ("member pickled", _member_changed(lambda m, r: _npy(np.array([{"a": 1}], dtype=object)))),
    ("member version 3", _member_changed(lambda m, r: m[:6] + b"\x03\x00" + m[8:])),
    ("member trailing bytes", _member_changed(lambda m, r: m + b"\0" * 8)),
    ("member not .npy", lambda d, r: _zip({**_members(d), "notes.txt": b"hello"})),
    ("member renamed", lambda d, r: _zip({k.replace(".npy", ".bin"): v
                                          for k, v in _members(d).items()})),
    ("member in folder", lambda d, r: _zip({"sub/" + k: v for k, v in _members(d).items()})),
    ("member twice", lambda d, r: _zip_twice(_members(d))),
    ("compressed", lambda d, r: _zip(_members(d), zipfile.ZIP_DEFLATED)),
    ("compressed stream damaged", lambda d, r: damaged_stream(
        _zip(_members(d), zipfile.ZIP_DEFLATED), min(_members(d)))),
    ("bzip2", lambda d, r: _zip(_members(d), zipfile.ZIP_BZIP2)),
    ("lzma", lambda d, r: _zip(_members(d), zipfile.ZIP_LZMA)),
    ("prefixed", lambda d, r: b"junk" * 10 + d),
]


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    members = {}
    for key, array in arrays.items():
        members[f"{key}.npy"] = _npy(array)
    return _zip(members)


def make_case(rng: random.Random) -> tuple[str, str, bytes]:
    """One case: its name (the spec's number in SPECS and the damages applied, in order), the
    spec's text and the file's bytes. Most cases damage the arrays once or twice; some damage
    the archive too."""
    which = rng.randrange(len(SPECS))
    arrays, names = good_arrays(), [f"spec {which}"]
    np_rng = np.random.default_rng(rng.randrange(2**32))
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        name, damage = rng.choice(ARRAY_DAMAGES)
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # casts that lose values: meant
                arrays, names = damage(arrays, np_rng), names + [name]
        except (KeyError, IndexError, TypeError, ValueError, OverflowError):
            continue  # needs an array an earlier damage removed, or of another shape
    data = npz_bytes(arrays)
    if rng.random() < 0.25:
        name, damage = rng.choice(ARCHIVE_DAMAGES)
        data, names = damage(data, rng), names + [name]
    return " + ".join(names), SPECS[which], data


def every_single_damage() -> list[tuple[str, str, bytes]]:
    """The good file with each spec, and each damage once, alone on it, with the first spec:
    the cases every run tries."""
    rng = random.Random(0)
    good = npz_bytes(good_arrays())
    cases = [(f"spec {which}", spec, good) for which, spec in enumerate(SPECS)]
    for name, damage in ARRAY_DAMAGES:
        cases.append((name, SPEC, npz_bytes(damage(good_arrays(), np.random.default_rng(0)))))
    for name, damage in ARCHIVE_DAMAGES:
        cases.append((name, SPEC, damage(good, rng)))
    return cases
