"""The spelling task: metrics on hand-made cases, pair checks, data formats, the built-ins and an end-to-end run."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import finegrain
from finegrain.data.confusion_sets import ConfusionSets, parse_same_pinyin, parse_same_stroke
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.tasks.spelling.checks import check_pairs
from finegrain.tasks.spelling.decoding import best_threshold
from finegrain.tasks.spelling.metrics import error_analysis, f1_of_counts, sentence_counts, spelling_metrics

# source, target, prediction: fixed, corrected wrongly, clean left alone, clean over-corrected
SOURCES = ["我门好", "他去学效", "今天很好", "天气不错"]
TARGETS = ["我们好", "他去学校", "今天很好", "天气不错"]
PREDICTED = ["我们好", "他去学孝", "今天很好", "天汽不错"]


def test_strict_sentence_metrics_on_hand_made_cases():
    m = spelling_metrics(SOURCES, TARGETS, PREDICTED)
    # correction: 1 right of 3 changed sentences, 2 with errors
    assert m["sentence_correction"]["precision"] == pytest.approx(1 / 3)
    assert m["sentence_correction"]["recall"] == pytest.approx(1 / 2)
    assert m["correction_f1"] == pytest.approx(0.4)
    assert m["sentence_correction"]["accuracy"] == pytest.approx(2 / 4)
    # detection: the wrong correction found the right position
    assert m["sentence_detection"]["precision"] == pytest.approx(2 / 3)
    assert m["sentence_detection"]["accuracy"] == pytest.approx(3 / 4)
    assert m["false_positive_rate"] == pytest.approx(1 / 2)


def test_character_metrics_and_lenient_f1():
    m = spelling_metrics(SOURCES, TARGETS, PREDICTED)
    assert m["char"]["detection"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8})
    assert m["char"]["correction"]["precision"] == pytest.approx(1 / 3)
    # pycorrector: tp 1, fn 1 (wrong correction), fp 1 (changed clean), tn 1
    assert m["lenient"] == pytest.approx({"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_strict_counts_a_partial_correction_as_wrong():
    m = spelling_metrics(["我门去学效"], ["我们去学校"], ["我们去学效"])
    assert m["correction_f1"] == 0.0 and m["char"]["correction"]["recall"] == 0.5


def test_unequal_pairs_score_at_sentence_level_only():
    m = spelling_metrics(["我好"], ["我们好"], ["我好"])
    assert m["unequal_pairs"] == 1 and m["sentences_with_errors"] == 1 and m["correction_f1"] == 0.0
    assert m["char"]["correction"]["recall"] == 0.0


def test_summed_counts_give_the_headline():
    counts = sentence_counts(SOURCES, TARGETS, PREDICTED)
    assert float(f1_of_counts(counts.sum(axis=0))) == pytest.approx(spelling_metrics(SOURCES, TARGETS, PREDICTED)
                                                                     ["correction_f1"])


def test_error_analysis_names_the_confusion_type():
    sets = ConfusionSets({"校": "效孝"}, {"汽": "气"}, "")
    analysis = error_analysis(SOURCES, TARGETS, PREDICTED, sets.kind)
    assert analysis["missed"][0] == {"original": "效", "correction": "校", "count": 1, "kind": "same pronunciation"}
    assert {"original": "气", "correction": "汽", "count": 1, "kind": "same shape"} in analysis["spurious"]
    assert analysis["by_kind"] == {"missed": {"same pronunciation": 1},
                                   "spurious": {"other": 1, "same shape": 1}}  # 效->孝: not in the sets given
    from finegrain.tasks.spelling.report import split_section

    assert "### Errors by confusion type" in split_section("test", {"error_analysis": analysis})


def test_confusion_files_parse():
    assert parse_same_pinyin("#汉字\t同音同调\t同音异调\n丁\t盯叮\t政正\n")["丁"] == "盯叮政正"
    assert parse_same_stroke("龙\t拢\t笼\n")["拢"] == "龙笼"


def test_threshold_prefers_precision():
    assert best_threshold([(0.9, True), (0.8, False), (0.7, False), (0.3, True)], gold=2) == 0.9
    assert best_threshold([], gold=3) is None


def _split(rows: list[tuple[str, str]], name: str = "train") -> Split:
    frame = pd.DataFrame({"source": [s for s, _ in rows], "target": [t for _, t in rows], "row": range(1, len(rows) + 1)})
    return Split(name, frame, "pairs.jsonl")


def test_unequal_pairs_are_counted_shown_and_kept(caplog):
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        checked = check_pairs(_split([("我好", "我们好"), ("我门", "我们")]))
    assert checked.frame["same_length"].tolist() == [False, True]
    assert "1 of 2" in caplog.text and "row 1: '我好' -> '我们好'" in caplog.text and "'grammar'" in caplog.text


def test_empty_source_is_refused():
    with pytest.raises(DataError, match=r"1 empty source text.*row\(s\) 2"):
        check_pairs(_split([("我门", "我们"), ("  ", "我们")]))


def test_unchanged_training_file_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        check_pairs(_split([("我们", "我们")]))
    assert "nothing to learn" not in caplog.text and "no error to learn from" in caplog.text


def test_test_only_builtin_is_refused_as_training_data():
    from finegrain.data.sources import load_source

    with pytest.raises(DataError, match="is a test set") as error:
        load_source("sighan15-test", "train", {"source": "source", "target": "target"})
    assert "data.test: sighan15-test" in error.value.hint
    with pytest.raises(DataError, match="is a test set"):  # naming its test split does not make it training data
        load_source("sighan15-test:test", "validation", {"source": "source", "target": "target"})


def test_sighan15_has_its_707_pairs():
    from finegrain.registry import DATASETS

    splits = DATASETS.get("sighan15-test").load()
    assert list(splits) == ["test"] and len(splits["test"]) == 707


def test_synthetic_errors_are_reproducible():
    from finegrain.data.spelling_sets import inject_errors

    sets = ConfusionSets({c: "甲乙" for c in "我们今天去学校上课"}, {}, "丙丁")
    sentences = ["我们今天去学校上课。"] * 40
    first, again = inject_errors(sentences, sets, seed=3), inject_errors(sentences, sets, seed=3)
    assert first == again and first != inject_errors(sentences, sets, seed=4)
    changed = [sum(a != b for a, b in zip(s, t)) for s, t in first]
    assert all(len(s) == len(t) for s, t in first) and set(changed) <= {0, 1, 2}
    assert 0.25 < sum(c > 0 for c in changed) / len(changed) < 0.75


def test_synthetic_replacements_follow_character_frequency():
    from finegrain.data.spelling_sets import SynthMix, inject_errors

    sets = ConfusionSets({c: "甲乙" for c in "我们今天去学校上课"}, {}, "")
    mix = SynthMix(corrupted=1.0, two_errors=0.0, same_pronunciation=1.0, same_shape=0.0)
    sentences = ["我们今天去学校上课。"] * 200

    def drawn(frequency):
        return [a for s, t in inject_errors(sentences, sets, seed=5, mix=mix, frequency=frequency)
                for a, b in zip(s, t) if a != b]

    common = drawn({"甲": 999, "乙": 0})  # weights count + 1: 1000 to 1
    assert len(common) == 200 and common.count("甲") >= 190
    uniform = drawn(None)
    assert 60 < uniform.count("甲") < 140


def test_train_and_predict_end_to_end(tmp_path, tiny_model_dir):
    """A tiny run on jsonl training pairs and a tsv (with a header) validation and test."""
    from finegrain.tasks.spelling.tiny import make_spelling_rows

    rows = make_spelling_rows(60, seed=1)
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "dev.tsv").write_text("source\ttarget\n" + "".join(
        f"{r['source']}\t{r['target']}\n" for r in make_spelling_rows(20, seed=2)))
    config = {"task": "csc", "model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": "full"},
              "data": {"train": str(tmp_path / "train.jsonl"), "validation": str(tmp_path / "dev.tsv"),
                       "test": str(tmp_path / "dev.tsv")},
              "train": {"max_steps": 30, "batch_size": 16, "lr": 5e-3, "precision": "fp32", "warmup": 0.0},
              "output": str(tmp_path / "run")}
    run = finegrain.train(config).run_dir
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"correction_f1", "lenient", "char", "false_positive_rate"} <= set(metrics["test"])
    predictor = finegrain.load(run)
    tuned = metrics["validation"]["threshold"]
    assert metrics["test"]["threshold"] == tuned  # test scored with the threshold validation chose ...
    assert predictor.task._threshold == tuned  # ... and so does prediction from the finished run
    predictions = predictor.predict(["thegoad", "food"])
    assert [p["text"] for p in predictions] == ["thegoad", "food"]
    for p in predictions:
        assert len(p["corrected"]) == len(p["text"])
        assert all({"position", "original", "correction", "probability"} == set(e) for e in p["edits"])
    assert "## Test" in (run / "report.md").read_text()
    from finegrain.tasks.spelling.serving import PAYLOAD

    assert set(PAYLOAD.public(predictions[0])) == {"text", "corrected", "edits"}


def test_pycorrector_json_reads_with_its_column_names(tmp_path):
    from finegrain.data.sources import load_source

    path = tmp_path / "test.json"
    path.write_text(json.dumps([{"id": "a", "original_text": "我门", "wrong_ids": [1], "correct_text": "我们"}],
                               ensure_ascii=False), encoding="utf-8")
    split = load_source(str(path), "test", {"source": "original_text", "target": "correct_text"})
    assert split.frame["source"].tolist() == ["我门"] and split.frame["target"].tolist() == ["我们"]


def test_ngram_baseline_corrects_from_its_counts_and_round_trips():
    from finegrain.methods.estimators.char_ngram import CharNgram

    lm = CharNgram().fit(["我们去学校上课"] * 30 + ["他们在学校里"] * 30)
    candidates = {"效": "校孝", "校": "效孝"}
    assert lm.correct("我们去学效上课", candidates, margin=1.0)[0] == "我们去学校上课"
    assert lm.correct("我们去学校上课", candidates, margin=1.0) == ("我们去学校上课", [])
    assert lm.correct("我们去学效上课", candidates, margin=1e6)[1] == []  # a gain below the margin changes nothing
    again = CharNgram.from_state(json.loads(json.dumps(lm.state())))
    assert again.correct("他们在学效里", candidates, 1.0) == lm.correct("他们在学效里", candidates, 1.0)


def test_ngram_baseline_counts_extra_corpora_beside_its_targets(tmp_path):
    from finegrain.methods.estimators.base import EstimatorContext
    from finegrain.methods.estimators.spelling_ngram import CharNgramCorrector, CharNgramParams

    corpus = tmp_path / "corpus.txt"
    corpus.write_text("我们去学校上课\n" * 30 + "他们在学校里\n" * 30, encoding="utf-8")
    context = EstimatorContext(model_path=None, seed=0, load_tokenizer=None, load_encoder=None, collate=None,
                               embed=None)
    candidates, targets = {"效": "校孝"}, pd.Series(["今天天气很好"] * 5).to_numpy(dtype=object)
    plain = CharNgramCorrector()
    plain.fit(["今天天气很好"] * 5, targets, context)
    assert plain.model.correct("我们去学效上课", candidates, margin=1.0)[1] == []  # the targets never show 学校
    counted = CharNgramCorrector(CharNgramParams(corpora=[str(corpus)]))
    counted.fit(["今天天气很好"] * 5, targets, context)
    assert counted.model.correct("我们去学效上课", candidates, margin=1.0)[0] == "我们去学校上课"
    assert counted.model.counts[2]["学校上"] == 1  # 30 copies of a line count once: the corpus is deduplicated
    with pytest.raises(ValueError, match="neither a file nor a built-in corpus.*Did you mean 'chinese-reviews'"):
        CharNgramParams(corpora=["chinese-review"])


def test_ngram_corpora_never_count_held_out_text_or_a_target_twice(tmp_path):
    from dataclasses import replace

    from finegrain.methods.estimators.base import EstimatorContext
    from finegrain.methods.estimators.spelling_ngram import CharNgramCorrector, CharNgramParams

    corpus = tmp_path / "corpus.txt"  # one document of three sentences: a held-out one, a target, a new one
    corpus.write_text("我们去学校上课了。今天天气很好。他们在公园里散步呢。\n", encoding="utf-8")
    context = EstimatorContext(model_path=None, seed=0, load_tokenizer=None, load_encoder=None, collate=None,
                               embed=None)
    targets = pd.Series(["今天天气很好"]).to_numpy(dtype=object)
    method = CharNgramCorrector(CharNgramParams(corpora=[str(corpus)]))
    method.fit(["今天天气很好"], targets, context)
    assert method.model.counts[2]["学校上"] == 1 and method.model.counts[2]["天气很"] == 1
    method.fit(["今天天气很好"], targets, replace(context, held_out=("我们去学校上课了",)))
    counts = method.model.counts[2]
    assert counts["学校上"] == 0  # the held-out sentence is not counted
    assert counts["天气很"] == 1  # the target's sentence counts once (the target), not twice
    assert counts["公园里"] == 1  # the rest of the document still counts


def test_drop_repeats_matches_long_runs_and_whole_sentences_only():
    from finegrain.pretraining.corpus import drop_repeats

    held_out = ["他说今天的会议因为大雨推迟到明天下午三点开始", "我今天很高兴。", "你好！"]
    documents = ["大家注意：会议因为大雨推迟到明天下午三点开始。其他安排不变。",  # a 16-character run repeats
                 "会议推迟到明天。",  # 7 characters in common only: kept
                 "我今天很高兴！", "你好！", "！"]  # one sentence repeated whole; short ones (<5) never compared
    kept, dropped = drop_repeats(documents, held_out)
    assert (kept, dropped) == (["其他安排不变。", "会议推迟到明天。", "你好！", "！"], 2)
    assert drop_repeats(documents, []) == (documents, 0)


def test_one_character_one_token_alignment():
    from transformers import BertTokenizerFast

    from finegrain.tasks.spelling.encoding import char_tokens, encode_pairs

    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "我", "们",
                                                                       "门", "ab", "##c"])})
    # a space gives no token; "abc" would be two pieces, so each of its letters stands alone as [UNK]
    assert char_tokens(tokenizer, ["我 门x"]) == [([4, 6, 1], [0, 2, 3])]
    feature = encode_pairs(tokenizer, ["我门x"], ["我们x"], [True], max_length=8)[0]
    assert feature["input_ids"] == [2, 4, 6, 1, 3] and feature["chars"] == [None, 0, 1, 2, None]
    assert feature["detect"] == [-100, 0, 1, 0, -100]
    assert feature["labels"] == [-100, 4, 5, -100, -100]  # an unknown target character teaches nothing


def test_proposals_keep_one_character_candidates_at_their_offsets():
    import numpy as np

    from finegrain.tasks.spelling.decoding import apply_edits, proposals
    from finegrain.tasks.spelling.model import TOP_K

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "我", "们", "门", "##们", "好"]
    feature = {"input_ids": [2, 4, 6, 1, 8, 3], "chars": [None, 0, 2, 3, 4, None]}  # "我 门?好": a space at 1
    logits = np.zeros((6, 1 + 2 * TOP_K))
    logits[:, 1] = [2, 4, 5, 5, 7, 3]  # top candidate per position: 门->们, [UNK] and 好 ->"##们" (a piece)
    logits[:, 1 + TOP_K] = np.log(0.8)
    found = proposals("我 门?好", feature, logits, tokens, unknown_id=1, allowed=lambda written, token: True)
    assert [(p["position"], p["original"], p["correction"]) for p in found] == [(2, "门", "们")]
    assert found[0]["probability"] == pytest.approx(0.8) and apply_edits("我 门?好", found) == "我 们?好"
    assert proposals("我 门?好", feature, logits, tokens, 1, allowed=lambda written, token: False) == []


def test_a_proposal_is_the_best_allowed_candidate_below_the_written_character():
    import numpy as np

    from finegrain.tasks.spelling.decoding import proposals
    from finegrain.tasks.spelling.model import TOP_K

    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "我", "们", "门", "好"]
    feature = {"input_ids": [2, 4, 6, 3], "chars": [None, 0, 1, None]}
    logits = np.zeros((4, 1 + 2 * TOP_K))
    logits[:, 1] = [2, 4, 6, 3]  # the written character ranks first everywhere ...
    logits[2, 2:4] = [7, 5]  # ... at 门, then 好 and 们
    logits[2, 1 + TOP_K: 4 + TOP_K] = np.log([0.6, 0.3, 0.1])
    found = proposals("我门", feature, logits, tokens, 1, allowed=lambda written, token: True)
    assert [(p["correction"], round(p["probability"], 3)) for p in found] == [("好", 0.3)]
    confusable = proposals("我门", feature, logits, tokens, 1, allowed=lambda written, token: token == "们")
    assert [(p["correction"], round(p["probability"], 3)) for p in confusable] == [("们", 0.1)]


def test_a_loaded_run_predicts_with_its_tuned_threshold_unless_one_is_set():
    from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

    task = SpellingTask(SpellingParams())
    task.restore({"validation": {"threshold": 0.83}, "test": {"threshold": 0.83}})
    assert task._threshold == 0.83
    fixed = SpellingTask(SpellingParams(threshold=0.5))
    fixed.restore({"validation": {"threshold": 0.83}})
    assert fixed._threshold is None  # a threshold set in the config stays the one used


def test_threshold_tuned_on_validation_cuts_the_test_split():
    import numpy as np
    from transformers import BertTokenizerFast

    from finegrain.tasks.spelling.model import TOP_K
    from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "我", "们", "门", "好"]
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    task = SpellingTask(SpellingParams())
    labels = task.label_map(_split([("我门", "我们")]))

    def scored(name: str, rows: list[tuple[str, str]], proposals: list[tuple[int, float]]) -> dict:
        split = check_pairs(_split(rows, name))
        features = task.encode(split, tokenizer, labels, max_length=8)
        logits = []
        for feature, (candidate, probability) in zip(features, proposals):
            values = np.zeros((len(feature["input_ids"]), 1 + 2 * TOP_K))
            values[:, 1] = feature["input_ids"]  # every position keeps its character ...
            values[2, 1], values[2, 1 + TOP_K] = candidate, np.log(probability)  # ... but the second
            logits.append(values)
        return task.evaluate(split, features, logits, labels)

    rows = [("我门", "我们"), ("我好", "我好")]
    validation = scored("validation", rows, [(5, 0.9), (6, 0.6)])  # right at 0.9, a false alarm at 0.6
    assert validation["threshold"] == pytest.approx(0.9) and validation["correction_f1"] == 1.0
    test = scored("test", rows, [(5, 0.7), (6, 0.95)])  # 0.7 falls under the tuned 0.9, 0.95 clears it
    assert test["threshold"] == pytest.approx(0.9) and test["false_positive_rate"] == 1.0
    assert test["correction_f1"] == 0.0
    task = SpellingTask(SpellingParams(confusion_only=True, threshold=0.5))  # 门 -> 们 (same sound), 门 -> 好 not
    assert scored("test", [("我门", "我们")], [(5, 0.9)])["correction_f1"] == 1.0
    assert scored("test", [("我门", "我好")], [(7, 0.9)])["sentence_detection"]["precision"] == 0.0
    # right at 0.9, false alarms at 0.6 and 0.5, right at 0.4 and 0.3: F0.5 stops at 0.9, F1 takes all five
    rows = [("我门", "我们"), ("我好", "我好"), ("我好", "我好"), ("我门", "我们"), ("我门", "我们")]
    proposals = [(5, 0.9), (5, 0.6), (5, 0.5), (5, 0.4), (5, 0.3)]
    for beta, expected in ((0.5, 0.9), (1.0, 0.3)):
        task = SpellingTask(SpellingParams(threshold_beta=beta))
        assert scored("validation", rows, proposals)["threshold"] == pytest.approx(expected)


def test_text_the_vocabulary_cannot_encode_is_warned_about(caplog, tiny_model_dir):
    from transformers import AutoTokenizer

    from finegrain.tasks.spelling.task import SpellingTask
    from finegrain.training.setup import warn_unknown_tokens

    task, split = SpellingTask(), check_pairs(_split([("我门今天去学校", "我们今天去学校")]))
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)  # English words: every Chinese character is [UNK]
    features = task.encode(split, tokenizer, task.label_map(split), max_length=32)
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        warn_unknown_tokens(tokenizer, features, task.predict_inputs(split), "tiny")
    assert "100% of the training tokens are [UNK]" in caplog.text and "zh-small" in caplog.text


def test_a_fit_of_a_few_milliseconds_is_not_recorded_as_zero_seconds():
    """char-ngram counts the contract's tiny data in ~3 ms, which rounding to 0.01 s recorded as 0.0."""
    import time

    from finegrain.training.costs import Costs

    timing = Costs(0.0031, 120, 1.0).fields(time.perf_counter())["timing"]
    assert timing["train_seconds"] == 0.0031 and timing["samples_per_second"] == pytest.approx(120 / 0.0031, rel=1e-3)
    assert Costs(12.3456, 120, 1.0).fields(time.perf_counter())["timing"]["train_seconds"] == 12.35


