"""``evaluate``: a trained run's loss, accuracy and confusion matrix on a test split."""
from __future__ import annotations

import math

from cnnspec.check.training import classes_scored
from cnnspec.data import load_dataset
from cnnspec.errors import (
    RunError,
    SettingError,
    WordedInputError,
    as_templates,
    counted,
    listed,
    literal,
)
from cnnspec.given import given_path, shown
from cnnspec.ir.datasets import canonical_name, class_count, image_shape, with_defaults
from cnnspec.shapes import shape_text
from cnnspec.training.compat import MOVED_RUN_DATA, check_data_fits
from cnnspec.training.run import Run
from cnnspec.training.scoring import confusion_matrix, per_class, score
from cnnspec.training.settings import given_data

TOP_K = (2, 3, 5)  # the top-k accuracies reported, where there are more classes than k


def evaluate(run: Run, data=None, data_dir=None) -> dict:
    """Score ``run``'s model on the test split of its own dataset, or of ``data`` (a name,
    ``npz:PATH`` or an IR data object), preprocessed as in training.

    Returns ``{"loss", "accuracy", "top_k_accuracy", "per_class", "confusion", "classes",
    "classes_present", "data", "examples"}``; ``top_k_accuracy`` maps k (2, 3, 5, fewer than
    the classes) to the share of examples whose class is among the k highest scores;
    ``per_class`` lists each class's precision, recall and support; ``confusion`` is a list of
    rows, row = true class, column = predicted class. ``classes`` are the run's, all of them:
    data may hold images of only some (``classes_present``, those of support above 0), as a
    test file of digits 0..4 for a run of the ten; accuracy is over the images given. A
    ``run`` that is no :class:`Run`, or ``data`` or ``data_dir`` of the wrong kind, is a
    :class:`~cnnspec.errors.SettingError` naming it.
    """
    if not isinstance(run, Run):  # a run folder's path, most likely
        raise SettingError(f"{{run}} takes a Run, not {shown(run)}", invalid=True,
                           hint="open a run folder first: run = cnnspec.load_run(path)")
    cfg = run.training["data"] if data is None else given_data(data)
    if data_dir is None:
        data_dir = run.summary.get("data_dir")
    else:
        data_dir = given_path(data_dir, "data_dir", "the folder datasets are cached in",
                              "~/.cache/cnnspec")
    # a dataset whose images or classes cannot fit is said before it downloads
    _check_run_fits(run, *_declared(cfg))
    try:
        dataset = load_dataset(cfg, run.training["seed"], data_dir, run.input_dtype,
                               n_classes=len(run.classes) or None)
    except RunError as exc:
        if image_shape(cfg) is not None:  # a download's failure: the run's
            raise
        # a data file that is missing or holds no images and labels: a mistake in what was
        # asked, as train and check answer it; the run's own file may have moved since
        message, hint = as_templates(exc)
        if data is None:
            hint = f"{hint}; {MOVED_RUN_DATA}" if hint else MOVED_RUN_DATA
        raise WordedInputError(message, hint=hint) from None
    _check_run_fits(run, dataset.name, dataset.input_shape, len(dataset.classes))
    _check_classes_match(run, dataset.name, list(dataset.classes))
    classes = list(run.classes) or list(dataset.classes)  # all the run has, scored or not
    check_data_fits(run.spec, dataset.input_shape, classes, dataset.name)
    x = run.prepare(dataset.x_test)
    result = score(run.model, x, dataset.y_test)  # non-finite scores: said below
    if not math.isfinite(result.loss):
        raise run.unusable_scores(f"the test split of '{dataset.name}'")
    matrix = confusion_matrix(dataset.y_test, result.predictions, len(classes))
    rows = [{"class": name, **row} for name, row in zip(classes, per_class(matrix))]
    return {
        "loss": result.loss,
        "accuracy": result.accuracy,
        "top_k_accuracy": {str(k): result.top_k_accuracy(k)
                           for k in TOP_K if k < len(classes)},
        "per_class": rows,
        "confusion": matrix.tolist(),
        "classes": classes,
        "classes_present": [row["class"] for row in rows if row["support"]],
        "data": cfg,
        "examples": len(dataset.y_test),
    }


def _declared(cfg: dict) -> tuple[str | None, tuple | None, int | None]:
    """The name, image shape (C, H, W) and class count the data ``cfg`` declares before it
    loads (a built-in or downloaded dataset's; None for what only its file tells)."""
    name = canonical_name(cfg.get("name"))
    if name is None:
        return None, None, None
    cfg = with_defaults(cfg)
    return name, image_shape(cfg), class_count(cfg)


