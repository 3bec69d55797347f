"""Networks of other frameworks imported as cnnspec specs.

    import_file(path, solver=None, input_shape=None, epoch_images=None) -> Imported
    caffe.import_prototxt(text, path=None, *, solver=None, ...) -> Imported    # .prototxt
    keras.import_keras(text, path=None) -> Imported                # to_json(), a .keras
    darknet.import_cfg(text, path=None) -> Imported                # a Darknet .cfg
    onnx_model.import_onnx(data, path=None) -> Imported            # an ONNX model's bytes

An :class:`Imported` holds the ``.cnn`` text (laid out by ``cnnspec fmt``'s formatter, with a
header saying where it came from) and its checked spec. Each importer holds its framework's
vocabulary (layer types, fillers or initializers, solver fields) and writes the spec in the
layer-kind registry's words (:mod:`cnnspec.importers.spec_writer`). Mistakes in the source, and
every layer, field or argument cnnspec cannot express, are :class:`~cnnspec.errors.SpecError`s
located in the source file; nothing is dropped without a note in the header.
"""
from __future__ import annotations

from pathlib import Path

from cnnspec.atomic import refuse_overwriting, write_text
from cnnspec.errors import InputError, RunError, WordedInputError, literal
from cnnspec.given import given_path
from cnnspec.importers.imported import Imported
from cnnspec.sourcefile import (
    CAFFE_SUFFIXES,
    DARKNET_SUFFIXES,
    IMPORTED_FILES,
    KERAS_SUFFIXES,
    ONNX_SUFFIXES,
    SAVED_MODELS,
    TO_JSON,
    read_spec_text,
)

# A .keras archive (Keras 3's model.save()) is a zip file whose member config.json is the
# architecture as model.to_json() writes it; the weights beside it are not read.
KERAS_ARCHIVE_CONFIG = "config.json"
# What the errors about a file's bytes call each file read ("save the prototxt as UTF-8").
CAFFE_MODEL = "the prototxt"
CAFFE_SOLVER = "the solver's prototxt"
KERAS_MODEL = "the Keras model's JSON"
DARKNET_MODEL = "the cfg"
# Files import does not read: the saved models, and a spec, which every command reads.
OTHER_FILES = {**SAVED_MODELS,
               ".cnn": ("a cnnspec spec already", "it needs no import: every command reads it")}


# What a Keras, Darknet or ONNX model has in place of each setting of a Caffe import.
CAFFE_ONLY = {"solver": "a Keras model's training settings are its compile_config's (Keras 3 "
                        "writes it for a compiled model), a Darknet network's its [net]'s, "
                        "an ONNX model has none: change the train block of the imported spec",
              "input_shape": "the model says its input shape itself (Keras' JSON, Darknet's "
                             "[net], the ONNX graph's input)",
              "epoch_images": "it turns a Caffe solver's iterations into epochs: write "
                              "`epochs N` in the train block of the imported spec"}


def import_file(path: str | Path, solver: str | Path | None = None,
                input_shape: tuple[int, int, int] | None = None,
                epoch_images: int | None = None) -> Imported:
    """Import the Caffe model definition (``.prototxt``, optionally with its ``solver``),
    the Keras model JSON (``.json``), the Darknet network (``.cfg``) or the ONNX model
    (``.onnx``) at ``path``.
    ``input_shape`` and ``epoch_images`` are for Caffe (see
    :func:`cnnspec.importers.caffe.import_prototxt`)."""
    path = given_path(path, "path", "a Caffe .prototxt, a Keras .json or .keras, a Darknet "
                      ".cfg or an ONNX .onnx file",
                      "lenet.prototxt")
    if solver is not None:
        solver = given_path(solver, "solver", "a Caffe solver's .prototxt", "solver.prototxt")
    suffix = path.suffix.lower()  # LENET.PROTOTXT is a prototxt too
    other = OTHER_FILES.get(suffix)
    if other is not None:
        # the hints are templates: one names the export command as the caller types it
        raise WordedInputError(literal(f"{path} is {other[0]}"), hint=other[1])
    # said before a binary file is read as text
    if suffix not in CAFFE_SUFFIXES + KERAS_SUFFIXES + DARKNET_SUFFIXES + ONNX_SUFFIXES:
        raise InputError(f"{path} is not a file cnnspec imports: it imports {IMPORTED_FILES}",
                         hint="a Caffe model definition ends in .prototxt, a Keras model saved "
                         "with model.to_json() in .json, one saved with model.save() in "
                         ".keras, a Darknet network in .cfg, an ONNX model in .onnx")
    if suffix in CAFFE_SUFFIXES:
        from cnnspec.importers.caffe import import_prototxt

        text = read_spec_text(path, CAFFE_MODEL)
        solver_text = read_spec_text(solver, CAFFE_SOLVER) if solver is not None else None
        return import_prototxt(text, str(path), solver=solver_text,
                               solver_path=str(solver) if solver is not None else None,
                               input_shape=input_shape, epoch_images=epoch_images)
    given = [name for name, value in (("solver", solver), ("input_shape", input_shape),
                                      ("epoch_images", epoch_images)) if value is not None]
    if given:
        raise WordedInputError(f"{{{given[0]}}} is for Caffe models, not {literal(str(path))}",
                               hint=CAFFE_ONLY[given[0]])
    if suffix in DARKNET_SUFFIXES:
        from cnnspec.importers.darknet import import_cfg

        return import_cfg(read_spec_text(path, DARKNET_MODEL), str(path))
    if suffix in ONNX_SUFFIXES:
        from cnnspec.importers.onnx_model import import_onnx

        return import_onnx(_model_bytes(path), str(path))
    from cnnspec.importers.keras import import_keras

    if suffix == ".keras":
        return import_keras(*_keras_archive(path))
    return import_keras(read_spec_text(path, KERAS_MODEL), str(path))