def test_robustness_and_augmentation_refuse_a_spelling_task_with_a_reason():
    from finegrain.errors import ConfigError
    from finegrain.tasks.robustness import robust_view
    from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

    with pytest.raises(ConfigError, match="not available for spelling correction") as refused:
        robust_view(SpellingTask(SpellingParams()), "data.augment")
    assert refused.value.where == "data.augment" and "ner" in refused.value.hint


def test_the_identity_baseline_changes_nothing_and_scores_the_floor(tmp_path):
    from finegrain.tasks.spelling.tiny import make_spelling_rows

    rows = make_spelling_rows(40, seed=3)
    (tmp_path / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"task": "csc", "method": "identity", "output": str(tmp_path / "run"),
              "data": {"train": str(tmp_path / "pairs.jsonl"), "test": str(tmp_path / "pairs.jsonl")}}
    metrics = finegrain.train(config).metrics["test"]
    assert metrics["correction_f1"] == 0.0 and metrics["false_positive_rate"] == 0.0
    predicted = finegrain.load(tmp_path / "run").predict([rows[0]["source"]])[0]
    assert predicted["corrected"] == rows[0]["source"] and predicted["edits"] == []


def _tiny_chinese_mlm(path: Path) -> Path:
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"我们去学校效孝上课他在里"]
    BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}).save_pretrained(path)
    torch.manual_seed(0)
    BertForMaskedLM(BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, max_position_embeddings=32)).save_pretrained(path)
    return path


