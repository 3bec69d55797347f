"""The datasets a spec can train on, declared once: names, arguments with their ranges, and
what an image and the labels look like.

Read by the language (``data shapes(size=32)``), the command line's ``--data``, the IR loader,
the checker (which validates a ``.json`` IR's data the same way the parser validates a
``.cnn`` file's), the data loaders and the docs. No NumPy here: the language and the command
line read this table without loading it. The datasets downloaded on first use are made from
their entries in :mod:`cnnspec.downloaded`, which the loader reads too.

Each dataset has one canonical name, the one the IR and run folders record, and may have
aliases: other spellings accepted wherever a name is read (``fashion_mnist``, which the
language can write as a bare word, for ``fashion-mnist``).
"""
from __future__ import annotations

import math

from cnnspec.downloaded import CIFAR10, FASHION_MNIST, MNIST, Download
from cnnspec.errors import float_text, hinted, literal
from cnnspec.ir.limits import FLOAT32_MAX, too_large_int
from cnnspec.records import record

# New classes go at the end: the images of the earlier ones, for a given seed and class list,
# stay what they were (cnnspec/data/synthetic_shapes.py draws them).
SHAPE_CLASSES = ("x", "plus", "o", "square", "hbar", "vbar", "diag", "antidiag", "triangle",
                 "diamond")
SHAPES_MIN_PER_CLASS = 5  # a few images of each class in the training and the test split
# The images of a shapes dataset are drawn in float64 before they are stored in float32; past
# this many pixel values (count x channels x size x size, 1 GiB of float32) drawing them takes more
# memory than a typical machine has: it is almost always a mistyped number.
SHAPES_MAX_PIXELS = 2**28


@record(frozen=True)
class Arg:
    """One argument of a dataset: its name, default, kind and range.

    ``kind`` is ``"int"``, ``"number"``, ``"bool"`` (true or false), ``"classes"`` (a list of
    :data:`SHAPE_CLASSES`) or ``"path"`` (a non-empty string); ``minimum`` bounds a number
    (inclusive) or the length of a list. ``hint`` says what the argument means and a typical value.
    """

    name: str
    default: object
    kind: str
    minimum: float | None = None
    hint: str = ""

    def problem(self, value) -> str | None:
        """What is wrong with ``value`` for this argument, in words ("must be at least 4, not
        2"), or None when it is fine."""
        if self.kind == "classes":
            return _classes_problem(value, int(self.minimum or 1))
        if self.kind == "path":
            good = isinstance(value, str) and value
            return None if good else f"must name a file, not {value!r}"
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, not {value!r}"
        not_a_number = number_problem(value, whole=self.kind == "int")
        if not_a_number:
            return not_a_number
        if self.minimum is not None and value < self.minimum:
            return (f"must be at least {float_text(float(self.minimum))}, not "
                    f"{float_text(float(value))}")
        return None

    def accepted(self) -> str:
        """What the argument takes, in words (``a whole number, at least 4``): for a value
        given where no hint of the language's says it (an IR data object from Python)."""
        if self.kind == "classes":
            return f"a list of at least {int(self.minimum or 1)} different class names"
        if self.kind == "path":
            return "a file's path"
        if self.kind == "bool":
            return "a bool (true or false)"
        what = "a whole number" if self.kind == "int" else "a finite number"
        return what if self.minimum is None else f"{what}, at least {float_text(self.minimum)}"

    def advice(self, value) -> str:
        """The hint for a ``value`` this argument refuses, as a hint template (see
        :class:`Problem`): what the argument means."""
        return literal(self.hint)