def _keras_archive(path: Path) -> tuple[str, str]:
    """``(text, name)``: the architecture JSON of the ``.keras`` archive at ``path`` (its
    ``config.json``) and how errors name it, ``model.keras/config.json`` (as Python names a
    zip archive's member). Only that member is read, and at most as much of it as a spec
    file may hold: nothing is extracted, nothing runs."""
    import zipfile

    from cnnspec.damage import archive_damage_as
    from cnnspec.sourcefile import MAX_SPEC_BYTES, spec_text_of, too_large

    name = f"{path}/{KERAS_ARCHIVE_CONFIG}"
    # not a zip file, a damaged one, or one compressed or encrypted as Keras never does
    damaged = archive_damage_as(lambda reason: InputError(
        f"{path} is not a .keras archive Keras writes: {reason}", hint=TO_JSON))
    try:
        with damaged, zipfile.ZipFile(path) as archive:
            if KERAS_ARCHIVE_CONFIG not in archive.namelist():
                raise InputError(f"{path} holds no {KERAS_ARCHIVE_CONFIG}: it is no Keras "
                                 "model saved with model.save()", hint=TO_JSON)
            size = archive.getinfo(KERAS_ARCHIVE_CONFIG).file_size
            if size > MAX_SPEC_BYTES:
                raise too_large(name, size)
            with archive.open(KERAS_ARCHIVE_CONFIG) as member:
                data = member.read(MAX_SPEC_BYTES + 1)  # a size written wrong reads no more
    except OSError as exc:  # the disk's or the system's, not the archive's
        raise RunError(f"cannot read {path}: {exc.strerror or exc}",
                       hint="check that the file exists and that you may read it") from None
    return spec_text_of(data, name, KERAS_MODEL), name


# The largest ONNX file read: protobuf's own limit on a message, which the file's weights
# count towards (an architecture, without them, is a few KiB).
MAX_ONNX_BYTES = 2 << 30


def _model_bytes(path: Path) -> bytes:
    """The bytes of the ONNX model at ``path``: a regular file of at most
    :data:`MAX_ONNX_BYTES` (a pipe or a device is refused before it is opened)."""
    import os
    import stat

    from cnnspec.sourcefile import missing_file

    try:
        measured = os.stat(path)
        if not stat.S_ISREG(measured.st_mode):
            raise InputError(f"{path} is no regular file", hint="give the .onnx file that "
                             "torch.onnx.export wrote")
        if measured.st_size > MAX_ONNX_BYTES:
            raise InputError(f"{path} is {measured.st_size:,} bytes, more than the 2 GiB an "
                             "ONNX model may be", hint="an ONNX model's weights past 2 GiB "
                             "go to external data: export it so; its graph is all an import "
                             "reads")
        with open(path, "rb") as handle:
            return handle.read(MAX_ONNX_BYTES + 1)
    except FileNotFoundError:
        raise missing_file(path, spec=False) from None
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}",
                       hint="check that the file exists and that you may read it") from None


def write_spec(imported: Imported, out: str | Path, force: bool = False) -> None:
    """Write the imported spec to ``out``; an existing file only with ``force``. Written as
    run files are (:func:`cnnspec.atomic.write_text`): a write that fails halfway (a
    full disk) leaves the file it would have replaced as it was."""
    out = given_path(out, "out", "the .cnn file to write", "lenet.cnn")
    refuse_overwriting([out], force)
    write_text(out, imported.text)


__all__ = ["Imported", "import_file", "write_spec"]
