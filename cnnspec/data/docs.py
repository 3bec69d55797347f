"""The tables of docs/data.md, generated from what the code reads: the datasets downloaded on
first use (:data:`cnnspec.downloaded.DOWNLOADS`) and an ``.npz`` dataset's keys
(:data:`cnnspec.data.npz.NPZ_KEYS`). ``python tools/generate.py`` writes each between its
marker lines; a test fails when the page is stale.
"""
from __future__ import annotations

from cnnspec.data.npz import NPZ_KEYS
from cnnspec.downloaded import DOWNLOADS
from cnnspec.markdown import cell, row

NPZ_TABLE = ("npz keys", "cnnspec/data/npz.py")
DOWNLOAD_TABLE = ("downloaded datasets", "cnnspec/downloaded.py")


def download_table() -> str:
    """| dataset | variable | files |, one row per dataset downloaded on first use."""
    rows = ["| dataset | variable | files |", "|---|---|---|"]
    for source in DOWNLOADS.values():
        files = ", ".join(f"`{name}`" for name in source.sha256)
        note = f" ({source.files_note})" if source.files_note else ""
        rows.append(row(f"`{source.name}`", f"`{source.mirror_env}`", cell(files + note)))
    return "\n".join(rows)


def npz_key_table() -> str:
    """| key | what it holds | required |, one row per key."""
    rows = ["| key | what it holds | required |", "|---|---|---|"]
    rows += [row(f"`{key}`", cell(what), "yes" if required else "no")
             for key, (what, required) in NPZ_KEYS.items()]
    return "\n".join(rows)
