"""The "Explanations" section of a run's ``report.md``: the faithfulness of the last ``finegrain explain`` into
the run's own folder (``RUN_DIR/explanations``), beside random attributions, and its most and least faithful
examples with their top words in bold, so a reader sees at once where the explanations can be trusted.

Example:
    >>> marked(["a", "great", "film"], [0.1, 0.9, -0.2], 1)
    'a **great** film'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from finegrain.rendering.markdown import fmt, section, table, truncate

__all__ = ["explanations_section", "marked", "FOLDER"]

FOLDER = "explanations"  # under the run directory
_TOP = 3  # words shown in bold


def marked(words: Sequence[str], scores: Sequence[float], top: int = _TOP) -> str:
    """The words with the ``top`` highest-scored (toward the target) in bold."""
    best = set(sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:top])
    return " ".join(f"**{w}**" if i in best and scores[i] > 0 else w for i, w in enumerate(words))


def explanations_section(run_dir: Path) -> str | None:
    """The section, or None where the run has no measured explanations."""
    folder = Path(run_dir) / FOLDER
    try:
        table_ = json.loads((folder / "faithfulness.json").read_text(encoding="utf-8"))
        # split on newlines only: texts may hold U+2028 and the like, which str.splitlines() would also split on
        lines = (folder / "explanations.jsonl").read_text(encoding="utf-8").split("\n")
        explanations = [json.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError):
        return None
    rows = [[name, fmt(row["comprehensiveness"]), fmt(row["sufficiency"]), fmt(row["kendall_tau"]),
             fmt(row["seconds"])] for name, row in table_["rows"].items()]
    body = [f"`finegrain explain` with {table_['explainer']} on {table_['n']} explanations (words erased by"
            f" {table_['erasure']}); files in `{FOLDER}/`.",
            table(["attributions", "comprehensiveness AOPC (higher: faithful)", "sufficiency AOPC (lower: faithful)",
                   "Kendall tau vs leave-one-out", "seconds / explanation"], rows)]
    for key, heading in (("most", "Most faithful"), ("least", "Least faithful")):
        examples = _examples(explanations, table_.get("examples", {}).get(key, []))
        if examples:
            body.append(f"**{heading}** (top {_TOP} words toward the target in bold):\n\n"
                        + table(["input", "target", "comprehensiveness", "words"], examples))
    return section("Explanations", "\n\n".join(body))


def _examples(explanations: list[dict[str, Any]], picked: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for item in picked:
        if item["input"] >= len(explanations):
            continue
        explanation = explanations[item["input"]]
        target = next((t for t in explanation["targets"] if t["name"] == item["target"]), None)
        if target is not None:
            rows.append([str(item["input"] + 1), item["target"], fmt(item["comprehensiveness"]),
                         truncate(marked(explanation["words"], target["scores"]), 240)])
    return rows
