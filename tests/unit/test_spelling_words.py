"""English spelling correction at the word level: words, the output vocabulary, labels, metrics over words, and an
end-to-end tiny run."""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
from transformers import AutoTokenizer

import finegrain
from finegrain.data.labels import LabelMap
from finegrain.data.split import Split
from finegrain.tasks.spelling.checks import check_pairs
from finegrain.tasks.spelling.decoding import apply_edits
from finegrain.tasks.spelling.encoding import IGNORE_INDEX
from finegrain.tasks.spelling.metrics import spelling_metrics
from finegrain.tasks.spelling.tiny import make_word_spelling_rows
from finegrain.tasks.spelling.word_level import KEEP, encode_words, estimated_word_proposals, vocabulary, word_proposals
from finegrain.tasks.spelling.words import words


def test_word_metrics_count_words_fixed_and_correct_words_changed():
    sources = [words("I beleive it"), words("teh cat sat"), words("a fine day")]
    targets = [words("I believe it"), words("the cat sat"), words("a fine day")]
    predicted = [words("I believe it"), words("teh bat sat"), words("a fine way")]
    metrics = spelling_metrics(sources, targets, predicted, unit="word")
    assert metrics["correction_rate"] == 0.5  # beleive fixed, teh not
    assert metrics["over_correction_rate"] == 2 / 7  # cat -> bat, day -> way among 7 correct words
    assert metrics["word"]["correction"]["precision"] == 1 / 3
    assert metrics["sentence_correction"]["recall"] == 0.5
    assert metrics["false_positive_rate"] == 1.0


def test_the_vocabulary_puts_corrected_words_first_and_keep():
    names = vocabulary(["The cat sat on the mat", "A dog"], ["Teh cat sat on the mat", "A dgo"], size=3)
    assert names == [KEEP, "the", "dog", "cat"]  # corrected-to words lead (the, dog), then the most frequent


def test_labels_sit_on_first_sub_tokens_and_skip_corrections_outside_the_vocabulary(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    labels = LabelMap((KEEP, "good", "movie"))
    [feature] = encode_words(tokenizer, ["the goood movei"], ["the good movie"], None, labels, 32)
    first = [w for w in feature["first"]]
    labelled = {first[p]: label for p, label in enumerate(feature["labels"]) if label != IGNORE_INDEX}
    assert labelled == {0: labels.id(KEEP), 1: labels.id("good"), 2: labels.id("movie")}
    [unlabelled] = encode_words(tokenizer, ["the goood movei"], ["the good movie"], None, LabelMap((KEEP,)), 32)
    labelled = {unlabelled["first"][p] for p, label in enumerate(unlabelled["labels"]) if label != IGNORE_INDEX}
    assert labelled == {0}  # 'good' and 'movie' are outside that vocabulary: not learnt, not taught as $KEEP
    assert sum(w is not None for w in feature["first"]) == 3  # one decision per word, however many pieces


def test_word_edits_replace_spans_of_any_length():
    edits = [{"position": 0, "original": "Teh", "correction": "The"},
             {"position": 8, "original": "beleive", "correction": "believe"}]
    assert apply_edits("Teh cat beleive it", edits) == "The cat believe it"
    answers = [[-30.0, "", 0.0], [-30.0, "", 0.0], [1.0, "believe", 0.9], [-30.0, "", 0.0]]
    [proposal] = estimated_word_proposals("Teh cat beleive it", answers)
    assert (proposal["position"], proposal["index"], proposal["correction"]) == (8, 2, "believe")


def test_pairs_of_unequal_word_counts_are_counted(caplog):
    frame = pd.DataFrame({"source": ["alot of it", "teh cat"], "target": ["a lot of it", "the cat"], "row": [1, 2]})
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        checked = check_pairs(Split("train", frame, "t.jsonl"), "word")
    assert checked.frame["same_length"].tolist() == [False, True]
    assert "1 of 2" in caplog.text and "words" in caplog.text and "row 1" in caplog.text


@pytest.mark.parametrize("method", ["full", "lora"])
def test_word_level_trains_evaluates_and_predicts_end_to_end(tmp_path, tiny_model_dir, caplog, method):
    for name, n, seed in (("train", 80, 1), ("dev", 24, 2)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_word_spelling_rows(n, seed)))
    config = {"task": {"name": "spelling", "level": "word", "vocabulary_size": 40},
              "model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": method},
              "data": {"train": str(tmp_path / "train.jsonl"), "validation": str(tmp_path / "dev.jsonl"),
                       "test": str(tmp_path / "dev.jsonl")},
              "train": {"max_steps": 30, "batch_size": 16, "lr": 5e-3, "precision": "fp32", "warmup": 0.0},
              "output": str(tmp_path / "run")}
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        run = finegrain.train(config).run_dir
    assert "cannot fix case" in caplog.text  # the tiny tokenizer lower-cases
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert {"word", "correction_rate", "over_correction_rate", "correction_f1"} <= set(metrics)
    assert "char" not in metrics
    predictor = finegrain.load(run)
    texts = ["Teh good movie.", "Good moive day."]
    predictions = predictor.predict(texts)
    for text, prediction in zip(texts, predictions):
        assert prediction["text"] == text
        assert len(words(prediction["corrected"])) == len(words(text))
        for edit in prediction["edits"]:
            assert text[edit["position"]:edit["position"] + len(edit["original"])] == edit["original"]
            assert edit["correction"][0].isupper() == edit["original"][0].isupper()  # the written case kept