def test_lm_fusion_scores_each_candidate_by_both_models(tmp_path, monkeypatch):
    """score = model_weight x (log p_model(c) - log p_model(w)) + the trigram gain; the best candidate per
    character, its probability the score's sigmoid; a save and load answers the same."""
    from types import SimpleNamespace

    from finegrain.methods.estimators import spelling_fusion, spelling_ngram
    from finegrain.methods.estimators.base import EstimatorContext
    from finegrain.training.setup import load_tokenizer

    monkeypatch.setattr(spelling_ngram, "confusion_sets",
                        lambda: SimpleNamespace(candidates=lambda c: {"效": "校孝", "校": "效孝"}.get(c, "")))
    model_dir = _tiny_chinese_mlm(tmp_path / "mlm")
    context = EstimatorContext(model_path=str(model_dir), seed=0, load_tokenizer=lambda p: load_tokenizer(p, 32),
                               load_encoder=None, collate=None, embed=None)
    targets = np.array(["我们去学校上课"] * 30 + ["他们在学校里"] * 30, dtype=object)
    text = "我们去学效上课"
    answers = {}
    for weight in (0.0, 0.5):
        method = spelling_fusion.LmFusion(spelling_fusion.LmFusionParams(model_weight=weight, epochs=0))
        method.fit(list(targets), targets, context)
        answers[weight] = method.log_probs([text], context)[0]
    lm = method.lm
    gains = dict(lm.gains(text, {"效": "校孝", "校": "效孝"}))
    assert set(gains) == {4}  # only 效 has candidates
    best_gain = max(gain for _, gain in gains[4])
    assert answers[0.0][4][0] == pytest.approx(best_gain) and chr(int(answers[0.0][4][1])) == "校"
    assert answers[0.0][4][2] == pytest.approx(1 / (1 + math.exp(-best_gain)))
    assert (answers[0.0][[0, 1, 2, 3, 5, 6], 1] == -1).all()  # nothing proposed where there is no candidate

    tokenizer = method.tokenizer
    ids = [tokenizer.cls_token_id, *tokenizer.convert_tokens_to_ids(list(text)), tokenizer.sep_token_id]
    with torch.no_grad():
        hidden = method.model.bert(input_ids=torch.tensor([ids])).last_hidden_state
        log_p = method.model.classifier.mlm(hidden)[0, 5].log_softmax(-1)  # position 5: 效 after [CLS]
    vocabulary = tokenizer.get_vocab()
    expected = max(0.5 * float(log_p[vocabulary[c]] - log_p[vocabulary["效"]]) + gain for c, gain in gains[4])
    assert answers[0.5][4][0] == pytest.approx(expected, abs=1e-4)
    assert answers[0.5][4][0] != pytest.approx(answers[0.0][4][0], abs=1e-3)  # the model moved the score

    method.save(tmp_path / "saved")
    again = spelling_fusion.LmFusion(method.params).load(tmp_path / "saved", context)
    np.testing.assert_allclose(again.log_probs([text], context)[0], answers[0.5], atol=1e-5)


