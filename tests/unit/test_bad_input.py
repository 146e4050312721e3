"""Bad input through the CLI: exit code 2, no traceback, and a message that says where and how to fix."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from finegrain.cli.main import main

TINY = ["model.max_length=32", "train.max_steps=2", "train.batch_size=8", "train.precision=fp32"]
GOOD = "text,label\ngood great,pos\nbad awful,neg\nnice,pos\nsad,neg\nbest,pos\nworst,neg\n"

# name -> (files to write, CLI arguments after 'train', fragments the message must hold)
CASES = {
    "missing file": ({}, ["--data", "absent.csv"], ["absent.csv", "file not found", "How to fix"]),
    "missing column": ({"reviews.csv": "review,label\ngood,pos\nbad,neg\n"}, ["--data", "reviews.csv"],
                       ["reviews.csv", "Column 'text'", "Found columns: review, label", "data.text=<column>"]),
    "misnamed column": ({"train.csv": GOOD}, ["--data", "train.csv", "data.label=lable"],
                        ["train.csv", "Column 'lable'", "Did you mean 'label'?", "Found columns: text, label"]),
    "empty text": ({"train.csv": GOOD, "dev.csv": "text,label\ngood,pos\n  ,neg\n"},
                   ["--data", "train.csv", "--validation", "dev.csv"], ["dev.csv", "empty text", "row(s) 2", "Remove"]),
    "empty file": ({"train.csv": ""}, ["--data", "train.csv"], ["train.csv", "is empty", "How to fix"]),
    "header only": ({"train.csv": "text,label\n"}, ["--data", "train.csv"], ["train.csv", "no data rows", "add"]),
    "unseen label": ({"train.csv": GOOD, "test.csv": "text,label\ngood,pos\nmeh,neutral\n"},
                     ["--data", "train.csv", "--test", "test.csv"],
                     ["test.csv", "'neutral'", "row(s) 2", "Known labels: neg, pos", "How to fix"]),
    "single class": ({"train.csv": "text,label\na,pos\nb,pos\nc,pos\nd,pos\n"}, ["--data", "train.csv"],
                     ["train.csv", "single class ('pos'", "at least two", "How to fix"]),
    "not utf-8": ({"train.csv": b"text,label\ngood,pos\nb\xe9d,neg\n"}, ["--data", "train.csv"],
                  ["train.csv", "byte 0xe9 at byte offset 21 (line 3)", "UTF-8", "iconv"]),
    "ragged rows": ({"train.csv": "text,label\ngood,pos\nbad,neg,extra\n"}, ["--data", "train.csv"],
                    ["train.csv", "line 3 has 3 fields", "header (line 1) has 2", "double quotes"]),
    "yaml typo": ({"run.yaml": "data: {train: t.csv}\ntrian: {epochs: 2}\noutput: runs/x\n"}, ["run.yaml"],
                  ["run.yaml", "trian: unknown key", "Did you mean 'train'?", "Valid keys"]),
    "yaml syntax": ({"run.yaml": "data:\n  train: t.csv\n  test: [open\noutput: runs/x\n"}, ["run.yaml"],
                    ["run.yaml:4:", "YAML syntax error", "How to fix"]),
    "unknown model": ({"train.csv": GOOD}, ["--data", "train.csv", "--model", "bert-tiny"],
                      ["Unknown model 'bert-tiny'", "Use one of: albert-tiny-zh, default, m3e-small, zh-medium, zh-small"]),
    "unknown dataset": ({}, ["--data", "bbc-nws"], ["data.train", "Did you mean 'bbc-news'?",
                                                     "Built-in datasets: bbc-news, bq-matching, chinese-reviews"]),
    "unknown method": ({}, ["--data", "bbc-news", "--method", "lorra"],
                       ["method.name", "Did you mean 'lora'?", "Available: ", "full"]),
    "unknown override": ({}, ["--data", "bbc-news", "train.learning_rate=1e-3"],
                         ["train.learning_rate: unknown key", "Valid keys"]),
    "max_length too large": ({"train.csv": GOOD}, ["--data", "train.csv", "--max-length", "100"],
                             ["model.max_length=100", "64", "How to fix"]),
    "unknown defence": ({"train.csv": GOOD}, ["--data", "train.csv", "train.adversarial=fgn"],
                        ["train.adversarial: unknown defence 'fgn'", "Did you mean 'fgm'?", "Valid names: fgm, pgd"]),
    "defence on a fitted method": ({"train.csv": GOOD}, ["--data", "train.csv", "--method", "tfidf",
                                                         "train.adversarial=fgm"],
                                   ["train.adversarial (fgm)", "'tfidf' is fitted", "How to fix", "lora"]),
}


def cli(capsys, *args) -> tuple[int, str]:
    code = main([str(arg) for arg in args])
    return code, capsys.readouterr().err


def assert_user_error(code: int, err: str, fragments: list[str]) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, f"{fragment!r} not in {err!r}"


@pytest.mark.parametrize("case", list(CASES))
def test_bad_training_input(case, tmp_path, tiny_model_dir, monkeypatch, capsys):
    files, args, fragments = CASES[case]
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    model = [] if "--model" in args or args[0].endswith(".yaml") else ["--model", str(tiny_model_dir)]
    extra = [] if args[0].endswith(".yaml") else ["model.max_length=32"] if "--max-length" not in args else []
    code, err = cli(capsys, "train", *args, *model, *extra)
    assert_user_error(code, err, fragments)
    assert not (tmp_path / "runs").exists()  # nothing written before the input is known to be good


def digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_model_dir) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("bad-input-run")
    (root / "train.csv").write_text(GOOD, encoding="utf-8")
    args = ["--data", str(root / "train.csv"), "--model", str(tiny_model_dir), *TINY]
    assert main(["train", *args, "--output", str(root / "run")]) == 0
    return root / "run", args


@pytest.mark.parametrize("flags", [[], ["--resume"]], ids=["plain", "resume-different-config"])
def test_output_holding_a_different_run_is_refused_and_kept(finished_run, flags, capsys):
    run_dir, args = finished_run
    before = digests(run_dir)
    code, err = cli(capsys, "train", *args, "train.lr=1e-3", "--output", run_dir, *flags)
    expected = ["--resume", "--overwrite"] if not flags else ["differs in train.lr", "--overwrite"]
    assert_user_error(code, err, [str(run_dir), *expected])
    assert digests(run_dir) == before


def test_output_with_unrelated_files_is_refused_and_untouched(finished_run, tmp_path, capsys):
    _, args = finished_run
    (tmp_path / "notes.txt").write_text("my notes", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "data.bin").write_bytes(b"\x00\x01")
    before = digests(tmp_path)
    code, err = cli(capsys, "train", *args, "--output", tmp_path)
    assert_user_error(code, err, [str(tmp_path), "not a finegrain run", "How to fix"])
    assert digests(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "sub"]


def test_overwrite_replaces_a_run(finished_run, tmp_path, capsys):
    _, args = finished_run
    assert main(["train", *args, "--output", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main(["train", *args, "train.lr=1e-3", "--output", str(tmp_path / "run"), "--overwrite"]) == 0
    assert "lr: 0.001" in (tmp_path / "run" / "config.yaml").read_text()


PREDICT_CASES = {
    "missing input": ({}, "absent.txt", ["absent.txt", "input file not found", "How to fix"]),
    "empty line": ({"in.txt": "good\n\nbad\n"}, "in.txt", ["in.txt", "line 2 is empty", "same order"]),
    "empty input": ({"in.txt": ""}, "in.txt", ["in.txt", "nothing to predict"]),
    "not utf-8": ({"in.txt": b"good\nb\xe9d\n"}, "in.txt", ["in.txt", "byte offset 6 (line 2)", "UTF-8"]),
    "jsonl without text": ({"in.jsonl": '{"text": "good"}\n{"body": "bad"}\n'}, "in.jsonl",
                           ["in.jsonl", "row 2: column 'text' is empty", "fill in the text"]),
    "csv without text column": ({"in.csv": "review\ngood\n"}, "in.csv",
                                ["in.csv", "no column 'text'", "Found columns: review", "rename"]),
    "bad json line": ({"in.txt": '{"text": "good"}\n{"text": \n'}, "in.txt", ["in.txt", "line 2", "not valid JSON"]),
}


@pytest.mark.parametrize("case", list(PREDICT_CASES))
def test_bad_prediction_input(case, finished_run, tmp_path, monkeypatch, capsys):
    files, source, fragments = PREDICT_CASES[case]
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, err = cli(capsys, "predict", finished_run[0], "--input", source)
    assert_user_error(code, err, fragments)

