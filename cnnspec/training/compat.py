"""Does the data loaded fit the network, and training with it the machine's memory? The
checker has checked the data the spec declares; what a file holds (``npz``) is only known once
it is read, and is checked here the same way: by ``train`` once it has loaded the data, and by
``check``, which reads such a file for it (:func:`check_file_data`), so that what ``train``
would refuse ``check`` refuses first."""
from __future__ import annotations

from cnnspec.check.checker import as_error
from cnnspec.check.lint_catalogue import named_later
from cnnspec.check.lints import batch_fit
from cnnspec.check.memory import (
    MemoryEstimate,
    at_batch,
    estimate,
    memory_problems,
    training_batch,
    with_loaded_data,
    with_recording,
)
from cnnspec.check.model import CheckedSpec
from cnnspec.check.training import (
    data_fit_errors,
    data_misfits,
    input_fit_error,
    training_split_errors,
)
from cnnspec.errors import (
    InputError,
    RunError,
    SpecError,
    SpecErrors,
    WordedError,
    WordedInputError,
    as_templates,
    literal,
)
from cnnspec.ir.datasets import example_count, image_shape
from cnnspec.sourcefile import absence, check_path_hint, located, not_found


def check_data_fits(checked: CheckedSpec, input_shape, classes: list[str], data_name: str
                    ) -> None:
    """Raise :class:`SpecErrors` located at the spec's input (or output) when images of
    ``input_shape`` (C, H, W) or ``len(classes)`` labels do not fit the network."""
    errors = data_fit_errors(checked.spec, checked.layers, tuple(input_shape), len(classes),
                             data_name)
    if errors:
        raise SpecErrors(errors)


def check_training_split(checked: CheckedSpec, dataset, fold: tuple[int, int] | None = None
                      ) -> None:
    """Raise :class:`SpecErrors` where the training images of ``dataset`` (a
    :class:`cnnspec.data.dataset.Dataset`) cannot be split as the spec asks, in k-fold's
    ``fold`` ``(i, k)`` where given (:func:`~cnnspec.check.training.training_split_errors`):
    counted with the training images the file holds."""
    errors = training_split_errors(checked.spec, checked.layers, len(dataset.y_train), fold)
    if errors:
        raise SpecErrors(errors)


def check_training_memory(checked: CheckedSpec, dataset, recording: bool = False,
                          max_memory: int | None = None) -> list[SpecError]:
    """Raise :class:`SpecErrors` at the spec's heaviest layer when a process training it on
    ``dataset`` (a :class:`cnnspec.data.dataset.Dataset`) would not fit in the machine's
    memory: the data set counted as loaded where check could not know its size (an npz
    file's), and, when ``recording`` (``train --stats``), what a recorded step keeps, which
    check does not know of either. ``max_memory``: the limit in bytes (default: the machine's
    memory). Returns the warning of a process that fits but takes over half the memory,
    counted so (none where the checker counted everything: its own warning stands)."""
    if checked.step_memory is None or (checked.step_memory.data and not recording):
        return []  # counted by check already
    loaded = sum(a.nbytes for a in (dataset.x_train, dataset.y_train, dataset.x_test,
                                    dataset.y_test))

    def memory_at(batch: int) -> MemoryEstimate:
        spec = at_batch(checked.spec, batch)
        memory = estimate(spec, checked.layers, checked.dtype)
        if not memory.data:
            memory = with_loaded_data(memory, loaded)
        return with_recording(memory, spec, checked.layers) if recording else memory

    images = len(dataset.y_train) + len(dataset.y_test)
    memory = memory_at(training_batch(checked.spec, images))
    problems = memory_problems(checked.spec, memory, max_memory, memory_at=memory_at)
    errors = [e for e in problems if e.severity == "error"]
    if errors:
        raise SpecErrors(errors)
    return _kept(checked, named_later(memory_problems, problems))


