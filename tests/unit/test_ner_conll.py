"""CoNLL and token-JSONL readers: parsing and errors that point at the line."""

from __future__ import annotations

import json
import logging

import pytest

from finegrain.config import load_config
from finegrain.data.conll import read_conll, read_token_jsonl
from finegrain.data.sources import load_source
from finegrain.errors import DataError
from finegrain.tasks.ner.task import NerTask
from finegrain.training.setup import configured_splits


def write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_sentences_with_start_lines(tmp_path):
    text = "-DOCSTART- O\n\nEU\tB-ORG\nrejects\tO\n\n\n\nPeter\tB-PER\n  \t \nBlackburn\tB-PER\n"
    path = write(tmp_path / "a.conll", text)
    frame = read_conll(path)
    assert list(frame.columns) == ["tokens", "tags", "row"]
    assert frame["tokens"].tolist() == [["EU", "rejects"], ["Peter"], ["Blackburn"]]
    assert frame["tags"].tolist() == [["B-ORG", "O"], ["B-PER"], ["B-PER"]]
    assert frame["row"].tolist() == [3, 8, 10]


def test_whitespace_columns_and_tag_column(tmp_path):
    path = write(tmp_path / "b.conll", "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")
    assert read_conll(path)["tags"].tolist() == [["B-ORG", "O"]]
    assert read_conll(path, tag_column=1)["tags"].tolist() == [["NNP", "VBZ"]]


def test_tab_columns_allow_spaces_in_tokens(tmp_path):
    path = write(tmp_path / "c.conll", "New York\tB-LOC\nis\tO\n")
    assert read_conll(path)["tokens"].tolist() == [["New York", "is"]]


def test_wrong_column_count_names_the_line(tmp_path):
    path = write(tmp_path / "d.conll", "EU\tB-ORG\nrejects\n")
    with pytest.raises(DataError) as caught:
        read_conll(path)
    message = str(caught.value)
    assert f"{path}:2" in message and "expected 2 columns (as on line 1), found 1" in message
    assert "How to fix" in message


def test_tag_column_out_of_range(tmp_path):
    path = write(tmp_path / "e.conll", "EU\tB-ORG\n")
    with pytest.raises(DataError, match="tag_column=5"):
        read_conll(path, tag_column=5)


def test_missing_empty_and_no_sentence_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_conll(tmp_path / "missing.conll")
    with pytest.raises(DataError, match="file is empty"):
        read_conll(write(tmp_path / "empty.conll", "\n \n"))
    with pytest.raises(DataError, match="no sentences found"):
        read_conll(write(tmp_path / "docstart.conll", "-DOCSTART- -X- O\n\n"))


def test_non_utf8_reports_byte_offset_and_line(tmp_path):
    path = tmp_path / "latin.conll"
    path.write_bytes("EU\tB-ORG\nCaf".encode() + b"\xe9\tO\n")
    with pytest.raises(DataError) as caught:
        read_conll(path)
    assert "byte offset 12 (line 2)" in str(caught.value) and f"{path}:2" in str(caught.value)


def test_classification_csv_is_recognised(tmp_path):
    path = write(tmp_path / "train.csv", "text,label\ngreat movie,pos\n")
    with pytest.raises(DataError, match="looks like a classification CSV"):
        read_conll(path)


def test_token_jsonl(tmp_path):
    lines = [
        {"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]},
        {"tokens": [], "tags": []},
        {"tokens": ["Hi"], "tags": ["O"]},
    ]
    path = write(tmp_path / "a.jsonl", "\n".join(json.dumps(line) for line in lines) + "\n\n")
    frame = read_token_jsonl(path)
    assert frame["tokens"].tolist() == [["EU", "rejects"], ["Hi"]]
    assert frame["row"].tolist() == [1, 3]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"tokens": ["a", "b"], "tags": ["O"]}', "2 tokens but 1 tags"),
        ('{"tokens": "a b", "tags": ["O"]}', "'tokens' to be a list of strings"),
        ('{"words": ["a"], "tags": ["O"]}', "found missing"),
        ('{"tokens": ["a"], "tags": ["O"]', "invalid JSON"),
        ('["a"]', "expected a JSON object"),
    ],
)
def test_token_jsonl_errors_name_the_line(tmp_path, line, message):
    path = write(tmp_path / "bad.jsonl", '{"tokens": ["ok"], "tags": ["O"]}\n' + line + "\n")
    with pytest.raises(DataError) as caught:
        read_token_jsonl(path)
    assert message in str(caught.value) and f"{path}:2" in str(caught.value)


def test_more_than_two_columns_says_which_is_the_tag_once(tmp_path, caplog):
    path = write(tmp_path / "pos.conll", "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\n\nPeter\tNNP\tB-PER\n")
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        assert read_conll(path)["tags"].tolist() == [["B-ORG", "O"], ["B-PER"]]
    assert len(caplog.records) == 1
    message = caplog.text
    assert str(path) in message and "3 columns" in message and "column 2 (the last" in message
    assert "'EU | NNP | B-ORG'" in message and "data.tag_column=N" in message


def test_two_columns_or_a_chosen_tag_column_warn_nothing(tmp_path, caplog):
    path = write(tmp_path / "pos.conll", "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\n")
    with caplog.at_level(logging.WARNING, logger="finegrain"):
        read_conll(write(tmp_path / "two.conll", "EU\tB-ORG\n"))
        assert read_conll(path, tag_column=-1)["tags"].tolist() == [["B-ORG", "O"]]
    assert caplog.text == ""


def test_the_tag_column_setting_reaches_the_reader(tmp_path):
    path = write(tmp_path / "pos.conll", "EU\tNNP\tB-ORG\nrejects\tVBZ\tO\n")
    config = load_config({"task": "ner", "data": {"train": str(path), "validation": str(path), "tag_column": 1},
                          "output": "o"})
    splits = configured_splits(NerTask(), config.data, seed=0)
    assert splits["train"].frame["tags"].tolist() == [["NNP", "VBZ"]]
    with pytest.raises(DataError, match=r"(?s)tag_column=5.*data\.tag_column=N"):
        load_source(str(path), "test", {"tokens": "tokens", "tags": "tags"}, tag_column=5)
