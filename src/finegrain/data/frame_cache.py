"""Cleaned rows of the larger built-in datasets, kept as Parquet in ``<cache>/datasets``.

Parsing, cleaning and (for ``msra-ner``) converting tags takes seconds to tens of seconds on a
small CPU; reading the cleaned table back takes well under one. The file name carries a
fingerprint of the source bytes' identity and of the code that cleans them, so an edit to either
builds the table again instead of reading a stale one. The cleaning counts travel in the file's
metadata and come back in ``frame.attrs["cleaning"]``.

Example:
    >>> rows = cached_rows("demo", fingerprint("v1"), lambda: pd.DataFrame({"text": ["a"]}))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from finegrain.data.package_wheels import cache_dir

__all__ = ["cached_rows", "fingerprint"]

_COUNTS_KEY = b"finegrain.cleaning"


def fingerprint(*parts: str | Path) -> str:
    """A short digest of strings and of the bytes of files (e.g. the modules that clean the data)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(Path(part).read_bytes() if isinstance(part, Path) else part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def cached_rows(name: str, key: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``build()``'s frame, from ``<cache>/datasets/NAME-KEY.parquet`` when it is there.

    A file that cannot be read (e.g. cut short by a crash) is built again, and a new file replaces
    the dataset's files of other keys (older code or data). List columns (tokens, tags) come back
    as Python lists, as ``build`` made them.
    """
    path = cache_dir() / "datasets" / f"{name}-{key}.parquet"
    if path.is_file():
        try:
            return _read(path)
        except (OSError, ValueError, KeyError, TypeError):  # unreadable, or written by something else
            path.unlink(missing_ok=True)
    rows = build()
    _write(rows, path)
    for stale in path.parent.glob(f"{name}-{'?' * len(key)}.parquet"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return rows


def _read(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    counts = json.loads(table.schema.metadata[_COUNTS_KEY])
    rows = table.to_pandas()
    for column in rows.columns:
        if len(rows) and isinstance(rows[column].iloc[0], np.ndarray):
            rows[column] = [value.tolist() for value in rows[column]]
    rows.attrs["cleaning"] = counts
    return rows


def _write(rows: pd.DataFrame, path: Path) -> None:
    """Write beside the target, then rename: a reader never sees half a file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(rows, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), _COUNTS_KEY: json.dumps(rows.attrs.get("cleaning", {}))}
    partial = path.with_suffix(f".{os.getpid()}.partial")
    pq.write_table(table.replace_schema_metadata(metadata), partial)
    os.replace(partial, path)