def test_a_spelling_run_never_counts_its_validation_or_test_sentences_from_a_corpus(tmp_path):
    """The runner hands the fitted method every validation and test text: a corpus that repeats them (as
    msra-ner's news repeats People's Daily sentences) has those sentences dropped before counting."""
    import finegrain

    pairs = [("我门今天去学校上课", "我们今天去学校上课"), ("他们在公园里散步", "他们在公园里散步")] * 10
    test = [("老师说明天要考式了", "老师说明天要考试了")]
    for name, rows in (("train", pairs), ("test", test)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"source": s, "target": t}, ensure_ascii=False)
                                                         + "\n" for s, t in rows), encoding="utf-8")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("老师说明天要考试了。大家都在图书馆复习。\n", encoding="utf-8")
    result = finegrain.train({"task": "spelling", "method": {"name": "char-ngram", "corpora": [str(corpus)]},
                              "data": {"train": str(tmp_path / "train.jsonl"), "test": str(tmp_path / "test.jsonl")},
                              "output": str(tmp_path / "run")})
    trigrams = json.loads((result.run_dir / "model" / "ngrams.json").read_text(encoding="utf-8"))["3"]
    assert "考试了" not in trigrams and trigrams["图书馆"] == 1


def test_characters_read_alike_join_the_candidates_only_when_asked(monkeypatch):
    from finegrain.data.confusion_sets import parse_pinyin_dict
    from finegrain.methods.estimators import spelling_ngram

    readings = json.dumps({str(ord(c)): r for c, r in
                           {"他": "tā,tuó", "她": "tā", "塔": "tǎ", "大": "dà,dài", "应": "yīng", "因": "yīn",
                            "女": "nǚ", "奴": "nú", "驮": "tuó"}.items()}, ensure_ascii=False)
    same = parse_pinyin_dict(readings, "他她塔大应因女奴")  # 驮 is not a common character here
    # first readings only, tones aside
    assert same == {"他": "她塔", "她": "他塔", "塔": "他她", "女": "奴", "奴": "女"}
    near = parse_pinyin_dict(readings, "他她塔大应因女奴", near=True)
    assert near["应"] == "因" and near["他"] == "她塔"  # -ng and -n alike
    monkeypatch.setattr(spelling_ngram, "confusion_sets", lambda: ConfusionSets({"他": "它"}, {"大": "太"}, "他大"))
    monkeypatch.setattr(spelling_ngram, "sound_alike_sets", lambda near=False: near and {"应": "因"} or {"他": "她它"})
    assert spelling_ngram.candidate_table(["他大应"]) == {"他": "它", "大": "太", "应": ""}
    assert spelling_ngram.candidate_table(["他大应"], "same") == {"他": "它她", "大": "太", "应": ""}
    assert spelling_ngram.candidate_table(["应"], "near") == {"应": "因"}
