"""What each task predicts from, through ``predict`` and ``finegrain predict``: NER reads CoNLL, token jsonl
and token lists as sentences of words; anything a task does not take is refused, never turned into a string."""

from __future__ import annotations

import json

import pytest

from finegrain.cli.main import main
from finegrain.errors import DataError
from finegrain.training.predictor import load_predictor
from serving_runs import train_tiny

pytestmark = pytest.mark.usefixtures("one_thread")

SENTENCES = [["the", "movie", "was", "good"], ["awful", "day"], ["RT", "@user", "great", "food", "!"]]


@pytest.fixture(scope="module")
def ner(tmp_path_factory, tiny_model_dir, sentiment_files):
    return train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files, kind="ner")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory, tiny_model_dir, sentiment_files):
    return load_predictor(train_tiny(tmp_path_factory, tiny_model_dir, sentiment_files), "cpu")


def _predict_cli(capsys, run, source) -> list[dict]:
    code = main(["predict", str(run), "--input", str(source)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return [json.loads(line) for line in captured.out.splitlines()]


def _assert_tagged(rows: list[dict], sentences: list[list[str]]) -> None:
    assert [row["tokens"] for row in rows] == sentences
    for row in rows:
        assert len(row["tags"]) == len(row["tokens"]) and "text" not in row
        for entity in row["entities"]:
            assert entity["text"] == " ".join(row["tokens"][entity["start"]:entity["end"]])


def test_token_lists_are_tagged_word_by_word(ner):
    predictor = load_predictor(ner, "cpu")
    predictions = predictor.predict(SENTENCES)
    _assert_tagged(predictions, SENTENCES)
    assert predictions[0]["tags"][3] == "B-POS" and predictions[1]["tags"][0] == "B-NEG"
    assert predictor.predict([("awful", "day")])[0]["tags"] == predictions[1]["tags"]  # a tuple is a token list


def test_texts_and_token_lists_mix_in_one_call(ner):
    predictor = load_predictor(ner, "cpu")
    text, tokens = predictor.predict(["the movie was good", ["awful", "day"]])
    assert text["text"] == "the movie was good" and text["tokens"] == SENTENCES[0] and "offsets" not in text
    assert text["tags"] == predictor.predict(["the movie was good"])[0]["tags"]
    assert "text" not in tokens and tokens["tags"] == predictor.predict([["awful", "day"]])[0]["tags"]


def test_conll_input_predicts_every_sentence(ner, tmp_path, capsys):
    source = tmp_path / "test.conll"
    source.write_text("-DOCSTART- O\n\n" + "\n\n".join("\n".join(f"{w}\tO" for w in s) for s in SENTENCES) + "\n",
                      encoding="utf-8")
    rows = _predict_cli(capsys, ner, source)
    _assert_tagged(rows, SENTENCES)
    assert rows == load_predictor(ner, "cpu").predict(SENTENCES)


def test_jsonl_with_tokens_is_read_as_sentences(ner, tmp_path, capsys):
    source = tmp_path / "test.jsonl"
    source.write_text("".join(json.dumps({"tokens": s, "id": i}) + "\n" for i, s in enumerate(SENTENCES)),
                      encoding="utf-8")
    _assert_tagged(_predict_cli(capsys, ner, source), SENTENCES)


def test_raw_text_lines_still_give_character_offsets(ner, tmp_path, capsys):
    source = tmp_path / "texts.txt"
    source.write_text("the movie was good\nawful day\n", encoding="utf-8")
    rows = _predict_cli(capsys, ner, source)
    assert [row["text"] for row in rows] == ["the movie was good", "awful day"]
    assert any(row["text"][e["start"]:e["end"]] == "good" for row in rows for e in row["entities"])


@pytest.mark.parametrize(("inputs", "message"), [
    ([{"tokens": ["a"]}], "inputs[0] is a dict"),
    ([3], "inputs[0] is an int"),
    ([["good", 3]], "inputs[0][1] is an int"),
    ([[]], "inputs[0] is an empty token list"),
])
def test_ner_refuses_what_is_neither_text_nor_tokens(ner, inputs, message):
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")) as caught:
        load_predictor(ner, "cpu").predict(inputs)
    assert "predict([[\"EU\"" in str(caught.value)  # the fix shows a token list


@pytest.mark.parametrize(("inputs", "message"), [
    ([{"text": "good movie"}], r"inputs\[0\] is a dict \({'text': 'good movie'}\)"),
    (["good", 3.5], r"inputs\[1\] is a float \(3.5\)"),
    ([["good", "movie"]], r"inputs\[0\] is a list"),
    (7, "a list of inputs, not an int"),
])
def test_classification_refuses_anything_but_texts(classifier, inputs, message):
    with pytest.raises(DataError, match=message) as caught:
        classifier.predict(inputs)
    assert "How to fix" in str(caught.value)


def test_a_file_of_another_kind_is_refused_with_the_line(ner, tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_text('{"tokens": ["good"]}\n{"tokens": ["bad", 3]}\n', encoding="utf-8")
    assert main(["predict", str(ner), "--input", str(source)]) == 2
    err = capsys.readouterr().err
    assert "line 2: field 'tokens'" in err and "text or token list" in err