def test_the_chinese_ngram_corrector_refuses_the_word_level():
    import pytest

    from finegrain.errors import ConfigError
    from finegrain.methods.estimators.spelling_ngram import CharNgramCorrector
    from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

    CharNgramCorrector().check_task(SpellingTask())
    with pytest.raises(ConfigError, match="English words"):
        CharNgramCorrector().check_task(SpellingTask(SpellingParams(level="word")))


def test_a_tsv_of_pairs_without_a_header_is_read_from_its_first_line(tmp_path):
    from finegrain.data.sources import load_source

    path = tmp_path / "pairs.tsv"
    path.write_text("我门好\t我们好\n他去学效\t他去学校\n", encoding="utf-8")
    split = load_source(str(path), "test", {"source": "source", "target": "target"})
    rows = split.frame[["source", "target", "row"]].values.tolist()
    assert rows == [["我门好", "我们好", 1], ["他去学效", "他去学校", 2]]
    headed = tmp_path / "headed.tsv"
    headed.write_text("source\ttarget\n我门好\t我们好\n", encoding="utf-8")
    assert load_source(str(headed), "test", {"source": "source", "target": "target"}).frame["row"].tolist() == [1]


def test_symspell_candidates_restrict_the_model_to_words_within_two_edits():
    import numpy as np
    import pytest

    from finegrain.tasks.spelling.candidates import symspell_candidates
    from finegrain.tasks.spelling.task import SpellingParams

    names = [KEEP, "table", "believe", "the"]
    # the model ranks table (far from "beleive") over believe (1 edit): symspell's candidates leave believe
    row = np.array([1, 2, 0, 3, np.log(0.6), np.log(0.3), np.log(0.05), np.log(0.05)])
    feature = {"first": [None, 0, None]}
    logits = np.stack([np.zeros(8), row, np.zeros(8)])
    [alone] = word_proposals("beleive", feature, logits, names)
    [reranked] = word_proposals("beleive", feature, logits, names, symspell_candidates)
    assert (alone["correction"], reranked["correction"]) == ("table", "believe")
    assert reranked["probability"] == pytest.approx(0.3)
    # an unknown word the model would keep: the dictionary says it is wrong, so its best candidate is proposed
    keeping = np.array([0, 2, 1, 3, np.log(0.9), np.log(0.05), np.log(0.03), np.log(0.02)])
    logits = np.stack([np.zeros(8), keeping, np.zeros(8)])
    assert word_proposals("beleive", feature, logits, names) == []
    [proposal] = word_proposals("beleive", feature, logits, names, symspell_candidates)
    assert (proposal["correction"], proposal["probability"]) == ("believe", pytest.approx(0.05))
    assert word_proposals("the", feature, logits, names, symspell_candidates) == []  # a known word: kept
    with pytest.raises(ValueError, match="level: word"):
        SpellingParams(candidates="symspell")


@pytest.mark.parametrize("method, task", [("symspell", {}), ("symspell-context", {"max_over_correction": 0.05})])
def test_the_dictionary_baselines_train_save_and_predict_at_the_word_level(method, task, tmp_path):
    """symspell and symspell-context through a whole run (the contract tests' tiny data is character-level): fit,
    scores, load, predict."""
    for name, n, seed in (("train", 20, 1), ("dev", 12, 2)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_word_spelling_rows(n, seed)))
    config = {"task": {"name": "spelling", "level": "word", **task}, "method": {"name": method},
              "data": {"train": str(tmp_path / "train.jsonl"), "validation": str(tmp_path / "dev.jsonl"),
                       "test": str(tmp_path / "dev.jsonl")}, "output": str(tmp_path / "run")}
    run = finegrain.train(config).run_dir
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert metrics["correction_rate"] > 0.5  # the tiny misspellings are swapped letters of dictionary words
    [prediction] = finegrain.load(run).predict(["I beleive the movei was good."])
    assert prediction["corrected"] == "I believe the movie was good."
    assert [(e["position"], e["original"], e["correction"]) for e in prediction["edits"]] == [
        (2, "beleive", "believe"), (14, "movei", "movie")]
