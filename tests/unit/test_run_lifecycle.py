"""A run directory's life: --overwrite keeps the finished run until the new one finishes, a failed run
says so in run.json (or leaves nothing when it never got going), --resume logs each step once, and
the CLI turns unwritable outputs and closed standard streams into plain errors."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import finegrain.training.loop as loop
from finegrain.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["model.max_length=32", "train.batch_size=8", "train.precision=fp32"]


def digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def train_args(tiny_model_dir: Path, files: dict, output: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(files["train"]), "--validation", str(files["validation"]), "--model",
            str(tiny_model_dir), "--output", str(output), *TINY, *extra]


def run_json(run: Path) -> dict:
    return json.loads((run / "run.json").read_text(encoding="utf-8"))


def siblings(run: Path) -> list[str]:
    return sorted(path.name for path in run.parent.iterdir())


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_model_dir, sentiment_files) -> Path:
    """A finished run (3 steps) that the tests below try to replace; each works on a copy."""
    output = tmp_path_factory.mktemp("finished") / "run"
    assert main(train_args(tiny_model_dir, sentiment_files, output, "train.max_steps=3")) == 0
    return output


@pytest.fixture
def old_run(finished, tmp_path) -> Path:
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(finished, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    config["output"] = str(copy)  # as if it had been trained here, so that --resume takes it as the same run
    (copy / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return copy


def raise_at_step(monkeypatch, step: int, error: BaseException) -> None:
    """Make the loop raise ``error`` right after optimizer step ``step`` (its log record written)."""
    original = loop._after_step

    def after_step(session, *args):
        stop = original(session, *args)
        if session.state.global_step == step:
            raise error
        return stop

    monkeypatch.setattr(loop, "_after_step", after_step)


def test_failed_overwrite_keeps_the_finished_run(old_run, tiny_model_dir, sentiment_files, capsys):
    before = digests(old_run)
    code = main(train_args(tiny_model_dir, sentiment_files, old_run, "--overwrite", "method.name=lora",
                           "method.target_modules=[nope]"))
    assert code == 2 and "nope" in capsys.readouterr().err
    assert digests(old_run) == before
    assert siblings(old_run) == ["run"]  # the replacement's staging folder is gone


def test_interrupted_overwrite_keeps_the_finished_run(old_run, tiny_model_dir, sentiment_files, monkeypatch, capsys):
    before = digests(old_run)
    with monkeypatch.context() as patch:
        raise_at_step(patch, 3, KeyboardInterrupt())
        code = main(train_args(tiny_model_dir, sentiment_files, old_run, "--overwrite", "train.max_steps=5",
                               "train.checkpoint_every=2"))
    assert code == 130 and "unchanged" in capsys.readouterr().err
    assert digests(old_run) == before and siblings(old_run) == ["run"]


def test_overwrite_swaps_in_and_records_no_staging_path(old_run, tiny_model_dir, sentiment_files, monkeypatch):
    seen = []
    original = loop._after_step

    def after_step(session, *args):  # while the replacement trains, the old run is whole
        seen.append((old_run / "metrics.json").is_file() and (old_run / "model").is_dir())
        return original(session, *args)

    monkeypatch.setattr(loop, "_after_step", after_step)
    assert main(train_args(tiny_model_dir, sentiment_files, old_run, "--overwrite", "train.max_steps=2",
                           "train.lr=1e-3")) == 0
    assert seen and all(seen)
    assert siblings(old_run) == ["run"]
    assert yaml.safe_load((old_run / "config.yaml").read_text())["train"]["lr"] == 1e-3
    assert run_json(old_run)["steps"] == 2 and run_json(old_run)["status"] == "finished"
    for path in old_run.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".md", ".jsonl", ".txt"):
            assert ".overwrite" not in path.read_text(encoding="utf-8"), path


def test_resume_of_a_finished_run_without_its_model_says_how_to_fix(old_run, tiny_model_dir, sentiment_files,
                                                                    capsys):
    import shutil

    shutil.rmtree(old_run / "model")
    code = main(train_args(tiny_model_dir, sentiment_files, old_run, "train.max_steps=3", "--resume"))
    err = capsys.readouterr().err
    assert code == 2 and "model/" in err and "--overwrite" in err
    code = main(["predict", str(old_run), "--input", "-"])
    err = capsys.readouterr().err
    assert code == 2 and "model/" in err and "--overwrite" in err and "--resume" not in err


def steps(run: Path) -> tuple[list[int], list[dict]]:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r["step"] for r in records if "step" in r], [r["eval"] for r in records if "eval" in r]


def test_crash_marks_the_run_failed_and_resume_logs_each_step_once(tmp_path, tiny_model_dir, sentiment_files,
                                                                   monkeypatch, capsys):
    settings = ["train.epochs=1", "train.checkpoint_every=4", "train.eval_every=6", "train.log_every=1"]
    assert main(train_args(tiny_model_dir, sentiment_files, tmp_path / "whole", *settings)) == 0
    crashed = tmp_path / "crashed"
    with monkeypatch.context() as patch:
        raise_at_step(patch, 10, RuntimeError("boom\nsecond line"))
        assert main(train_args(tiny_model_dir, sentiment_files, crashed, *settings)) == 1
    assert "RuntimeError: boom" in capsys.readouterr().err  # the original error is not hidden
    info = run_json(crashed)
    assert info["status"] == "failed" and info["error"] == "RuntimeError: boom" and info["ended_at"]
    assert main(train_args(tiny_model_dir, sentiment_files, crashed, *settings, "--resume")) == 0
    assert run_json(crashed)["status"] == "finished" and "error" not in run_json(crashed)
    crashed_steps, crashed_evals = steps(crashed)
    whole_steps, whole_evals = steps(tmp_path / "whole")
    assert crashed_steps == whole_steps == sorted(set(whole_steps))
    assert crashed_evals == whole_evals
    assert json.loads((crashed / "metrics.json").read_text()) == json.loads((tmp_path / "whole" / "metrics.json").read_text())


def test_ctrl_c_marks_the_run_interrupted(tmp_path, tiny_model_dir, sentiment_files, monkeypatch, capsys):
    run = tmp_path / "run"
    raise_at_step(monkeypatch, 3, KeyboardInterrupt())
    assert main(train_args(tiny_model_dir, sentiment_files, run, "train.max_steps=4",
                           "train.checkpoint_every=2")) == 130
    assert "--resume" in capsys.readouterr().err
    info = run_json(run)
    assert info["status"] == "interrupted" and info["error"] == "KeyboardInterrupt"


def test_train_failing_before_its_first_checkpoint_leaves_nothing(tmp_path, tiny_model_dir, sentiment_files, capsys):
    output = tmp_path / "runs" / "lora"
    code = main(train_args(tiny_model_dir, sentiment_files, output, "train.max_steps=2", "method.name=lora",
                           "method.target_modules=[nope]"))
    assert code == 2 and "nope" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()  # the folders it created are gone
    assert main(train_args(tiny_model_dir, sentiment_files, output, "train.max_steps=2", "method.name=lora")) == 0


def test_unwritable_output_is_a_user_error(tmp_path, tiny_model_dir, sentiment_files, monkeypatch, capsys):
    (tmp_path / "file").write_text("not a folder")
    code = main(train_args(tiny_model_dir, sentiment_files, tmp_path / "file" / "run", "train.max_steps=1"))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err and str(tmp_path / "file") in err
    target, mkdir = tmp_path / "locked", Path.mkdir

    def refuse(self, *args, **kwargs):  # what a read-only folder does to a user who is not root
        if str(self).startswith(str(target)):
            raise PermissionError(13, "Permission denied", str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    code = main(train_args(tiny_model_dir, sentiment_files, target / "run", "train.max_steps=1"))
    err = capsys.readouterr().err
    assert code == 2 and "Permission denied" in err and "How to fix" in err and "Traceback" not in err


def shell_cli(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"{shlex.quote(sys.executable)} -m finegrain {command}"],
                          capture_output=True, text=True, timeout=120)


def test_predict_with_closed_stdin_or_stdout(finished):
    run = shlex.quote(str(finished))
    done = shell_cli(f"predict {run} --input - <&-")
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "stdin" in done.stderr, done.stderr
    done = subprocess.run(["bash", "-c", f"echo good | {shlex.quote(sys.executable)} -m finegrain predict {run}"
                           " --input - >&-"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 141 and done.stderr == "", done.stderr  # nobody reads: quiet, as a broken pipe


def test_predict_into_a_closed_pipe_exits_quietly(finished):
    read, write = os.pipe()
    os.close(read)  # the reader has gone, as with `| head -1` once head has its line
    try:
        done = subprocess.run([sys.executable, "-m", "finegrain", "predict", str(finished), "--input", "-"],
                              input=b"good\nbad\n", stdout=write, stderr=subprocess.PIPE, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == b"", done.stderr.decode()


def test_predictions_into_an_unwritable_path_are_a_user_error(finished, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("good\nbad\n")
    (tmp_path / "file").write_text("not a folder")
    code = main(["predict", str(finished), "--input", str(tmp_path / "in.txt"), "--output",
                 str(tmp_path / "file" / "out.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write the predictions" in err and "Traceback" not in err


def test_a_killed_overwrite_cannot_be_resumed_and_is_started_over(old_run, tiny_model_dir, sentiment_files, capsys):
    leftover = old_run.with_name(".run.overwrite")  # what a kill -9 of an --overwrite leaves
    leftover.mkdir()
    (leftover / "config.yaml").write_text((old_run / "config.yaml").read_text())
    before = digests(old_run)
    code = main(train_args(tiny_model_dir, sentiment_files, old_run, "train.max_steps=3", "--resume"))
    err = capsys.readouterr().err
    assert code == 2 and str(leftover) in err and "--overwrite" in err and digests(old_run) == before
    assert main(train_args(tiny_model_dir, sentiment_files, old_run, "train.max_steps=1", "--overwrite")) == 0
    assert siblings(old_run) == ["run"] and run_json(old_run)["steps"] == 1


def test_a_kill_between_the_swap_renames_loses_neither_run(old_run, tmp_path):
    import shutil

    from finegrain.errors import RunDirError
    from finegrain.training.run_dir import open_run_dir, prepare_run_dir

    # killed after the finished run moved aside and before its replacement moved in: no 'run' at all
    replacement = old_run.with_name(".run.overwrite")
    shutil.copytree(old_run, replacement)
    (replacement / "marker").write_text("new")
    old_run.rename(old_run.with_name(".run.old"))
    assert open_run_dir(old_run).path == old_run and (old_run / "marker").is_file()  # the replacement is in
    assert siblings(old_run) == ["run"]
    # the replacement gone too (deleted by hand): the old run comes back
    config_text = (old_run / "config.yaml").read_text()
    old_run.rename(old_run.with_name(".run.old"))
    with pytest.raises(RunDirError, match="already holds a finished run"):
        prepare_run_dir(old_run, config_text, resume=False, overwrite=False)
    assert siblings(old_run) == ["run"]
