"""Unlabeled text for pretraining: documents read from files or built-in corpora, checked for use.

A ``.txt`` file holds one document per line, or, when it has blank lines, one document per
blank-line separated paragraph (its lines joined). A ``.jsonl`` file holds one JSON object per
line with the text in a field (``data.text``). Anything else that is not a file is looked up
among the built-in corpora.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from finegrain.errors import DataError
from finegrain.pretraining.corpora import CORPORA
from finegrain.registry import suggest
from finegrain.text_encoding import decode_text

__all__ = ["read_documents", "read_sources", "split_held_out", "deduplicate", "drop_repeats"]

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")
_RUN = 10  # characters of a window compared
_STRIDE = 5  # a corpus sentence is read at every 5th character: runs of _RUN + _STRIDE - 1 (14) are always found
_SHORTEST = 5  # characters of the shortest sentence compared whole: "你好！" repeated is no leak


def read_sources(sources: list[str], text_field: str) -> list[str]:
    """All documents of ``sources`` (files or built-in corpus names), in the order given."""
    documents: list[str] = []
    for source in sources:
        documents.extend(read_documents(source, text_field))
    return documents


def deduplicate(documents: list[str]) -> list[str]:
    """Each distinct document once, first occurrence first: a repeated text (a pair set asks the same
    question many times) would be learnt by heart and could sit on both sides of the held-out split.

    Example:
        >>> deduplicate(["a", "b", "a"])
        ['a', 'b']
    """
    return list(dict.fromkeys(documents))


def drop_repeats(documents: list[str], texts: Iterable[str]) -> tuple[list[str], int]:
    """``documents`` without the sentences that repeat ``texts`` (held-out sentences a model must not have read):
    a sentence equal to one of theirs (of 5 characters or more, closing punctuation aside), or sharing a run of
    14 characters or more with one, is dropped. A document with such a sentence is kept as its other sentences,
    each a document; the others are kept whole. Returns the documents kept and the number of sentences dropped.

    Example:
        >>> drop_repeats(["今天天气很好。我们去公园散步吧，花都开了。", "好的。"], ["我们去公园散步吧，花都开了"])
        (['今天天气很好。', '好的。'], 1)
    """
    whole, windows = set(), set()
    for text in texts:
        for sentence in [text, *_SENTENCE_END.split(text)]:
            if len(_bare(sentence)) >= _SHORTEST:
                whole.add(_bare(sentence))
        windows.update(text[i:i + _RUN] for i in range(len(text) - _RUN + 1))

    def repeats(sentence: str) -> bool:
        return _bare(sentence) in whole or any(sentence[i:i + _RUN] in windows
                                                for i in range(0, len(sentence) - _RUN + 1, _STRIDE))

    kept, dropped = [], 0
    for document in documents:
        sentences = [sentence for sentence in _SENTENCE_END.split(document) if sentence.strip()]
        flags = [repeats(sentence) for sentence in sentences]
        if not any(flags):
            kept.append(document)
            continue
        dropped += sum(flags)
        kept.extend(sentence for sentence, flag in zip(sentences, flags) if not flag)
    return kept, dropped


def _bare(sentence: str) -> str:
    """A sentence as compared whole: without surrounding space and its closing punctuation."""
    return sentence.strip().rstrip("。！？；!?;").strip()


def read_documents(source: str, text_field: str = "text") -> list[str]:
    path = Path(source).expanduser()
    if path.is_file():
        return _read_jsonl(path, text_field) if path.suffix == ".jsonl" else _read_text(path)
    if source in CORPORA:
        return CORPORA.get(source).read()
    if path.is_dir():
        raise DataError(f"'{source}' is a folder; pretraining reads text files.", hint="Give .txt or .jsonl files.")
    names = CORPORA.names()
    raise DataError(f"No file or built-in corpus named '{source}'.{suggest(source, names)}",
                    hint=f"Give a .txt or .jsonl file, or a built-in corpus: {', '.join(names)}.")


def _decode(path: Path) -> str:
    """UTF-8 text, or UTF-16/32 with its BOM; a binary or mis-encoded file is refused at its line and column."""
    return decode_text(path.read_bytes(), str(path))


def _read_text(path: Path) -> list[str]:
    lines = _decode(path).splitlines()
    if any(not line.strip() for line in lines):  # blank lines separate multi-line documents
        paragraphs, current = [], []
        for line in lines + [""]:
            if line.strip():
                current.append(line.strip())
            elif current:
                paragraphs.append(" ".join(current))
                current = []
        return paragraphs
    return [line.strip() for line in lines if line.strip()]


def _read_jsonl(path: Path, text_field: str) -> list[str]:
    documents = []
    for number, line in enumerate(_decode(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"invalid JSON: {error.msg}.", where=f"{path}:{number}:{error.colno}",
                            hint="Each line must be one JSON object, e.g. {\"text\": \"...\"}.") from None
        if not isinstance(record, dict) or text_field not in record:
            keys = ", ".join(record) if isinstance(record, dict) else type(record).__name__
            raise DataError(f"no field '{text_field}' (found: {keys}).", where=f"{path}:{number}",
                            hint="Name the text field with data.text=FIELD.")
        text = record[text_field]
        if isinstance(text, str) and text.strip():
            documents.append(text.strip())
    return documents


def split_held_out(documents: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, held-out): a seeded random ``fraction`` of the documents, at least one, held out."""
    if len(documents) < 2:
        raise DataError(f"The corpus has {len(documents)} document(s); at least 2 are needed to hold one out"
                        " for the masked-LM loss.", hint="Add text, or give data.validation separately.")
    order = np.random.default_rng(seed).permutation(len(documents))
    held = max(1, round(fraction * len(documents)))
    held_set = set(order[:held].tolist())
    return ([d for i, d in enumerate(documents) if i not in held_set],
            [d for i, d in enumerate(documents) if i in held_set])