def _check_run_fits(run: Run, name: str | None, shape: tuple | None,
                    classes: int | None) -> None:
    """A trained network cannot change its input or its number of outputs: say that the data
    is what must change, rather than pointing at the run's saved spec as if to edit it.
    Fewer classes than the run's fit (:func:`_check_classes_match` compares their names with
    the run's first ones). ``shape`` or ``classes`` None: not known yet."""
    trained = tuple(run.spec.input_shape)
    outputs = run.spec.output_shape[0] if len(run.spec.output_shape) == 1 else None
    if shape is not None and tuple(shape) != trained:
        problem = (f"images of shape {shape_text(tuple(shape))}, but the run takes "
                   f"{shape_text(trained)}")
    elif outputs is not None and classes is not None \
            and classes > classes_scored(run.training["loss"], outputs):
        problem = (f"{counted(classes, 'class', 'classes')}, but the run's "
                   f"network has {counted(outputs, 'output')}")
    else:
        return
    # a mistake in what was asked, as an image predict cannot take (exit 2), not a failure
    raise WordedInputError(literal(f"the data '{name}' has {problem}"),
                           hint="evaluate on data like the run's own (drop {data} to use it), "
                                "or train a new run on this data")


# The classes a message names where the data's differ from the run's; past these, counted.
SHOWN_DIFFERENCES = 3


def _check_classes_match(run: Run, name: str, classes: list[str]) -> None:
    """The run scores each output as the class it was trained on: data whose classes (no more
    than the run's, :func:`_check_run_fits`) are not the run's first ones, by name and order,
    would be scored against the wrong names. A mistake in what was asked, as a class count
    that does not fit is (exit 2), naming the classes that differ."""
    trained = list(run.classes or ())
    if not trained or classes == trained[:len(classes)]:
        return
    differ = [(i, ours, theirs) for i, (ours, theirs) in enumerate(zip(classes, trained))
              if ours != theirs]
    shown = [f"class {i} is '{ours}' there, '{theirs}' in the run" for i, ours, theirs
             in differ[:SHOWN_DIFFERENCES]]
    more = len(differ) - len(shown)
    if more:
        shown.append(f"and {counted(more, 'more class', 'more classes')}")
    order = " (the same names in another order)" if sorted(classes) == sorted(trained) else ""
    raise WordedInputError(
        literal(f"the data '{name}' names its classes otherwise than the run was trained "
                f"on{order}: {'; '.join(shown)}"),
        hint="evaluate on data with the run's classes in the run's order, "
             f"{literal(', '.join(trained))} (drop {{data}} to use the run's own), or train a "
             "new run on this data")


# The absent classes a note names; past these, counted.
SHOWN_ABSENT = 10


def absent_note(result: dict) -> str | None:
    """A note (a :class:`~cnnspec.errors.WordedError` template) of data that holds images of
    only some of the run's classes, naming those it lacks; None where it holds them all."""
    present, classes = result["classes_present"], result["classes"]
    absent = [name for name in classes if name not in set(present)]
    if not absent:
        return None
    named = absent[:SHOWN_ABSENT]
    if len(absent) > len(named):
        named.append(counted(len(absent) - len(named), "more", "more"))
    return literal(f"the data holds images of {len(present)} of the run's "
                   f"{counted(len(classes), 'class', 'classes')}; absent: {listed(named)} "
                   "(no recall, an empty row of the confusion matrix); the accuracy is over "
                   "the images given")


def format_per_class(rows: list[dict]) -> str:
    """An aligned table: class, precision, recall, support (``-`` where undefined; the recall
    of a class with no image, ``absent``)."""
    width = max(len("class"), *(len(str(row["class"])) for row in rows))

    def percent(value) -> str:
        return "-" if value is None else f"{100 * value:.1f}%"

    lines = [f"{'class'.ljust(width)}  precision  recall  support"]
    for row in rows:
        recall = percent(row["recall"]) if row["support"] else "absent"
        lines.append(f"{str(row['class']).ljust(width)}  {percent(row['precision']):>9}  "
                     f"{recall:>6}  {row['support']:>7}")
    return "\n".join(lines)


def format_confusion(confusion: list[list[int]], classes: list[str]) -> str:
    """An aligned text table: one row per true class, one column per predicted class."""
    labels = [str(c) for c in classes]
    corner = "true \\ predicted"
    width = max([len(label) for label in labels]
                + [len(str(v)) for row in confusion for v in row])
    first = max(len(label) for label in labels + [corner])
    lines = [corner.ljust(first) + "  " + " ".join(label.rjust(width) for label in labels)]
    for label, row in zip(labels, confusion):
        lines.append(label.ljust(first) + "  " + " ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)
