"""The NER task end to end on the tiny BERT: train, evaluate, predict, report, and data errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import torch

import finegrain
from finegrain.data.split import Split
from finegrain.errors import ConfigError, DataError
from finegrain.evaluation.tables import metrics_table
from finegrain.tasks.ner.task import NerParams, NerTask
from finegrain.tasks.ner.tiny import tagged_sentences as sentences

def write_conll(path: Path, rows: list[list[tuple[str, str]]]) -> str:
    path.write_text("\n\n".join("\n".join(f"{w}\t{t}" for w, t in s) for s in rows) + "\n", encoding="utf-8")
    return str(path)


def write_jsonl(path: Path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def config(model: Path, data: dict, output: Path, **task) -> dict:
    return {"task": {"name": "ner", **task}, "model": {"name": str(model), "max_length": 32}, "data": data,
            "train": {"epochs": 2, "batch_size": 8, "lr": 1e-2, "precision": "fp32", "warmup": 0.0},
            "output": str(output)}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_model_dir):
    """One tiny run: CoNLL train/validation, a jsonl test set holding a tag training never saw."""
    root = tmp_path_factory.mktemp("ner")
    test = [{"tokens": [w for w, _ in s], "tags": [t for _, t in s]} for s in sentences(20, 3)]
    test.append({"tokens": ["the", "street", "was", "good"], "tags": ["O", "B-LOC", "O", "B-POS"]})
    data = {"train": write_conll(root / "train.conll", sentences(120, 1)),
            "validation": write_conll(root / "validation.conll", sentences(30, 2)),
            "test": write_jsonl(root / "test.jsonl", test)}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return finegrain.train(config(tiny_model_dir, data, root / "run", name="token-classification"))
    finally:
        torch.set_num_threads(previous)


def test_trains_end_to_end_and_writes_entity_metrics(trained):
    saved = json.loads((trained.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert saved["validation"]["entity_f1"] > 0.8 and saved["test"]["n"] == 21
    assert json.loads((trained.run_dir / "labels.json").read_text())["labels"] == ["B-NEG", "B-POS", "I-NEG",
                                                                                   "I-POS", "O"]
    report = (trained.run_dir / "report.md").read_text(encoding="utf-8")
    for heading in ("Entities per type (strict)", "Error analysis", "Entity confusion matrix", "Most frequent"):
        assert heading in report
    assert "| gold \\ predicted | LOC | NEG | POS | none |" in report


def test_unseen_test_tag_is_counted_not_fatal(trained):
    test = trained.metrics["test"]
    assert test["unseen_tags"] == {"B-LOC": 1}
    assert test["strict"]["per_type"]["LOC"]["recall"] == 0.0 and test["error_analysis"]["counts"]["missed"] >= 1
    assert "B-LOC (1)" in (trained.run_dir / "report.md").read_text(encoding="utf-8")


def test_raw_text_predictions_have_character_offsets(trained):
    texts = ["good movie!", "the day was  awful, so sad."]
    predictions = finegrain.load(trained.run_dir).predict(texts)
    assert [p["text"] for p in predictions] == texts
    found = {(e["type"], e["text"]) for p in predictions for e in p["entities"]}
    assert {("POS", "good"), ("NEG", "awful")} <= found
    for text, prediction in zip(texts, predictions):
        for entity in prediction["entities"]:
            assert text[entity["start"]:entity["end"]] == entity["text"] and 0 < entity["score"] <= 1


def test_chinese_text_is_split_into_characters(trained):
    (prediction,) = finegrain.load(trained.run_dir).predict(["北京很好"])
    assert prediction["tokens"] == ["北", "京", "很", "好"] and len(prediction["tags"]) == 4


def test_sentence_longer_than_max_length_gets_a_tag_for_every_word(trained):
    words = ["good", "the", "bad", "table", "movie"] * 20  # 100 words, windows of 30 sub-tokens
    (prediction,) = finegrain.load(trained.run_dir).predict([" ".join(words)])
    assert len(prediction["tags"]) == len(words)
    assert [t for w, t in zip(words, prediction["tags"]) if w == "good"] == ["B-POS"] * 20


def test_metrics_table_shows_entity_columns(trained):
    headers = [column.header for column in metrics_table(trained.metrics, NerTask.summary_columns).columns]
    assert "entity-F1" in headers and "ECE" not in headers


@pytest.mark.parametrize(("name", "content", "where", "message"), [
    ("a.jsonl", '{"tokens": ["good"], "tags": ["B-POS"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n',
     "a.jsonl:2", "2 tokens but 1 tags"),
    ("b.conll", "good\tB-POS\nmovie\tO\n\nbad\tB-NEG\nday\n", "b.conll:5", "expected 2 columns"),
    ("c.conll", "good\tB-POS\nmovie\tO\n\nbad\tX-NEG\n", "c.conll:4", "tag 'X-NEG' is not valid"),
])
def test_data_errors_name_file_and_line(tmp_path, tiny_model_dir, name, content, where, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        finegrain.train(config(tiny_model_dir, {"train": str(path)}, tmp_path / "run"))
    assert str(tmp_path / where) in str(caught.value)
    assert message in str(caught.value) and not (tmp_path / "run").exists()


def test_classification_csv_says_it_is_not_token_data(tmp_path, tiny_model_dir):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\ngood movie,pos\nbad day,neg\n", encoding="utf-8")
    with pytest.raises(DataError, match="looks like text-classification data"):
        finegrain.train(config(tiny_model_dir, {"train": str(path)}, tmp_path / "run"))


def test_stride_not_below_max_length_is_a_config_error(tmp_path, tiny_model_dir):
    path = write_conll(tmp_path / "t.conll", sentences(10, 0))
    with pytest.raises(ConfigError, match="task.stride=40"):
        finegrain.train(config(tiny_model_dir, {"train": path}, tmp_path / "run", stride=40))


def _split(frame: dict, source: str = "data.jsonl") -> Split:
    table = pd.DataFrame(frame)
    table["row"] = range(1, len(table) + 1)
    return Split("train", table, source)


def test_check_repairs_skips_empty_and_reads_space_separated_strings(caplog):
    split = _split({"tokens": ["good movie", "", "bad day"], "tags": ["I-POS O", "", "B-NEG I-NEG"]})
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        checked = NerTask(NerParams()).check(split)
    assert checked.frame["tokens"].tolist() == [["good", "movie"], ["bad", "day"]]
    assert checked.frame["tags"].tolist() == [["B-POS", "O"], ["B-NEG", "I-NEG"]]
    assert checked.frame["row"].tolist() == [1, 3]
    assert "skipped 1 empty sentence(s)" in caplog.text and "data.jsonl:2" in caplog.text
    assert "repaired 1 tag(s)" in caplog.text


def test_bioes_data_trains_in_iob2_and_scores_in_bioes():
    task = NerTask(NerParams())
    checked = task.check(_split({"tokens": [["a", "b", "c"]], "tags": [["B-X", "E-X", "S-Y"]]}))
    assert checked.frame["scheme"].iloc[0] == "BIOES"
    assert checked.frame["tags"].iloc[0] == ["B-X", "I-X", "B-Y"]
    assert checked.frame["gold"].iloc[0] == ["B-X", "E-X", "S-Y"]
    assert task.label_map(checked).names == ("B-X", "B-Y", "I-X", "I-Y", "O")


def test_unknown_scheme_lists_the_choices(tmp_path, tiny_model_dir):
    with pytest.raises(ConfigError, match="IOB1, IOB2, IOE1, IOE2, BIOES"):
        finegrain.train(config(tiny_model_dir, {"train": "x.conll"}, tmp_path / "run", scheme="BIOX"))


def test_entity_types_differing_only_in_case_are_warned_about_where_they_first_are(caplog):
    task = NerTask(NerParams())
    checked = task.check(_split({"tokens": [["a", "b"], ["c", "d"], ["e"]],
                                 "tags": [["B-PER", "O"], ["O", "B-Per"], ["B-PER"]]}, source="train.conll"))
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        labels = task.label_map(checked)
    assert {"B-PER", "B-Per"} <= set(labels.names)  # trained as the data says
    assert "differ only in case" in caplog.text and "'Per' (1 tag, first at train.conll:3) beside 'PER' (2 tags)" \
        in caplog.text
