"""The grammar task: tags derived and applied on hand-made pairs, M2 reading, metrics on hand-made cases, decoding
choices, iterative passes, the synthetic built-in, bad input and an end-to-end tiny run."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest

import finegrain
from finegrain.cli.main import main
from finegrain.data.labels import LabelMap
from finegrain.data.m2 import parse_m2
from finegrain.data.split import Split
from finegrain.errors import DataError
from finegrain.tasks.grammar.decoding import choose_tags, final_edits
from finegrain.tasks.grammar.encoding import encode_sources, pair_tags, tag_vocabulary, tokens_of
from finegrain.tasks.grammar.metrics import edit_counts, error_analysis, f05_of_counts, grammar_metrics
from finegrain.tasks.grammar.tags import apply_tags, derive_tags
from finegrain.tasks.grammar.task import GrammarParams, GrammarTask
from finegrain.tasks.spelling.words import words

ONE_PASS = [  # (source, target) pairs one pass of tags corrects
    ("He go to school .", "He goes to school ."),
    ("I like a apples", "I like apples"),
    ("the the cat sat", "the cat sat"),
    ("cat sat on mat", "The cat sat on the mat"),
    ("She have many childs", "She has many children"),
    ("He arrived in Monday", "He arrived on Monday"),
    ("She walk yesterday", "She walked yesterday"),
    ("i saw it", "I saw it"),
    ("We met , and talked .", "We met and talked ."),
    ("the dog barked loudly", "the dog barked"),
    ("It is good", "It is very good"),
]


@pytest.mark.parametrize(("source", "target"), ONE_PASS)
def test_derived_tags_applied_give_the_target(source, target):
    tags = derive_tags(words(source), words(target))
    assert len(tags) == len(words(source)) + 1
    assert words(apply_tags(source, tags).text) == words(target)


def test_transforms_and_their_tags():
    assert derive_tags(words("He go"), words("He goes"))[2] == "$TRANSFORM_VERB_VB_VBZ"
    assert derive_tags(words("many childs"), words("many children"))[2] == "$TRANSFORM_AGREEMENT_PLURAL"
    assert derive_tags(words("i saw"), words("I saw"))[1] == "$TRANSFORM_CASE_CAPITAL"
    assert derive_tags(words("in Monday"), words("on Monday"))[1] == "$REPLACE_on"
    assert derive_tags(words("cat sat"), words("The cat sat"))[0] == "$APPEND_The"


def test_a_word_with_two_edits_keeps_the_first_and_a_second_pass_finishes():
    source, target = "He go school", "He goes to the school"
    tags = derive_tags(words(source), words(target))
    assert tags == ["$KEEP", "$KEEP", "$TRANSFORM_VERB_VB_VBZ", "$KEEP"]  # "goes" first; "to the" next time
    once = apply_tags(source, tags)
    again = apply_tags(once.text, derive_tags(once.words, words(target)), once.origins)
    third = apply_tags(again.text, derive_tags(again.words, words(target)), again.origins)
    assert third.text == target
    assert third.origins[3] == (5, 5) and third.origins[-1] == (6, 12)  # inserted words sit after "go" in the source


def test_applying_keeps_the_text_as_written_elsewhere():
    text = "Well,  he go   home!"
    assert apply_tags(text, ["$KEEP", "$KEEP", "$KEEP", "$KEEP", "$TRANSFORM_VERB_VB_VBZ", "$KEEP", "$KEEP"]).text \
        == "Well,  he goes   home!"
    assert apply_tags("a b", ["$KEEP", "$DELETE", "$KEEP"]).text == "b"
    assert apply_tags("a b", ["$KEEP", "$KEEP", "$APPEND_."]).text == "a b."
    assert apply_tags("a , b", ["$KEEP", "$KEEP", "$TRANSFORM_VERB_VB_VBZ", "$KEEP"]).text == "a , b"  # kept


def test_vocabulary_keeps_keep_and_delete_and_rare_tags_are_not_learnt(tiny_model_dir):
    from transformers import AutoTokenizer

    tags = pair_tags(["the cat sat", "cat sat", "cat sat", "a dog"], ["the cat sat .", "the cat sat", "the cat sat",
                                                                       "the dog"])
    vocabulary = tag_vocabulary(tags, 3)
    assert vocabulary == ("$APPEND_the", "$DELETE", "$KEEP")
    labels = LabelMap(vocabulary)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    [feature] = encode_sources(tokenizer, ["the cat sat"], tags[:1], labels.label2id, 32)
    learnt = [label for label, owned in zip(feature["labels"], feature["owned"]) if owned]
    assert len(learnt) == len(tokens_of("the cat sat"))
    assert learnt[-1] == -100 and learnt[0] == labels.id("$KEEP")  # $APPEND_. is rare: ignored, not $KEEP


M2 = """S This are a sentence .
A 1 2|||R:VERB:SVA|||is|||REQUIRED|||-NONE-|||0
A 1 2|||R:VERB|||was|||REQUIRED|||-NONE-|||1
A 3 3|||M:ADJ|||short|||REQUIRED|||-NONE-|||0

