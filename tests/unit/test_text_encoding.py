"""Text files with a byte-order mark are read in its encoding; other encodings are named with line and column."""

from __future__ import annotations

import pytest

from finegrain.config import read_yaml
from finegrain.data.conll import read_conll
from finegrain.data.tables import read_table
from finegrain.errors import ConfigError, DataError
from finegrain.text_encoding import decode_text

CSV = "text,label\ncafé crème,pos\n"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_byte_order_mark_names_the_encoding(tmp_path, encoding):
    path = tmp_path / "train.csv"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + CSV.encode(encoding))
    assert read_table(path).to_dict("records") == [{"text": "café crème", "label": "pos", "row": 1}]


def test_utf16_conll_and_yaml_are_read(tmp_path):
    conll = tmp_path / "train.conll"
    conll.write_bytes("EU\tB-ORG\nrejects\tO\n".encode("utf-16"))
    assert read_conll(conll)["tags"].tolist() == [["B-ORG", "O"]]
    config = tmp_path / "run.yaml"
    config.write_bytes("data: {train: x.csv}\noutput: o\n".encode("utf-16"))
    assert read_yaml(config) == {"data": {"train": "x.csv"}, "output": "o"}


def test_utf16_without_a_bom_is_named_with_the_command_that_converts_it(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(CSV.encode("utf-16-le"))
    with pytest.raises(DataError) as caught:
        read_table(path)
    message = str(caught.value)
    assert "UTF-16-LE saved without a byte-order mark" in message and "latin1" not in message
    assert "iconv -f UTF-16-LE -t UTF-8 train.csv" in message


def test_nul_bytes_without_a_utf16_pattern_are_a_binary_file():
    with pytest.raises(DataError, match="binary file"):
        decode_text(b"PK\x03\x04\x14\x00\x00\x00\x08\x00text" * 20, "train.csv")


def test_a_bad_byte_after_a_utf16_bom_names_utf16():
    with pytest.raises(DataError) as caught:
        decode_text("ab\ncd".encode("utf-16") + b"\x00", "in.txt")  # an odd byte count: truncated
    assert "not valid UTF-16-LE" in str(caught.value) and "in.txt:2:3" in str(caught.value)


def test_latin1_yaml_names_line_and_column(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_bytes("data: {train: x.csv}\n# café\noutput: o\n".encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        read_yaml(path)
    message = str(caught.value)
    assert f"{path}:2:6" in message and "byte 0xe9" in message and "iconv -f latin1" in message
