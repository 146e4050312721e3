"""The robustness section of a run's report (Markdown): clean score, each invariance test, directional and
functionality tests, each attack, and examples of the failures. Written to ``robustness.md`` and put in the run's
``report.md`` between markers, so a second ``finegrain robustness`` replaces it rather than adding another.

Example:
    >>> render_section({"primary_metric": "macro_f1", "clean": {"score": 0.9}, "inputs": 10, "suite": "default",
    ...                 "invariance": {}, "directional": [], "functionality": [], "attacks": {}}).splitlines()[0]
    '## Robustness'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finegrain.rendering.markdown import fmt, section, table, truncate

__all__ = ["render_section", "write_section"]

_BEGIN, _END = "<!-- robustness -->", "<!-- /robustness -->"


def _text(value: Any) -> str:
    return truncate(value if isinstance(value, str) else " | ".join(map(str, value)) if isinstance(value, tuple)
                    else " ".join(map(str, value)), 120)


def render_section(result: dict[str, Any]) -> str:
    """The section, from what :func:`finegrain.robustness.runner.robustness` returned."""
    metric = result["primary_metric"]
    parts = [f"{result['inputs']} inputs of {result.get('split', 'the split')}, suite `{result['suite']}`; clean"
             f" {metric}: **{fmt(result['clean']['score'])}**."]
    invariance = result["invariance"]
    if invariance:
        rows = [[name, r.get("inputs", 0), fmt(r.get("clean_score_same_inputs")), fmt(r.get("score")),
                 fmt(r.get("flip_rate")), r.get("skipped", "")] for name, r in invariance.items()]
        parts.append(section("Invariance (the prediction must not change)",
                             table(["perturbation", "inputs", f"clean {metric}", f"perturbed {metric}",
                                    "flip rate", "note"], rows), level=3))
    tests = [[t["name"], "dir", t["inputs"], fmt(t["violation_rate"])] for t in result["directional"]]
    tests += [[t["name"], "mft", t["inputs"], fmt(t["failure_rate"])] for t in result["functionality"]]
    if tests:
        parts.append(section("Directional and minimum-functionality tests",
                             table(["test", "type", "inputs", "failure rate"], tests), level=3))
    if result["attacks"]:
        parts.append(section("Attacks", _attack_table(result), level=3))
    examples = _examples(result)
    if examples:
        parts.append(section("Failures (examples)", examples, level=3))
    return section("Robustness", "\n\n".join(parts))


def _attack_table(result: dict[str, Any]) -> str:
    rows = []
    for name, r in result["attacks"].items():
        if "skipped" in r:
            rows.append([name, "-", "-", "-", "-", "-", "skipped: " + r["skipped"]])
        else:
            rows.append([name, r["attacked"], fmt(r["success_rate"]), fmt(r["accuracy_under_attack"]),
                         fmt(r["perturbed_word_share"]), fmt(r["queries_per_attack"]), ""])
    limits = result.get("constraints", {})
    note = (f"At most {fmt(limits.get('max_share'))} of the words changed, MiniLM similarity at least"
            f" {fmt(limits.get('min_similarity'))}; success rate is over the inputs predicted correctly.")
    return table(["attack", "attacked", "success rate", "accuracy under attack", "words perturbed",
                  "queries / attack", "note"], rows) + "\n\n" + note


def _examples(result: dict[str, Any]) -> str:
    rows = []
    for name, r in result["invariance"].items():
        rows += [[f"inv {name}", _text(f["original"]), _text(f["perturbed"]), f"{f['before']} -> {f['after']}"]
                 for f in r.get("failures", [])[:2]]
    for t in result["directional"]:
        rows += [[f"dir {t['name']}", _text(f["original"]), _text(f["edited"]),
                  f"P({t['label']}) {f['before']} -> {f['after']}"] for f in t["failures"][:2]]
    for t in result["functionality"]:
        rows += [[f"mft {t['name']}", _text(f["input"]), "", f"expected {f['expected']}, got {f['predicted']}"]
                 for f in t["failures"][:2]]
    for name, r in result["attacks"].items():
        rows += [[f"attack {name}", _text(f["original"]), _text(f["adversarial"]), f"{f['before']} -> {f['after']}"]
                 for f in r.get("examples", [])[:2]]
    return table(["test", "input", "changed to", "prediction"], rows) if rows else ""


def write_section(run_dir: Path, text: str) -> None:
    """``robustness.md``, and the section in ``report.md`` (replacing an earlier one) where the run has a report."""
    (run_dir / "robustness.md").write_text(text + "\n", encoding="utf-8")
    report = run_dir / "report.md"
    if not report.is_file():
        return
    current = report.read_text(encoding="utf-8")
    block = f"{_BEGIN}\n{text}\n{_END}\n"
    if _BEGIN in current and _END in current:
        head, rest = current.split(_BEGIN, 1)
        current = head + block + rest.split(_END, 1)[1].lstrip("\n")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    report.write_text(current, encoding="utf-8")