def read_file_warnings(checked: CheckedSpec, max_memory: int | None = None
                       ) -> list[SpecError]:
    """The checker's warnings for a check that reads the spec's data file (``npz``): without
    its memory warning, which left the file's data uncounted; :func:`check_file_data` counts
    it, and warns (or refuses) with the data read. The checker's warnings as they are for
    other data."""
    if image_shape(checked.ir["training"]["data"]) is not None or checked.step_memory is None:
        return checked.warnings
    unread = named_later(memory_problems,
                   memory_problems(checked.spec, checked.step_memory, max_memory))
    return [w for w in checked.warnings if w not in unread]


def file_data_warnings(checked: CheckedSpec, dataset) -> list[SpecError]:
    """The checker's warnings about the data that only reading it tells (an npz file's number
    of images), for ``dataset`` (a :class:`cnnspec.data.dataset.Dataset`) loaded for
    ``checked``; none for data the checker knew without reading (it warned already)."""
    if example_count(checked.ir["training"]["data"]) is not None:
        return []
    return _kept(checked, named_later(batch_fit, batch_fit(
        checked.spec, len(dataset.y_train) + len(dataset.y_test), dataset.name)))


def _kept(checked: CheckedSpec, warnings: list[SpecError]) -> list[SpecError]:
    """``warnings`` found once the data is read, less those of the lints the check of
    ``checked`` silenced (:mod:`cnnspec.check.silence`)."""
    return checked.silences.kept(warnings) if checked.silences else warnings


def unread_file_warnings(checked: CheckedSpec) -> list[SpecError]:
    """What a command that describes the network without reading its data file (``npz``:
    ``summary``, ``time``) can still tell of it: a warning at the spec's data setting when the
    file is not there, and at its input when the images the file's header declares do not fit
    it, so that it says what ``train`` and ``check`` would refuse. The rest of the file (its
    labels, its values) is read by ``check``."""
    data = checked.ir["training"]["data"]
    if image_shape(data) is not None:
        return []
    path = data["path"]
    refused = "; train and check refuse the spec until it is there"
    why = absence(located(path))
    if why is not None:
        return _kept(checked, named_later(data_misfits, [checked.spec.error(
            f"{not_found('npz file', path, why)}{refused}", "training", "data", severity="warning",
            hint_template=f"{literal(check_path_hint(path))}; {UNREAD_HINT}")]))
    from cnnspec.data.arrayfiles import DamagedArray, npz_member_shape
    from cnnspec.data.npz import SPECIAL_HINT, folder_hint, folder_named
    from cnnspec.sourcefile import is_special, not_a_regular_file

    if located(path).is_dir():
        return _refused_file(checked, folder_named(path), folder_hint(path))
    if is_special(located(path)):  # a pipe, opened to read its header, would wait for a writer
        refusal = not_a_regular_file(path, SPECIAL_HINT)
        return _refused_file(checked, refusal.message, refusal.hint)

    try:
        shape = npz_member_shape(located(path), "x")
    except (OSError, DamagedArray):
        return []  # what is wrong with it is check's to say, reading it as train does
    if shape is None or len(shape) not in (3, 4):
        return []
    image = (1, *shape[1:]) if len(shape) == 3 else shape[1:]
    misfit = input_fit_error(checked.spec, image, "npz", severity="warning",
                             then=" (train and check refuse the spec)")
    return [] if misfit is None else _kept(checked, named_later(data_misfits, [misfit]))


def _refused_file(checked: CheckedSpec, message: str, hint: str) -> list[SpecError]:
    """The warning at the spec's data setting of a command that reads no data, for a data
    file that check and train refuse as it is (``message``, ``hint``: their words)."""
    return _kept(checked, named_later(data_misfits, [checked.spec.error(
        f"{message}; train and check refuse the spec", "training", "data", severity="warning",
        hint_template=literal(hint))]))


# What a command that reads no data says of the rest (a hint template: Spec.error).
UNREAD_HINT = "summary does not read the data: `{check_command}` reads it as train does"


