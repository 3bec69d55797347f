"""Write the files generated from the registries: the layer, init and training parts of the
IR's JSON Schema (cnnspec/ir/schema.json, ``$defs/layer``, ``$defs/init``, ``$defs/gain``,
``$defs/optimizer``, ``$defs/schedule`` and ``$defs/training``), the tables of layer kinds,
initializers, gains and training settings in docs/language.md and docs/ir.md, the npz
keys and the downloaded datasets in docs/data.md, the export tables in
docs/interop.md, the tables of Caffe's layer types, fillers and solver fields and of Keras'
layer classes, initializers and compile settings and of ONNX's ops in docs/importing.md, the
table of check's
lints and the ways to silence them in docs/warnings.md, and the parser generated from the
grammar (cnnspec/lang/standalone.py, with Lark).

Run it after changing cnnspec/kinds, cnnspec/init/catalogue.py (or init/keras.py, or the
gains of init/gains.py), cnnspec/ir/training_catalogue.py, the Caffe and Keras tables of
cnnspec/lang/foreign.py and cnnspec/importers/ (an importer's mapping tables and its *_docs.py),
cnnspec/downloaded.py, cnnspec/data/npz.py's NPZ_KEYS, cnnspec/check/lint_catalogue.py,
cnnspec/check/silence.py's comment forms, the commands that take --ignore, or
grammar/cnnspec.lark; tests fail while any of these is stale.
"""
from __future__ import annotations

import json
from pathlib import Path

from cnnspec.check import lint_docs
from cnnspec.cli import commands_taking
from cnnspec.data.docs import DOWNLOAD_TABLE, NPZ_TABLE, download_table, npz_key_table
from cnnspec.exporters import docs as export_docs
from cnnspec.importers import caffe_docs, keras_docs, onnx_docs
from cnnspec.init.docs import (
    GAIN_TABLE,
    INIT_TABLE,
    IR_INIT_TABLE,
    gain_table,
    init_table,
    ir_init_table,
)
from cnnspec.init.schema import gain_schema, init_schema
from cnnspec.ir.datasets_schema import data_schema
from cnnspec.ir.limits import MAX_LAYERS
from cnnspec.ir.migrate import IR_VERSION
from cnnspec.ir.training_docs import ir_training_table, training_table
from cnnspec.ir.training_schema import training_schemas
from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import (
    begin_marker,
    end_marker,
    layer_table,
    markers,
    replace_between_markers,
)
from cnnspec.kinds.schema import layer_schema
from cnnspec.lang.grammar import GENERATED, standalone_source

TRAINING_TABLE = ("training settings", "cnnspec/ir/training_catalogue.py")
IR_TRAINING_TABLE = ("IR training settings", "cnnspec/ir/training_catalogue.py")

ROOT = Path(__file__).resolve().parent.parent
# docs/importing.md's tables, each generated from the importer's tables: (generate, markers).
IMPORT_TABLES = (
    (caffe_docs.layer_table, caffe_docs.LAYER_MARKERS),
    (caffe_docs.filler_table, caffe_docs.FILLER_MARKERS),
    (caffe_docs.solver_table, caffe_docs.SOLVER_MARKERS),
    (keras_docs.class_table, keras_docs.CLASS_MARKERS),
    (keras_docs.initializer_table, keras_docs.INIT_MARKERS),
    (keras_docs.compile_table, keras_docs.COMPILE_MARKERS),
    (onnx_docs.op_table, onnx_docs.OP_MARKERS),
)


def write_if_changed(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` unless it holds that already: an unchanged module keeps its
    modification time, so its compiled bytecode stays valid (the parser's is 0.3 MB, and
    compiling it again costs a command ~60 ms)."""
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def main() -> None:
    schema_path = ROOT / "cnnspec" / "ir" / "schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["$defs"]["layer"] = layer_schema(list(KINDS.values()))
    schema["$defs"]["init"] = init_schema()
    schema["$defs"]["gain"] = gain_schema()
    schema["$defs"]["data"] = data_schema()
    schema["$defs"].update(training_schemas())
    schema["properties"]["version"] = {"const": IR_VERSION}
    schema["properties"]["layers"]["maxItems"] = MAX_LAYERS
    write_if_changed(schema_path, json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    docs_path = ROOT / "docs" / "language.md"
    page = docs_path.read_text(encoding="utf-8")
    page = replace_between_markers(page, layer_table(list(KINDS.values())))
    page = replace_between_markers(page, init_table(), begin_marker(*INIT_TABLE),
                                   end_marker(INIT_TABLE[0]))
    page = replace_between_markers(page, training_table(), begin_marker(*TRAINING_TABLE),
                                   end_marker(TRAINING_TABLE[0]))
    page = replace_between_markers(page, gain_table(), *markers(*GAIN_TABLE))
    write_if_changed(docs_path, page)
    data_path = ROOT / "docs" / "data.md"
    page = data_path.read_text(encoding="utf-8")
    page = replace_between_markers(page, npz_key_table(), *markers(*NPZ_TABLE))
    page = replace_between_markers(page, download_table(), *markers(*DOWNLOAD_TABLE))
    write_if_changed(data_path, page)
    ir_docs_path = ROOT / "docs" / "ir.md"
    page = ir_docs_path.read_text(encoding="utf-8")
    page = replace_between_markers(page, ir_training_table(), begin_marker(*IR_TRAINING_TABLE),
                                   end_marker(IR_TRAINING_TABLE[0]))
    page = replace_between_markers(page, ir_init_table(), begin_marker(*IR_INIT_TABLE),
                                   end_marker(IR_INIT_TABLE[0]))
    write_if_changed(ir_docs_path, page)
    interop_path = ROOT / "docs" / "interop.md"
    page = interop_path.read_text(encoding="utf-8")
    page = replace_between_markers(page, export_docs.mapping_table(),
                                   *export_docs.MAPPING_MARKERS)
    page = replace_between_markers(page, export_docs.init_table(), *export_docs.INIT_MARKERS)
    write_if_changed(interop_path, page)
    importing_path = ROOT / "docs" / "importing.md"
    page = importing_path.read_text(encoding="utf-8")
    for table, fences in IMPORT_TABLES:
        page = replace_between_markers(page, table(), *fences)
    write_if_changed(importing_path, page)
    warnings_path = ROOT / "docs" / "warnings.md"
    page = warnings_path.read_text(encoding="utf-8")
    page = replace_between_markers(page, lint_docs.lint_table(), *lint_docs.LINT_MARKERS)
    page = replace_between_markers(page, lint_docs.silence_list(commands_taking("--ignore")),
                                   *lint_docs.SILENCE_MARKERS)
    write_if_changed(warnings_path, page)
    write_if_changed(ROOT / GENERATED, standalone_source())
    written = [schema_path, docs_path, data_path, ir_docs_path, interop_path, importing_path,
               warnings_path]
    print(f"wrote {', '.join(str(path.relative_to(ROOT)) for path in written)} and {GENERATED}")


if __name__ == "__main__":
    main()
