"""Write the files generated from the registries: the layer part of the IR's JSON Schema
(cnnspec/ir/schema.json, ``$defs/layer``) and the table of layer kinds in docs/language.md.

Run it after changing cnnspec/kinds; tests/test_kinds.py fails while either file is stale.
"""
from __future__ import annotations

import json
from pathlib import Path

from cnnspec.kinds import KINDS
from cnnspec.kinds.docs import layer_table, replace_between_markers
from cnnspec.kinds.schema import layer_schema

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    schema_path = ROOT / "cnnspec" / "ir" / "schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    schema["$defs"]["layer"] = layer_schema(list(KINDS.values()))
    schema_path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    docs_path = ROOT / "docs" / "language.md"
    page = docs_path.read_text(encoding="utf-8")
    docs_path.write_text(replace_between_markers(page, layer_table(list(KINDS.values()))),
                         encoding="utf-8")
    print(f"wrote {schema_path.relative_to(ROOT)} and {docs_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
