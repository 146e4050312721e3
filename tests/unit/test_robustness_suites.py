"""Suite YAML (file:line errors listing the valid types), the figures of an attack on hand-made results, and
WordNet read from Debian's package."""

from __future__ import annotations

import pytest

from finegrain.errors import ConfigError
from finegrain.robustness import wordnet
from finegrain.robustness.attacks import AttackResult
from finegrain.robustness.metrics import attack_summary, rate
from finegrain.robustness.suites import check_labels, load_suite

GOOD = """tests:
  - type: inv
    perturbations: [typos, add-url]
  - type: dir
    name: negation
    when: pos
    edit: {append: " not"}
    expect: {label: pos, direction: not_up}
  - type: mft
    template: "I {verb} this {thing}."
    fill: {verb: [hate, dislike], thing: [film, movie]}
    expect: {label: neg}
"""


def _suite(tmp_path, text: str):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return load_suite(path), path


def test_a_suite_reads_each_kind_of_test(tmp_path):
    suite, _ = _suite(tmp_path, GOOD)
    assert suite.invariance == ("typos", "add-url")
    [negation] = suite.directional
    assert (negation.when, negation.label, negation.direction, negation.edit) == ("pos", "pos", "not_up",
                                                                                  {"append": " not"})
    [mft] = suite.functionality
    assert mft.texts == ("I hate this film.", "I hate this movie.", "I dislike this film.", "I dislike this movie.")
    check_labels(suite, ["neg", "pos"], classes=True, task="classification")
    with pytest.raises(ConfigError, match="label 'pos' of test 'negation' is not a label") as error:
        check_labels(suite, ["neg", "positive"], classes=True, task="classification")
    assert error.value.where.endswith("suite.yaml:4")


def test_an_unknown_test_type_names_its_line_and_the_valid_types(tmp_path):
    with pytest.raises(ConfigError) as error:
        _suite(tmp_path, "tests:\n  - type: inv\n  - type: directional\n    edit: {append: x}\n")
    assert error.value.where.endswith("suite.yaml:3")
    assert "unknown test type 'directional'" in error.value.message and "inv, dir, mft" in error.value.message


def test_a_template_without_a_label_expectation_is_refused_at_its_line(tmp_path):
    with pytest.raises(ConfigError, match="has no label expectation") as error:
        _suite(tmp_path, "tests:\n  - type: mft\n    template: 'I love it'\n    expect: {direction: up}\n")
    assert error.value.where.endswith("suite.yaml:2")


@pytest.mark.parametrize(("text", "message"), [
    ("tests:\n  - type: inv\n    perturbations: [typoz]\n", "unknown perturbation 'typoz'. Did you mean 'typos'"),
    ("tests:\n  - type: dir\n    edit: {append: x}\n    expect: {label: pos, direction: sideways}\n", "direction"),
    ("tests:\n  - type: mft\n    template: 'I {verb}'\n    expect: {label: pos}\n", "slot {verb} has no values"),
    ("tests:\n  - type: inv\n    perturbation: [typos]\n", "unknown key 'perturbation'"),
    ("tests: [\n", "not valid YAML"),
    ("tests: []\n", "non-empty 'tests' list"),
])
def test_suite_mistakes_are_explained(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        _suite(tmp_path, text)


def test_dir_and_mft_tests_need_a_class_task(tmp_path):
    suite, _ = _suite(tmp_path, GOOD)
    with pytest.raises(ConfigError, match="the ner task gives none"):
        check_labels(suite, ["B-PER", "O"], classes=False, task="ner")


def _result(success: bool, changed: int, words: int, queries: int) -> AttackResult:
    return AttackResult(row=0, original="a b", adversarial="a c", success=success, changed=changed, words=words,
                        queries=queries, before={"label": "pos"}, after={"label": "neg" if success else "pos"})


def test_attack_figures_on_hand_made_results():
    # 5 inputs, 4 predicted correctly and attacked, 2 of them flipped with 1 of 4 and 2 of 4 words changed
    results = [_result(True, 1, 4, 10), _result(True, 2, 4, 20), _result(False, 1, 5, 30), _result(False, 0, 3, 40)]
    summary = attack_summary(results, total=5)
    assert summary["success_rate"] == 0.5 and summary["accuracy_before"] == 0.8
    assert summary["accuracy_under_attack"] == 0.4 and summary["perturbed_word_share"] == 0.375
    assert summary["queries_per_attack"] == 25 and [e["after"] for e in summary["examples"]] == ["neg", "neg"]
    assert rate(1, 3) == pytest.approx(0.333333) and rate(0, 0) is None
    assert attack_summary([], total=3)["success_rate"] is None


@pytest.mark.skipif(not wordnet.wordnet_available(), reason="WordNet is not installed (apt-get install wordnet-base)")
def test_wordnet_synonyms_come_from_the_debian_package():
    assert "movie" in wordnet.synonyms("film") and "film" not in wordnet.synonyms("film")


def test_missing_wordnet_names_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setenv("FINEGRAIN_WORDNET", str(tmp_path))
    assert not wordnet.wordnet_available()
    with pytest.raises(Exception, match="apt-get install wordnet-base"):
        wordnet.wordnet_folder()


def test_a_limit_draws_every_class_of_a_split_sorted_by_label():
    """Some built-ins store their test split sorted by label: the first N would be one class only."""
    import pandas as pd

    from finegrain.data.split import Split
    from finegrain.robustness.runner import check_limit

    frame = pd.DataFrame({"text": [f"t{i}" for i in range(90)], "label": ["neg"] * 60 + ["pos"] * 30})
    split = Split("test", frame, "test.csv")
    chosen = check_limit(split, 9, "test.csv", stratify="label")
    assert list(chosen.frame["label"]).count("pos") == 3 and len(chosen) == 9
    assert chosen.frame["text"].tolist() == check_limit(split, 9, "test.csv", stratify="label").frame["text"].tolist()
    rows = [int(text[1:]) for text in chosen.frame["text"]]
    assert rows == sorted(rows)  # the split's order is kept
    unstratified = check_limit(split, 30, "test.csv").frame["label"]
    assert set(unstratified) == {"neg", "pos"}
