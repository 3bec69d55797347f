"""Reading and writing the files of a run directory safely.

Every write goes through :func:`cnnspec.atomic.atomic_write` (a temporary file moved over the
target: either the old file or the new one, never half of one), and
:func:`cnnspec.atomic.remove_stale_temporaries` deletes the temporary files of writers killed
mid-write. Arrays are stored as ``.npz`` and read back by :mod:`cnnspec.data.arrayfiles` (no pickle,
sizes checked before anything is allocated), so opening a run folder can never execute code
or exhaust memory.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np

from cnnspec.atomic import atomic_write, write_text
from cnnspec.data import arrayfiles
from cnnspec.data.arrayfiles import DamagedArray
from cnnspec.errors import RunError, WordedError, literal


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` as an uncompressed ``.npz``, atomically."""
    arrays = {key: np.asarray(value) for key, value in arrays.items()}
    for key, value in arrays.items():
        if value.dtype == object:
            raise TypeError(f"array {key!r} has dtype object and would need pickle")
    atomic_write(path, lambda f: np.savez(f, **arrays))


# Where a run's missing file sends the user (a WordedError template: the command as typed)
WRITTEN_BY_TRAIN = "is this a run folder written by `{train_command}`?"


def read_npz(path: Path, what: str = "checkpoint") -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file (loaded eagerly, pickle refused)."""
    path = Path(path)
    if not path.is_file():
        raise WordedError(literal(f"{what} file {path} does not exist"), hint=WRITTEN_BY_TRAIN)
    damaged = "the file is damaged; train again or resume from another run"
    # Checked first: np.load takes anything else for a pickle and says so, which misleads.
    if not zipfile.is_zipfile(path):
        raise RunError(f"{what} file {path} cannot be read: it is not a .npz archive",
                       hint=damaged)
    try:
        return arrayfiles.read_npz(path)
    except (OSError, DamagedArray) as exc:
        raise RunError(f"{what} file {path} cannot be read: {exc}", hint=damaged) from None


def json_safe(value):
    """``value`` with every NaN or infinite float replaced by None: strict JSON has no NaN,
    and a figure that overflowed is better shown missing than as an invalid file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def csv_text(value) -> str:
    """A value of a JSON row (a run's metrics, a sweep's cell) as its CSV file writes it, so
    that it reads back as the JSON's: a text as it is, None empty, true and false as JSON
    writes them (as pandas reads them; Python's ``True`` reads back as a text in JSON
    terms), a number or a list as its JSON text (a float's shortest exact digits)."""
    if isinstance(value, str):
        return value
    return "" if value is None else json.dumps(value)


# A number in a JSON file cnnspec reads back: JSON gives ints for floats that happen to be
# whole, so a float field accepts ints.
NUMBER = (int, float)


def non_finite_at(value, at: str = "") -> tuple[str, float] | None:
    """Where ``value`` (as JSON gives it) holds its first NaN or infinite float, written
    ``best_value`` or ``extended[0].from_epochs``, and that float; None when it holds none.
    The files cnnspec writes hold none (:func:`json_safe`), but Python's JSON reader takes
    ``NaN`` and ``Infinity``: one in a file read back is damage."""
    if isinstance(value, float) and not math.isfinite(value):
        return at, value
    if isinstance(value, dict):
        items = ((f"{at}.{key}" if at else str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        items = ((f"{at}[{index}]", item) for index, item in enumerate(value))
    else:
        return None
    return next(filter(None, (non_finite_at(item, where) for where, item in items)), None)


def beyond_float(value) -> bool:
    """Whether ``value``, a number as JSON gives it, is a whole number past a float's range
    (1 and 400 zeros written out): JSON's ints have no bound, and ``math.isfinite`` or
    ``float()`` of one raises OverflowError where a figure read back is used."""
    return isinstance(value, int) and abs(value) > sys.float_info.max


def json_text(obj) -> str:
    """``obj`` as the run files write it: indented strict JSON (:func:`json_safe`), with a
    final newline."""
    return json.dumps(json_safe(obj), indent=2, allow_nan=False) + "\n"


def write_json(path: Path, obj) -> None:
    """Write ``obj`` as :func:`json_text`, atomically."""
    write_text(path, json_text(obj))


def read_json(path: Path, what: str = "run file"):
    path = Path(path)
    if not path.is_file():
        raise WordedError(literal(f"{what} {path} does not exist"), hint=WRITTEN_BY_TRAIN)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunError(f"{what} {path} cannot be read: {exc}",
                       hint="the file is damaged; train again") from exc


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Rewrite a JSON-lines file with ``rows`` (one object per line), atomically."""
    text = "".join(json.dumps(json_safe(row), allow_nan=False) + "\n" for row in rows)
    write_text(path, text)


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rewrite a CSV file with ``rows`` (a header of every key, in first-seen order; a value
    missing from a row is empty), each value as :func:`csv_text` writes it, atomically."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: csv_text(value) for key, value in json_safe(row).items()}
                     for row in rows)
    text = buffer.getvalue()
    write_text(path, text)


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSON-lines file; a missing file has none. A damaged one is a
    :class:`RunError` naming the file and, where a line is no object, its line."""
    rows: list[dict] = []
    _read_jsonl_into(Path(path), rows)
    return rows


def intact_jsonl(path: Path) -> tuple[list[dict], RunError | None]:
    """The objects of a JSON-lines file up to its first damaged line (a file cut short by
    a disk that filled up keeps its earlier rows), and the error that line is (None where
    the whole file reads)."""
    rows: list[dict] = []
    try:
        _read_jsonl_into(Path(path), rows)
    except RunError as exc:
        return rows, exc
    return rows, None


def _read_jsonl_into(path: Path, rows: list[dict]) -> None:
    """Append the objects of the JSON-lines file ``path`` to ``rows``, one by one, so that
    those before a damaged line are kept when it raises."""
    if not path.is_file():
        return
    hint = "the metrics file is damaged; metrics.csv holds the same rows"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path} cannot be read: {exc}", hint=hint) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise RunError(f"{path}:{number}: not a JSON object: {exc}", hint=hint) from None
        if not isinstance(row, dict):
            raise RunError(f"{path}:{number}: not a JSON object but "
                           f"{type(row).__name__}", hint=hint)
        rows.append(row)