S Fine as it is .
A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0

S He he left .
A 0 1|||U:PRON|||-NONE-|||REQUIRED|||-NONE-|||0
"""


def test_m2_applies_annotator_zero():
    rows = parse_m2(M2, "x.m2").to_dict("records")
    assert rows == [{"source": "This are a sentence .", "target": "This is a short sentence .", "row": 1},
                    {"source": "Fine as it is .", "target": "Fine as it is .", "row": 6},
                    {"source": "He he left .", "target": "he left .", "row": 9}]


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("S a b\nA 0 1|||R|||c|||REQUIRED|||-NONE-\n", 2, "6 fields"),
    ("S a b\nA x 1|||R|||c|||REQUIRED|||-NONE-|||0\n", 2, "two token offsets"),
    ("S a b\nA 0 5|||R|||c|||REQUIRED|||-NONE-|||0\n", 2, "outside the sentence"),
    ("S a b\n\nB what\n", 3, "starts with 'S ' or 'A '"),
    ("A 0 1|||R|||c|||REQUIRED|||-NONE-|||0\n", 1, "before any S line"),
])
def test_malformed_m2_lines_are_named_with_file_and_line(text, line, fragment):
    with pytest.raises(DataError, match=fragment) as error:
        parse_m2(text, "dev.m2")
    assert error.value.where == f"dev.m2:{line}" and error.value.hint


def test_m2_reads_as_a_data_file(tmp_path):
    from finegrain.data.sources import load_source

    (tmp_path / "dev.m2").write_text(M2, encoding="utf-8")
    split = load_source(str(tmp_path / "dev.m2"), "validation", {"source": "source", "target": "target"})
    assert split.frame["target"].tolist()[0] == "This is a short sentence ."


# source, target, prediction: fixed, half fixed plus a wrong edit, clean left alone, clean over-corrected
SOURCES = ["He go home", "She have two cat", "It rains", "We left early"]
TARGETS = ["He goes home", "She has two cats", "It rains", "We left early"]
PREDICTED = ["He goes home", "She has two dogs", "It rains", "We left very early"]


def test_edit_metrics_on_hand_made_cases():
    m = grammar_metrics(SOURCES, TARGETS, PREDICTED)
    assert m["edits"] == {"right": 2, "predicted": 4, "gold": 3}
    precision, recall = 2 / 4, 2 / 3
    assert m["precision"] == precision and m["recall"] == recall
    assert m["f0_5"] == pytest.approx(1.25 * precision * recall / (0.25 * precision + recall))
    assert m["exact_match"] == 0.5 and m["sentences_with_errors"] == 2
    counts = edit_counts(SOURCES, TARGETS, PREDICTED)
    assert f05_of_counts(counts.sum(axis=0)) == pytest.approx(m["f0_5"])
    assert f05_of_counts(np.zeros(4)) == 0.0


def test_error_analysis_counts_edit_types():
    analysis = error_analysis(["a cat sat", "dog run"], ["the cat sat", "dog runs"], ["cat sat", "dog run"])
    assert analysis["by_type"]["missed"] == {"replace": 2}  # a -> the, run -> runs
    assert analysis["by_type"]["spurious"] == {"delete": 1}
    assert {"original": "run", "correction": "runs", "type": "replace", "count": 1} in analysis["missed"]


def test_confidence_bias_and_minimum_error_probability():
    rows = np.array([[np.log(0.45), 0, 1, np.log(0.55), np.log(0.45)]])  # [log p(keep), ids, log probs]
    names = ("$DELETE", "$KEEP")
    assert choose_tags(rows, names, keep=1, bias=0.0, min_error=0.0)[0] == ["$DELETE"]
    assert choose_tags(rows, names, keep=1, bias=0.2, min_error=0.0)[0] == ["$KEEP"]
    assert choose_tags(rows, names, keep=1, bias=0.0, min_error=0.6)[0] == ["$KEEP"]


def test_confidence_bias_is_tuned_on_validation_and_restored_for_prediction():
    # first words: p(keep) 0.62 / 0.7, p($DELETE) 0.38 / 0.3; the first should be deleted, the second not
    labels = LabelMap(("$DELETE", "$KEEP"))
    sources, targets = ["a b", "c d"], ["b", "c d"]
    features = [{"example": i, "word_ids": [0, 1, 2], "owned": [True] * 3} for i in range(2)]
    def rows(keep_first: float):
        keep = [0.99, keep_first, 0.99]
        return np.array([[np.log(k), 1, 0, np.log(k), np.log(1 - k)] for k in keep])
    logits = [rows(0.62), rows(0.7)]
    task = GrammarTask(GrammarParams())
    validation = Split("validation", pd.DataFrame({"source": sources, "target": targets}), "validation")
    metrics = task.evaluate(validation, features, logits, labels)
    # deleting 'a' needs 0.38 > 0.62 + bias (bias < -0.24), keeping 'c' 0.3 <= 0.7 + bias (bias >= -0.4):
    # the highest such bias on the grid wins
    assert metrics["confidence_bias"] == pytest.approx(-0.25) and metrics["f0_5"] == 1.0
    restored = GrammarTask(GrammarParams())
    restored.restore({"validation": {"confidence_bias": metrics["confidence_bias"]}})
    assert restored.bias == pytest.approx(-0.25)
    # a configured bias is kept, never tuned over
    fixed = GrammarTask(GrammarParams(confidence_bias=0.0))
    assert fixed.evaluate(validation, features, logits, labels)["f0_5"] == 0.0 and fixed.bias == 0.0
    # test splits are scored with the bias tuned, not tuned again
    test = Split("test", validation.frame, "test")
    assert task.evaluate(test, features, logits, labels)["confidence_bias"] == pytest.approx(-0.25)


def test_keep_weight_scales_keep_in_the_loss(tiny_model_dir):
    import torch
    labels = LabelMap(("$DELETE", "$KEEP"))
    logits = torch.tensor([[[0.0, 2.0], [0.0, 2.0], [1.0, 0.0]]])
    batch = {"labels": torch.tensor([[1, 0, -100]])}
    plain = GrammarTask(GrammarParams())
    plain.build_model(str(tiny_model_dir), labels)
    weighted = GrammarTask(GrammarParams(keep_weight=0.25))
    weighted.build_model(str(tiny_model_dir), labels)
    keep_loss, delete_loss = -torch.log_softmax(logits[0, 0], -1)[1], -torch.log_softmax(logits[0, 1], -1)[0]
    assert plain.loss(logits, batch) == pytest.approx(float((keep_loss + delete_loss) / 2))
    assert weighted.loss(logits, batch) == pytest.approx(float((0.25 * keep_loss + delete_loss) / 1.25))


def _oracle(targets: dict[str, str], labels: LabelMap):
    """logits_of for a model that tags every text as one pass towards its target would."""
    def logits_of(split: Split):
        features, logits = [], []
        for index, text in enumerate(split.frame["source"]):
            tags = derive_tags(words(text), words(targets[text]))
            n = len(tags)
            features.append({"example": index, "word_ids": list(range(n)), "owned": [True] * n})
            ids = [labels.id(t) for t in tags]
            keep = [0.9 if t == "$KEEP" else 0.05 for t in tags]
            other = [labels.id("$DELETE") if t == "$KEEP" else labels.id("$KEEP") for t in tags]
            logits.append(np.array([[np.log(k), i, o, np.log(max(k, 0.95)), np.log(0.05)]
                                    for k, i, o in zip(keep, ids, other)]))
        return features, logits
    return logits_of


def test_predict_runs_up_to_iterations_passes():
    source, target = "He go school", "He goes to the school"
    chain = {source: target, "He goes school": target, "He goes to school": target, target: target}
    labels = LabelMap(("$APPEND_the", "$APPEND_to", "$DELETE", "$KEEP", "$TRANSFORM_VERB_VB_VBZ"))
    logits_of = _oracle(chain, labels)
    for iterations, expected in ((1, "He goes school"), (3, target)):
        task = GrammarTask(GrammarParams(iterations=iterations))
        split = task.prediction_split([source])
        [prediction] = task.decode_passes(split, *logits_of(split), labels, logits_of)
        assert prediction["corrected"] == expected
    # adjacent changes are one edit, at its source offsets, with the first tag applied there
    assert [(e["position"], e["end"], e["original"], e["correction"], e["tag"]) for e in prediction["edits"]] == [
        (3, 5, "go", "goes to the", "$TRANSFORM_VERB_VB_VBZ")]
    assert final_edits("a b", "a b", []) == []


def test_empty_source_is_refused_and_unchanged_training_warns(caplog):
    task = GrammarTask()
    frame = pd.DataFrame({"source": ["a b", " "], "target": ["a b", "c"], "row": [1, 2]})
    with pytest.raises(DataError, match=r"1 empty source text.*row\(s\) 2"):
        task.check(Split("train", frame, "t.jsonl"))
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        task.check(Split("train", frame.iloc[:1], "t.jsonl"))
    assert "no error to learn from" in caplog.text


def test_synthetic_errors_are_reproducible_and_about_half():
    from finegrain.data.grammar_sets import corrupt_sentences

    sentences = ["The minister said on Monday that the new plan was ready for the vote ."] * 200
    first, again = corrupt_sentences(sentences, seed=3), corrupt_sentences(sentences, seed=3)
    assert first == again and first != corrupt_sentences(sentences, seed=4)
    changed = sum(source != target for source, target in first) / len(first)
    assert 0.35 < changed < 0.65 and all(target == sentences[0] for _, target in first)


def test_synthetic_builtin_splits_share_no_sentence():
    from finegrain.registry import DATASETS

    splits = DATASETS.get("en-grammar-synth").load()
    targets = {name: set(frame["target"]) for name, frame in splits.items()}
    assert not targets["train"] & targets["test"] and not targets["validation"] & targets["test"]
    assert not targets["train"] & targets["validation"] and len(splits["validation"]) == 1000
    assert DATASETS.get("en-grammar-synth").card.task == "grammar"


def test_malformed_m2_stops_training_with_exit_code_2(tmp_path, tiny_model_dir, capsys):
    (tmp_path / "train.m2").write_text("S a b\nA 0 1|||R|||c\n", encoding="utf-8")
    code = main(["train", "--data", str(tmp_path / "train.m2"), "--model", str(tiny_model_dir), "task=grammar",
                 "model.max_length=32", f"output={tmp_path / 'run'}"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert f"{tmp_path / 'train.m2'}:2" in err and "6 fields" in err


def test_train_evaluate_and_predict_end_to_end(tmp_path, tiny_model_dir):
    data = GrammarTask.tiny_dataset(tmp_path)
    config = {"task": "gec", "model": {"name": str(tiny_model_dir), "max_length": 32}, "method": {"name": "full"},
              "data": data, "train": {"max_steps": 30, "batch_size": 16, "lr": 1e-2, "precision": "fp32",
                                      "warmup": 0.0},
              "output": str(tmp_path / "run")}
    run = finegrain.train(config).run_dir
    metrics = json.loads((run / "metrics.json").read_text())
    assert {"f0_5", "precision", "recall", "exact_match", "error_analysis"} <= set(metrics["test"])
    assert metrics["test"]["passes"] == 1 and metrics["test"]["n"] == 30
    assert finegrain.evaluate(run)["test"] == metrics["test"]
    predictor = finegrain.load(run)
    predictions = predictor.predict(["the movie was was good", "movie is bad"])
    assert [p["text"] for p in predictions] == ["the movie was was good", "movie is bad"]
    keys = {"position", "end", "original", "correction", "tag", "probability"}
    assert all(set(e) == keys for p in predictions for e in p["edits"])
    for p in predictions:
        for e in p["edits"]:
            assert p["text"][e["position"]:e["end"]] == e["original"]
    assert "## Test" in (run / "report.md").read_text()
    assert set(GrammarTask.serving.public(predictions[0])) == {"text", "corrected", "edits"}
