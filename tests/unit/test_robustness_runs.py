"""``finegrain robustness`` end to end on tiny runs: a config-built transformer (every attack) and TF-IDF (no
embedding attack), the files it writes, a user's suite, and bad input refused with exit 2."""

from __future__ import annotations

import contextlib
import io
import json
import shutil

import pytest
from serving_runs import train_tiny

from finegrain.cli.main import main

pytestmark = pytest.mark.usefixtures("one_thread")

SUITE = """tests:
  - type: inv
    perturbations: [typos, add-url]
  - type: dir
    name: appending 'not' does not raise P(pos)
    when: pos
    edit: {append: " not"}
    expect: {label: pos, direction: not_up}
  - type: mft
    template: "{word} {word} movie"
    fill: {word: [bad, awful, terrible, poor]}
    expect: {label: neg}
"""


def _copy(run, tmp_path):
    """A copy of the session's shared run: the command writes into the run folder."""
    return shutil.copytree(run, tmp_path / "run")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_model_dir, sentiment_files):
    return train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files)


@pytest.fixture(scope="module")
def tfidf_run(tmp_path_factory, tiny_model_dir, sentiment_files):
    return train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, method="tfidf")


def _main(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return code, out.getvalue(), err.getvalue()


def test_a_transformer_run_is_tested_and_attacked_every_way(full_run, tmp_path):
    run = _copy(full_run, tmp_path)
    code, printed, err = _main("robustness", run, "--attack", "char,embedding", "--limit", "12",
                               "--min-similarity", "0")
    assert code == 0, err
    result = json.loads((run / "robustness.json").read_text())
    assert result["inputs"] == 12 and result["primary_metric"] == "macro_f1" and result["clean"]["score"] is not None
    typos = result["invariance"]["typos"]
    assert typos["inputs"] == 12 and 0 <= typos["flip_rate"] <= 1 and typos["score"] is not None
    assert "does not apply" in result["invariance"]["entity-swap"]["skipped"]
    for name in ("char", "embedding"):
        summary = result["attacks"][name]
        assert summary["attacked"] == round(summary["accuracy_before"] * 12)
        assert summary["queries_per_attack"] > 1  # the clean input, the saliency of its words, candidates
        for example in summary["examples"]:
            assert example["before"] != example["after"] and 1 <= example["changed"] <= 3  # 25% of <= 12 words
    report = (run / "report.md").read_text()
    assert report.count("## Robustness") == 1 and "### Attacks" in (run / "robustness.md").read_text()
    assert _main("robustness", run, "--limit", "3")[0] == 0  # a second run replaces the section
    assert (run / "report.md").read_text().count("## Robustness") == 1


def test_a_tfidf_run_runs_a_users_suite_and_a_similarity_floor(tfidf_run, tmp_path, monkeypatch):
    run = _copy(tfidf_run, tmp_path)
    (tmp_path / "suite.yaml").write_text(SUITE)
    monkeypatch.setenv("FINEGRAIN_WORDNET", str(tmp_path))  # no WordNet here: the synonym attack is skipped
    code, _, err = _main("robustness", run, "--suite", tmp_path / "suite.yaml", "--attack", "char,synonym",
                         "--limit", "10", "--min-similarity", "0.5")
    assert code == 0, err
    result = json.loads((run / "robustness.json").read_text())
    assert list(result["invariance"]) == ["typos", "add-url"] and result["suite"] == "suite"
    [negation] = result["directional"]
    assert negation["inputs"] >= 1 and 0 <= negation["violation_rate"] <= 1
    [mft] = result["functionality"]
    assert mft["inputs"] == 4 and mft["failure_rate"] is not None
    assert "apt-get install wordnet-base" in result["attacks"]["synonym"]["skipped"] and "wordnet-base" in err
    assert result["attacks"]["char"]["attacked"] >= 1


@pytest.mark.parametrize("args, message", [
    (("--attack", "embedding"), "attacks this run can use: char, synonym"),
    (("--attack", "typo"), "Unknown attack 'typo'"),
    (("--limit", "31"), "--limit 31 is more than the 30 examples of the run's validation split"),
    (("--data", "test"), "it has: validation"),
    (("--suite", "missing.yaml"), "cannot read the suite"),
])
def test_bad_input_exits_2_without_a_traceback(tfidf_run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = _main("robustness", tfidf_run, *args)
    assert code == 2 and message in err and "Traceback" not in err
