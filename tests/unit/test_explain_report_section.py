"""The Explanations section of a run's report, read back from the files `finegrain explain` writes."""

from __future__ import annotations

import json

from finegrain.explain.report_section import explanations_section, marked


def _write(run, texts):
    folder = run / "explanations"
    folder.mkdir(parents=True)
    lines = [json.dumps({"text": t, "words": t.split(" "), "targets": [{"name": "pos", "scores": [0.5, -0.1]}]},
                        ensure_ascii=False) for t in texts]
    (folder / "explanations.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    row = {"comprehensiveness": 0.3, "sufficiency": -0.1, "kendall_tau": 0.5, "seconds": 0.01}
    table = {"explainer": "occlusion", "erasure": "delete", "n": len(texts), "percents": [1, 5],
             "rows": {"occlusion": row, "random": {**row, "comprehensiveness": 0.02, "seconds": None}},
             "examples": {"most": [{"input": 1, "target": "pos", "comprehensiveness": 0.4}],
                          "least": [{"input": 0, "target": "pos", "comprehensiveness": 0.1}]}}
    (folder / "faithfulness.json").write_text(json.dumps(table), encoding="utf-8")


def test_texts_with_unicode_line_separators_are_read_back(tmp_path):
    _write(tmp_path, ["great\u2028day", "fine\u2029film"])  # json keeps them raw (ensure_ascii=False)
    section = explanations_section(tmp_path)
    assert section is not None and "| 2 | pos | 0.4000 | **fine film** |" in section  # line separators become spaces
    assert "**Most faithful**" in section and "| 0.3000 |" in section and "| random | 0.0200 |" in section


def test_no_explanations_no_section_and_top_words_in_bold(tmp_path):
    assert explanations_section(tmp_path) is None
    assert marked(["a", "great", "film", "bad"], [0.1, 0.9, 0.3, -0.5], top=2) == "a **great** **film** bad"
    assert marked(["bad"], [-0.5]) == "bad"  # only words toward the target are bold
