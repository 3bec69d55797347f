"""The table of an ``.npz`` dataset's keys in docs/data.md, generated from the one the reader
reads (:data:`cnnspec.data.npz.NPZ_KEYS`). ``python tools/generate.py`` writes it between its
marker lines; a test fails when the page is stale.
"""
from __future__ import annotations

from cnnspec.data.npz import NPZ_KEYS
from cnnspec.markdown import cell, row

NPZ_TABLE = ("npz keys", "cnnspec/data/npz.py")


def npz_key_table() -> str:
    """| key | what it holds | required |, one row per key."""
    rows = ["| key | what it holds | required |", "|---|---|---|"]
    rows += [row(f"`{key}`", cell(what), "yes" if required else "no")
             for key, (what, required) in NPZ_KEYS.items()]
    return "\n".join(rows)
