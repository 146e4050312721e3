"""A report page rendered twice from one list of blocks (heading, text, table, figure): Markdown beside its
figures, and one self-contained HTML page with the figures embedded, so the two never disagree. Studies and
``finegrain tune`` write their reports through it.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finegrain.rendering import markdown

__all__ = ["Block", "markdown_page", "html_page"]


@dataclass
class Block:
    heading: str
    text: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    image: Path | None = None


def markdown_page(title: str, blocks: list[Block], root: Path) -> str:
    parts = [f"# {title}"]
    for block in blocks:
        body = [block.text] if block.text else []
        if block.headers:
            body.append(markdown.table(block.headers, block.rows))
        if block.image:
            body.append(f"![{block.heading}]({block.image.relative_to(root).as_posix()})")
        parts.append(markdown.section(block.heading, "\n\n".join(body)))
    return "\n\n".join(parts) + "\n"


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:1.6rem;margin:8px 0 4px}h2{font-size:1.15rem;margin:30px 0 10px;border-bottom:1px solid #d8dde5;padding-bottom:4px}
section{background:#fff;border-radius:10px;padding:4px 18px 16px;margin-top:18px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
p{line-height:1.5;margin:8px 0}table{border-collapse:collapse;font-size:.86rem;width:100%}
th,td{padding:5px 8px;border-bottom:1px solid #e6e9ee;text-align:right;white-space:nowrap}
th{background:#eef1f5;position:sticky;top:0}td:first-child,th:first-child,td:nth-child(2){text-align:left}
tr.best td{background:#eaf6ec;font-weight:600}.scroll{overflow-x:auto}img{max-width:100%;height:auto}
.findings p{font-size:1rem}
"""


def html_page(title: str, blocks: list[Block]) -> str:
    sections = []
    for block in blocks:
        parts = [f"<h2>{html.escape(block.heading)}</h2>"]
        parts += [f"<p>{html.escape(line)}</p>" for line in block.text.splitlines() if line]
        if block.headers:
            parts.append(_table(block))
        if block.image:
            data = base64.b64encode(block.image.read_bytes()).decode("ascii")
            parts.append(f'<img alt="{html.escape(block.heading)}" src="data:image/png;base64,{data}">')
        css = ' class="findings"' if block.heading == "Findings" else ""
        sections.append(f"<section{css}>{''.join(parts)}</section>")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{_STYLE}</style></head>"
            f"<body><main><h1>{html.escape(title)}</h1>{''.join(sections)}</main></body></html>\n")


def _table(block: Block) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in block.headers)
    body = []
    for row in block.rows:
        css = ' class="best"' if len(row) > 5 and row[5] == "best" else ""  # a study's best method
        body.append(f"<tr{css}>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