def read_fitting_data(checked: CheckedSpec, loaded: dict | None = None):
    """The data set of ``checked``'s data file (``npz``), read as ``train`` reads it and held
    to fit the network (:func:`load_spec_data`, :func:`check_data_fits`: a file missing,
    unreadable, of arrays that are no images and labels or do not fit is a
    :class:`SpecErrors` at the spec's data setting); None for another dataset, which the
    checker knows without reading. ``loaded``: the data sets read before, by their setting,
    each read once for the specs that name it (a sweep's cells)."""
    data = checked.ir["training"]["data"]
    if image_shape(data) is not None:
        return None
    import json  # only where a data file is read: check's start-up imports this module

    key = json.dumps(data, sort_keys=True)
    dataset = loaded.get(key) if loaded is not None else None
    if dataset is None:
        dataset = load_spec_data(checked)
        if loaded is not None:
            loaded[key] = dataset
    check_data_fits(checked, dataset.input_shape, dataset.classes, dataset.name)
    return dataset


def check_file_data(checked: CheckedSpec, max_memory: int | None = None,
                    strict: bool = False):
    """What ``train`` checks once it has read a data file whose shapes the checker could not
    know (``npz``), checked by reading it now: the file must be readable arrays that fit the
    network, and training on them the memory (``max_memory`` bytes, default the machine's).
    A file that cannot be read is a :class:`SpecErrors` at the spec's data setting (file,
    line, column), where ``train`` stops with a run error; other datasets are not read (a
    download, or known to the checker without reading). Returns the data set read (a
    :class:`cnnspec.data.dataset.Dataset`), or None when none was, and the warnings about it
    (:func:`file_data_warnings`), which ``strict`` raises as errors."""
    dataset = read_fitting_data(checked)
    if dataset is None:
        return None, []
    check_training_split(checked, dataset)
    warnings = (check_training_memory(checked, dataset, max_memory=max_memory)
                + file_data_warnings(checked, dataset))
    if strict and warnings:
        raise SpecErrors([as_error(w) for w in warnings])
    return dataset, warnings


# What the commands that read a trained run's data file add to its error: the file may have
# moved since the run was trained (hint templates, see cnnspec.errors.WordedError). A spec
# trained or checked for the first time has no such past. Evaluating reads the file from its
# new place; a resumed run reads only the file it trained on, where it recorded it (another
# file there would make it another run).
MOVED_RUN_DATA = "a run's data file that has moved since is given its new place with {moved_npz}"
RESUMED_RUN_DATA = ("a resumed run reads the data file it trained on where it was: put the "
                    "file back there, or train a new run on it where it is now")


def load_spec_data(checked: CheckedSpec, data_dir=None, hint: str | None = None,
                   dtype: str | None = None):
    """The data set (a :class:`cnnspec.data.dataset.Dataset`) of ``checked``'s training
    settings, for every command that loads it (``train``, ``check``, ``data``,
    ``init-report``): a data file's problem (``npz``: missing, unreadable, arrays that are no
    images and labels) is said as ``check`` says it, at the spec's data setting
    (:func:`data_setting_error`, a mistake in what was asked); a download's failure is the
    run's (a :class:`RunError`). ``hint``: what the command offers besides, added to each (a
    template naming settings as the caller gives them, see :class:`WordedError`). The images
    are in ``dtype``, by default the one ``checked`` is for (a resumed run's: its data's)."""
    from cnnspec.data.load import load_dataset  # NumPy: only where data is loaded

    data = checked.ir["training"]["data"]
    try:
        return load_dataset(data, checked.ir["training"]["seed"], data_dir,
                            checked.dtype if dtype is None else dtype)
    except RunError as exc:
        if hint:
            message, given = as_templates(exc)
            worded = WordedInputError if isinstance(exc, InputError) else WordedError
            exc = worded(message, hint=f"{given}; or {hint}" if given else hint)
        if image_shape(data) is not None:  # a built-in or downloaded set
            raise exc from None
        raise data_setting_error(checked, exc) from None


def data_setting_error(checked: CheckedSpec, exc: RunError) -> SpecErrors:
    """What ``train`` says of a data file (a :class:`RunError`) as ``check`` says it: an error
    at the spec's data setting, with the same message and hint (worded as the caller gives
    the settings it names)."""
    return SpecErrors([checked.spec.error(exc.message, "training", "data", hint=exc.hint,
                                          hint_template=as_templates(exc)[1])])
