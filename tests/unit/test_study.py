"""A whole study on the tiny model: cells, a crashing cell, resume, refusal of another study, the report
(in headless Chromium) and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import chromium_args

from finegrain.cli.main import main
from finegrain.errors import DataError, RunDirError
from finegrain.study import rebuild_report, run_study


def _study(tiny_model_dir: Path, files: dict[str, Path], output: Path, **extra) -> dict:
    return {"model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {"train": str(files["train"]), "validation": str(files["validation"]), "test": str(files["test"])},
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "min_steps": 4},
            "methods": ["full", {"name": "bitfit", "id": "bitfit"}, "tfidf",
                        # 1000 tokens is more than the tiny model has positions: this cell fails at run time
                        {"name": "full", "id": "broken", "model": {"max_length": 1000}}],
            "sizes": [2, 6], "seeds": [0, 1], "output": str(output), **extra}


@pytest.fixture(scope="module")
def study(one_thread, tmp_path_factory, tiny_model_dir, sentiment_files):
    output = tmp_path_factory.mktemp("study") / "s"
    seen = []
    result = run_study(_study(tiny_model_dir, sentiment_files, output),
                       on_cell=lambda i, n, cell, record: seen.append((cell.name, record["status"])))
    return result, seen


def test_every_cell_runs_and_a_crash_is_recorded_not_fatal(study):
    result, seen = study
    assert len(seen) == 16
    assert {status for name, status in seen if name.startswith("broken")} == {"failed"}
    assert {status for name, status in seen if not name.startswith("broken")} == {"finished"}
    failures = result.summary["failures"]
    assert len(failures) == 4 and "max_length=1000" in failures[0]["error"]
    cell = json.loads((result.path / "cells/full/size-2/seed-0/cell.json").read_text())
    assert cell["metric"] == "macro_f1" and cell["score"] == cell["test"]["macro_f1"]
    assert cell["train_examples"] == 6 and cell["test"]["n"] == 30  # 2 per class, the whole test set
    assert cell["parameters"]["trainable"] > 0 and cell["latency_ms"]["batch_1"] > 0


def test_rows_aggregate_seeds_with_intervals_and_paired_tests(study):
    result, _ = study
    rows = {(r["method"], r["size"]): r for r in result.summary["rows"]}
    for size in ("2", "6"):
        scored = [rows[(m, size)] for m in ("full", "bitfit", "tfidf")]
        assert sum(bool(r.get("best")) for r in scored) == 1
        for row in scored:
            assert row["seeds"] == [0, 1] and row["ci_low"] <= row["mean"] <= row["ci_high"]
            assert len(row["per_seed"]) == 2
        for other in (r for r in scored if not r.get("best")):
            assert 0 < other["p_value"] <= 1 and other["difference"] <= 0
        assert rows[("broken", size)]["failed_seeds"] == [0, 1] and "mean" not in rows[("broken", size)]
    assert rows[("bitfit", "6")]["trainable"] < rows[("full", "6")]["trainable"]
    assert rows[("tfidf", "6")]["mean"] > 0.5  # the baseline sits in the same table (and learns the toy data)


def test_training_samples_are_nested(study):
    result, _ = study
    small = (result.path / "data/seed-0/train-2.jsonl").read_text().splitlines()
    large = (result.path / "data/seed-0/train-6.jsonl").read_text().splitlines()
    assert len(small) == 6 and len(large) == 18 and set(small) <= set(large)


def test_resume_skips_finished_cells_and_retries_failed_ones(study, tiny_model_dir, sentiment_files):
    result, _ = study
    finished = result.path / "cells/full/size-6/seed-1/cell.json"
    before = finished.stat().st_mtime_ns
    (result.path / "cells/bitfit/size-2/seed-0/cell.json").unlink()  # as if killed after training
    failed = result.path / "cells/broken/size-2/seed-0/cell.json"
    failed_before = failed.stat().st_mtime_ns
    run_study(_study(tiny_model_dir, sentiment_files, result.path), resume=True)
    assert finished.stat().st_mtime_ns == before
    assert failed.stat().st_mtime_ns != failed_before  # a failed cell is tried again
    assert (result.path / "cells/bitfit/size-2/seed-0/cell.json").is_file()
    with pytest.raises(RunDirError, match="already holds a study"):
        run_study(_study(tiny_model_dir, sentiment_files, result.path))
    with pytest.raises(RunDirError, match="different study.*seeds"):
        run_study(_study(tiny_model_dir, sentiment_files, result.path, seeds=[0]), resume=True)


def test_a_size_larger_than_a_class_fails_before_anything_runs(tmp_path, tiny_model_dir, sentiment_files):
    with pytest.raises(DataError, match="class '.*' has only 40 examples"):
        run_study(_study(tiny_model_dir, sentiment_files, tmp_path / "big", sizes=[50]))
    assert not (tmp_path / "big").exists()


def test_report_has_tables_and_figures_in_a_browser(study, chromium, tmp_path):
    result, _ = study
    rebuilt = rebuild_report(result.path)
    page = rebuilt.report.read_text()
    assert page.count("data:image/png;base64,") >= 4 and "Failed cells" in page
    markdown = (result.path / "report.md").read_text()
    assert "| full | 2 |" in markdown and "plots/learning_curves.png" in markdown
    dom = subprocess.run(chromium_args(chromium, "--dump-dom", rebuilt.report.as_uri()), capture_output=True,
                         text=True, timeout=120).stdout
    assert dom.count("<table") >= 3 and dom.count("<img") >= 4 and "Learning curves" in dom
    shot = result.path / "report.png"
    subprocess.run(chromium_args(chromium, "--window-size=1280,2400", f"--screenshot={shot}", rebuilt.report.as_uri()),
                   capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000  # a rendered page with figures, not a blank one


def test_cli_rebuilds_a_report_and_explains_bad_studies(study, tmp_path, capsys):
    result, _ = study
    assert main(["report", str(result.path)]) == 0
    out = capsys.readouterr().out
    assert "report:" in out and "best" in out
    run = result.path / "cells/full/size-2/seed-0/run"
    (run / "report.md").unlink()
    assert main(["report", str(run)]) == 0 and (run / "report.md").is_file()
    assert main(["report", str(tmp_path)]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {train: bbc-news}\nmethods: [lroa]\noutput: x\n")
    assert main(["study", str(bad)]) == 2
    assert "methods[0] (lroa)" in capsys.readouterr().err
    assert main(["study", "sizes=[8]"]) == 2


def test_python_dash_m_entry_point_lists_study():
    out = subprocess.run([sys.executable, "-m", "finegrain", "study", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "--resume" in out.stdout


def test_a_ner_study_reports_entity_f1_and_error_kinds(one_thread, tmp_path, tiny_model_dir):
    from finegrain.tasks.ner.tiny import write_conll

    files = {name: write_conll(tmp_path / f"{name}.conll", n, seed)
             for name, n, seed in (("train", 40, 1), ("validation", 10, 2), ("test", 12, 3))}
    config = {**_study(tiny_model_dir, files, tmp_path / "ner"), "task": "ner", "methods": ["full"],
              "sizes": [10], "seeds": [0]}
    result = run_study(config)
    row = result.summary["rows"][0]
    assert result.summary["metric"] == "entity_f1" and result.summary["size_unit"] == "examples"
    cell = json.loads((result.path / "cells/full/size-10/seed-0/cell.json").read_text())
    assert cell["metric"] == "entity_f1"  # the headline, not NER's macro_f1
    assert row["train_examples"] == 10 and set(row["ner_errors"]) >= {"boundary", "missed", "spurious"}
    assert "NER error breakdown" in result.report.read_text()


def test_a_pair_study_on_renamed_columns_trains_every_cell(one_thread, tmp_path, tiny_model_dir):
    """The cells read the study's own files with the data section's column names: here q1, q2 and match."""
    from finegrain.tasks.pair.tiny import tiny_dataset

    files = {}
    for name, path in tiny_dataset(tmp_path).items():
        renamed = tmp_path / f"renamed-{name}.csv"
        text = Path(path).read_text(encoding="utf-8")
        renamed.write_text(text.replace("text,text_pair,label", "q1,q2,match", 1), encoding="utf-8")
        files[name] = renamed
    config = {**_study(tiny_model_dir, files, tmp_path / "pairs"), "task": "matching",
              "methods": ["tfidf-pair", "full"], "sizes": [10], "seeds": [0], "explain": {"examples": 4}}
    config["data"].update(text="q1", text_pair="q2", label="match")
    result = run_study(config)
    assert result.summary["failures"] == [] and result.summary["metric"] == "macro_f1"
    cell = json.loads((result.path / "cells/tfidf-pair/size-10/seed-0/cell.json").read_text())
    assert cell["train_examples"] == 20 and cell["test"]["n"] == 30 and "roc_auc" in cell["test"]
    # the explain block: each method's explanations of 4 test pairs, measured beside random attributions
    explained = {row["method"]: row["explain"] for row in result.summary["rows"]}
    assert explained["tfidf-pair"]["explainer"] == "occlusion"
    assert explained["full"]["explainer"] == "integrated-gradients"
    assert all(e["kendall_tau"] is not None and e["random_comprehensiveness"] is not None for e in explained.values())
    report = (result.path / "report.md").read_text()
    assert "## Faithfulness of explanations" in report and "| tfidf-pair | 10 | occlusion |" in report
