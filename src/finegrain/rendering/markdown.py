"""Markdown building blocks for reports (a run's report, each task's sections, studies): tables, sections,
number formats.

Example:
    >>> print(table(["split", "F1"], [["test", fmt(0.5)]]))
    | split | F1 |
    |---|---|
    | test | 0.5000 |
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["escape", "table", "section", "truncate", "fmt"]

_TEXT_CHARS = 160


def escape(text: Any) -> str:
    """Make text safe inside a Markdown table cell: escape pipes, flatten line breaks."""
    return re.sub(r"\s*[\r\n]+\s*", " ", str(text)).replace("|", "\\|")


def table(headers: list[Any], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table; every cell is escaped."""
    lines = [
        "| " + " | ".join(escape(h) for h in headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows)
    return "\n".join(lines)


def section(heading: str, body: str, *, level: int = 2) -> str:
    return f"{'#' * level} {heading}\n\n{body}"


def truncate(text: str, limit: int = _TEXT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fmt(value: Any) -> str:
    """Four decimals for fractions, thousands separators for counts, '-' for missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