def number_problem(value, whole: bool = False) -> str | None:
    """What keeps ``value`` from being a finite number (a whole one if ``whole``), or None.
    JSON's true and false are not numbers, though Python counts them as ints."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a {'whole ' if whole else ''}number, not {value!r}"
    if whole and not isinstance(value, int):
        return f"must be a whole number, not {value!r}"
    if whole:
        return too_large_int(value)
    if isinstance(value, int) and abs(value) > FLOAT32_MAX:
        return f"must be a finite number, not one of {len(str(abs(value)))} digits"
    if not math.isfinite(value):
        return f"must be a finite number, not {value!r}"
    return None


def _classes_problem(value, least: int) -> str | None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        return "must be a list of shape class names"
    unknown = [v for v in value if v not in SHAPE_CLASSES]
    if unknown:
        return f"has an unknown shape class {unknown[0]!r}"
    repeated = [v for i, v in enumerate(value) if v in value[:i]]
    if repeated:
        return f"lists {repeated[0]!r} twice"
    if len(value) < least:
        return f"needs at least {least} classes, got {len(value)}"
    return None


@record(frozen=True)
class DatasetKind:
    """A dataset the IR can name. ``image`` (C, H, W) and ``classes`` (how many) are None when
    they depend on the arguments (shapes) or on the file (npz). ``digits``: its images are
    handwritten digits, which a mirror or a half turn makes another digit or none (the checker
    warns about such augmentation). ``mirror_pairs``: classes a left-right mirror turns into
    one another (shapes: a mirrored ``diag``, ``\\``, is an ``antidiag``, ``/``);
    ``turn_pairs``: ``(degrees, a, b)``, classes a turn by that angle turns into one another,
    so that an image of ``a`` turned by more than half of it lies nearer ``b`` (shapes: an
    ``x`` turned by 45 degrees is a ``plus``). Tested against the drawing code."""

    name: str
    description: str
    args: tuple[Arg, ...] = ()
    aliases: tuple[str, ...] = ()
    image: tuple[int, int, int] | None = None
    classes: int | None = None
    examples: int | None = None  # images, train and test together
    test_examples: int | None = None  # of those, the fixed test split's
    digits: bool = False
    mirror_pairs: tuple[tuple[str, str], ...] = ()
    turn_pairs: tuple[tuple[float, str, str], ...] = ()

    def arg(self, name: str) -> Arg:
        return next(a for a in self.args if a.name == name)

    @property
    def defaults(self) -> dict:
        return {a.name: a.default for a in self.args}


def _downloaded(source: Download, aliases: tuple[str, ...] = (), digits: bool = False
                ) -> DatasetKind:
    """The dataset of a download (:mod:`cnnspec.downloaded`), which says what it is; the IR
    adds the other spellings of its name and whether its images are digits."""
    return DatasetKind(source.name, source.listed, aliases=aliases, image=source.image,
                       classes=len(source.classes),
                       examples=source.train_examples + source.test_examples,
                       test_examples=source.test_examples, digits=digits)


# The fewest classes a classifier is trained to tell apart: with one, every loss here is at its
# least from the first step (cross-entropy over one score is 0) and nothing trains.
LEAST_CLASSES = 2

DATASETS: dict[str, DatasetKind] = {kind.name: kind for kind in (
    DatasetKind("digits", "UCI handwritten digits, 8x8 (built in)", image=(1, 8, 8), classes=10,
                examples=1797, test_examples=360, digits=True),
    DatasetKind("shapes", f"synthetic shapes of {len(SHAPE_CLASSES)} classes (generated from "
                "the seed)", args=(
                    # 4 is the least that draws; below about 8 pixels an "o" and a "square"
                    # become the same few pixels, so such a dataset is harder than it looks.
                    Arg("size", 16, "int", 4, "the images are size x size pixels; 16 is "
                        "the default, and the input line must say 1xSIZExSIZE"),
                    Arg("classes", list(SHAPE_CLASSES), "classes", LEAST_CLASSES,
                        f"choose among {', '.join(SHAPE_CLASSES)}; a class's position is its "
                        "label"),
                    Arg("count", 4000, "int", 1, "the number of images, train and "
                        "test together; 4000 is the default"),
                    Arg("noise", 0.1, "number", 0, "the standard deviation of the added "
                        "Gaussian noise; 0.1 is the default, 0 draws clean images"),
                    Arg("colour", False, "bool", hint="true draws each shape in a random "
                        "colour on a random background colour, 3 channels (the input line "
                        "then says 3xSIZExSIZE); false, the default, draws light on dark in "
                        "1 channel")),
                mirror_pairs=(("diag", "antidiag"),),
                turn_pairs=((45, "x", "plus"), (45, "square", "diamond"), (45, "hbar", "diag"),
                            (45, "hbar", "antidiag"), (45, "vbar", "diag"),
                            (45, "vbar", "antidiag"), (90, "hbar", "vbar"),
                            (90, "diag", "antidiag"))),
    _downloaded(MNIST, digits=True),
    _downloaded(FASHION_MNIST, aliases=("fashion_mnist",)),
    _downloaded(CIFAR10, aliases=("cifar-10", "cifar_10")),
    DatasetKind("npz", "your own arrays: npz:PATH with x (N, C, H, W) or (N, H, W) and integer "
                "labels y", args=(Arg("path", None, "path", hint='the .npz file\'s path, e.g. '
                                      '"data/train.npz"'),)),
)}
ALIASES = {alias: kind.name for kind in DATASETS.values() for alias in kind.aliases}


def canonical_name(name) -> str | None:
    """The canonical name of a dataset written ``name`` (itself or an alias), else None."""
    if not isinstance(name, str):
        return None
    name = ALIASES.get(name, name)
    return name if name in DATASETS else None


def with_defaults(data: dict) -> dict:
    """An IR ``training.data`` object with its canonical name and the arguments it leaves out
    filled in with their defaults (``{"name": "shapes", "size": 8}``, as a Python user may
    write it); an unknown name is left for :func:`problems` to report."""
    name = canonical_name(data.get("name"))
    return data if name is None else {**DATASETS[name].defaults, **data, "name": name}


def image_shape(data: dict) -> tuple[int, int, int] | None:
    """(C, H, W) of the images of a valid IR ``training.data`` object, if known before
    loading."""
    kind = DATASETS[canonical_name(data["name"])]
    if kind.name == "shapes":
        return (shapes_channels(data), data["size"], data["size"])
    return kind.image


def named_of_shape(shape: tuple[int, ...]) -> str | None:
    """How a spec names a dataset whose images are ``shape`` (C, H, W): a fixed one's name
    (``cifar10``), shapes with the arguments that draw such images (``shapes(size=24)``), or
    None."""
    fixed = next((kind.name for kind in DATASETS.values() if kind.image == tuple(shape)), None)
    if fixed is not None:
        return fixed
    c, h, w = shape
    if h != w or c not in (1, 3) or h < DATASETS["shapes"].arg("size").minimum:
        return None
    return f"shapes(size={h}{', colour=true' if c == 3 else ''})"


# shapes' test split: the last count // this of its images (80/20).
SHAPES_TEST_FRACTION_DENOMINATOR = 5


def training_count(data: dict) -> int | None:
    """How many images of a valid IR ``training.data`` object are in its training split
    (validation's included: what k-fold cross-validation cuts), if known before loading."""
    kind = DATASETS[canonical_name(data["name"])]
    if kind.name == "shapes":
        return data["count"] - data["count"] // SHAPES_TEST_FRACTION_DENOMINATOR
    if kind.examples is None or kind.test_examples is None:
        return None
    return kind.examples - kind.test_examples


def example_count(data: dict) -> int | None:
    """How many images, train and test together, a valid IR ``training.data`` object holds,
    if known before loading."""
    kind = DATASETS[canonical_name(data["name"])]
    return data["count"] if kind.name == "shapes" else kind.examples


def mirrored_classes(data: dict) -> list[tuple[str, str]]:
    """The pairs of classes of a valid IR ``training.data`` object that a left-right mirror
    turns into one another (both among its classes)."""
    kind = DATASETS[canonical_name(data["name"])]
    held = _classes_of(data)
    return [(a, b) for a, b in kind.mirror_pairs if {a, b} <= held]


def turned_classes(data: dict, degrees: float) -> list[tuple[float, str, str]]:
    """The pairs ``(turn, a, b)`` of classes of a valid IR ``training.data`` object (both among
    its classes) of which a turn by up to ``degrees`` draws some images of ``a`` nearer ``b``:
    those that ``turn`` makes one another, ``degrees`` more than half of it."""
    kind = DATASETS[canonical_name(data["name"])]
    held = _classes_of(data)
    return [(turn, a, b) for turn, a, b in kind.turn_pairs
            if {a, b} <= held and degrees > turn / 2]


def _classes_of(data: dict) -> set[str]:
    """The class names of a valid IR ``training.data`` object where it names them."""
    classes = data.get("classes")
    return set(classes) if isinstance(classes, list) else set()


def shapes_channels(data: dict) -> int:
    """How many channels the images of a valid shapes ``training.data`` object have: 3 in
    colour, else 1."""
    return 3 if data["colour"] else 1


def class_count(data: dict) -> int | None:
    """How many classes the labels of a valid IR ``training.data`` object have, if known
    before loading."""
    kind = DATASETS[canonical_name(data["name"])]
    return len(data["classes"]) if kind.name == "shapes" else kind.classes


@record(frozen=True)
class Problem:
    """A mistake in a dataset's arguments: which argument, what is wrong (a sentence naming
    the dataset and the argument) and how to fix it: ``hint`` as the library words it, and
    ``hint_template`` where it names a setting a run is given (the dtype a training setting
    needs: :meth:`cnnspec.errors.SpecError.worded_hint`)."""

    arg: str
    message: str
    hint: str
    hint_template: str | None = None


def spelled_out(what: str) -> str:
    """The hint template for an IR that leaves out one of its ``what`` (``"argument"``): the
    IR has them all, as export writes it."""
    return f"the IR spells out every {what} (`{{export_command}}` writes them)"


def problems(data: dict) -> list[Problem]:
    """Every mistake in an IR ``training.data`` object: an unknown name, unknown or missing
    arguments, values out of range, and arguments that do not work together."""
    name = canonical_name(data.get("name"))
    if name is None:
        return [Problem("name", f"unknown dataset {data.get('name')!r}",
                        "valid datasets: " + ", ".join(DATASETS))]
    kind = DATASETS[name]
    found = argument_problems(kind.name, kind.args, data)
    if kind.name == "shapes" and not found:
        found += _shapes_together(data)
    return found


def argument_problems(name: str, args, values: dict, **context) -> list[Problem]:
    """The mistakes in the arguments ``values`` (an IR object, its ``name`` aside) of ``name``,
    whose declared arguments are ``args`` (each with a ``name`` and ``problem`` and ``advice``
    methods, which are given ``context``: a training setting's, the dtype of the run; ``advice``
    gives a hint template): unknown
    ones, missing ones and values out of range."""
    names = [a.name for a in args]
    found = [Problem(key, f"{name} has no argument '{key}'",
                     f"{name} takes {', '.join(names)}" if names else f"{name} takes no "
                     "arguments")
             for key in values if key != "name" and key not in names]
    for arg in args:
        if arg.name not in values:
            found.append(Problem(arg.name, f"{name} needs a value for '{arg.name}'",
                                 **hinted(spelled_out("argument"))))
            continue
        problem = arg.problem(values[arg.name], **context)
        if problem:
            found.append(Problem(arg.name, f"{name} {arg.name} {problem}",
                                 **hinted(arg.advice(values[arg.name], **context))))
    return found


def _shapes_together(data: dict) -> list[Problem]:
    """Shapes arguments that are fine one by one but not together."""
    count, size, classes = data["count"], data["size"], len(data["classes"])
    channels = shapes_channels(data)
    least = SHAPES_MIN_PER_CLASS * classes
    if count < least:
        return [Problem("count", f"shapes count must be at least {least} ({SHAPES_MIN_PER_CLASS}"
                        f" images per class for {classes} classes), not {count}",
                        f"raise count to {least} or more, or list fewer classes")]
    if count * channels * size**2 > SHAPES_MAX_PIXELS:
        colour = " colour" if channels > 1 else ""
        return [Problem("count", f"shapes count of {count:,}{colour} images of {size}x{size}"
                        f" pixels is more than cnnspec draws ({SHAPES_MAX_PIXELS:,} pixels in "
                        "all)", _shapes_pixels_hint(count, channels, size, least))]
    return []


def _shapes_pixels_hint(count: int, channels: int, size: int, least: int) -> str:
    """What fits in :data:`SHAPES_MAX_PIXELS`: fewer images of this size when enough of them
    fit to hold every class, else smaller images for this count, else fewer of the smallest."""
    smallest = int(DATASETS["shapes"].arg("size").minimum)
    most = SHAPES_MAX_PIXELS // (channels * size**2)
    if most >= least:
        return f"at this size, at most {most:,} images" + (
            "; or make them smaller" if size > smallest else "")
    side = math.isqrt(SHAPES_MAX_PIXELS // (channels * count))
    if side >= smallest:
        return f"{count:,} images fit at up to {side}x{side} pixels (size={side}); or fewer images"
    return (f"at the smallest size, {smallest}x{smallest}, at most "
            f"{SHAPES_MAX_PIXELS // (channels * smallest**2):,} images")
