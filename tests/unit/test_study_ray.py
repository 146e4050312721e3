"""A study on a local Ray cluster (2 workers x 1 CPU) gives every cell the metrics the local executor gives at
one thread, records the threads, times latency afterwards, and resumes without re-running finished cells.

One test: starting Ray on a 2-core machine takes seconds, and each cell starts a fresh worker process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finegrain.study import run_study

ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'finegrain[ray]')")


def _study(tiny_model_dir: Path, files: dict[str, Path], output: Path, **extra) -> dict:
    return {"model": {"name": str(tiny_model_dir), "max_length": 32},
            "data": {"train": str(files["train"]), "validation": str(files["validation"]), "test": str(files["test"])},
            "train": {"epochs": 1, "batch_size": 8, "lr": 1e-3, "min_steps": 4},
            "methods": ["full"], "sizes": [2], "seeds": [0, 1], "output": str(output), **extra}


def _cells(root: Path) -> dict[str, dict]:
    return {str(path.parent.relative_to(root)): json.loads(path.read_text())
            for path in root.glob("cells/*/*/*/cell.json")}


def test_ray_cells_equal_local_cells_at_one_thread_and_resume(one_thread, tmp_path, tiny_model_dir, sentiment_files):
    local = _cells(run_study(_study(tiny_model_dir, sentiment_files, tmp_path / "local")).path)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        config = _study(tiny_model_dir, sentiment_files, tmp_path / "ray", executor={"name": "ray", "cpus": 1})
        result = run_study(config)
        on_ray = _cells(result.path)
        assert sorted(on_ray) == sorted(local) and len(local) == 2
        for name, record in on_ray.items():
            assert record["status"] == "finished", record.get("error")
            assert record["test"] == local[name]["test"], name  # same data, seed and thread count: same model
            assert record["threads"] == 1 and "threads" not in local[name]
            assert ("latency_ms" in record) == ("latency_ms" in local[name]) == name.endswith("seed-0")
        assert result.summary["rows"] and (result.path / "report.html").is_file()

        # killed after seed 0 trained but before its timing pass, and before seed 1 finished
        untimed = result.path / "cells/full/size-2/seed-0/cell.json"
        record = on_ray["cells/full/size-2/seed-0"]
        untimed.write_text(json.dumps({k: v for k, v in record.items() if k != "latency_ms"}))
        before = untimed.stat().st_mtime_ns
        (result.path / "cells/full/size-2/seed-1/cell.json").unlink()
        seen = []
        run_study(config, resume=True, on_cell=lambda i, n, cell, record: seen.append((cell.seed, record["test"])))
        assert seen == [(0, local["cells/full/size-2/seed-0"]["test"]), (1, local["cells/full/size-2/seed-1"]["test"])]
        assert "latency_ms" in json.loads(untimed.read_text()) and untimed.stat().st_mtime_ns != before
    finally:
        ray.shutdown()
