"""The unit of data passed between layers: a table with canonical columns and its origin."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["Split"]


@dataclass
class Split:
    """One split of a dataset.

    ``frame`` holds the task's canonical columns (classification: ``text``, ``label``) and
    ``row``: the 1-based data row (or line, for CoNLL) in ``source``, for error messages.
    ``source`` names where it came from: a file path or ``dataset:split`` for built-ins.
    """

    name: str
    frame: pd.DataFrame
    source: str

    def where(self, index: int) -> str:
        """'file.csv, row 12' for the example at positional ``index``."""
        row = self.frame["row"].iloc[index] if "row" in self.frame else index + 1
        return f"{self.source}, row {row}"

    def __len__(self) -> int:
        return len(self.frame)
