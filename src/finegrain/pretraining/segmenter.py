"""Chinese word segmentation for whole-word masking (the Chinese-BERT-wwm recipe), with jieba.

Tokens stay characters; only the masking groups them: every character of a jieba word is masked
together, so the model cannot fill 京 from 北 beside it. jieba builds its prefix dictionary on first
use (a few seconds) and caches it; the cache goes under finegrain's cache folder, and its progress
lines are silenced (they would interleave with the run's own).

Example:
    >>> character_words("我爱北京天安门")  # doctest: +SKIP
    [0, 1, 2, 2, 3, 3, 3]
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from finegrain.data.package_wheels import cache_dir
from finegrain.errors import ConfigError

__all__ = ["character_words"]


@functools.cache
def _jieba() -> Any:
    try:
        import jieba
    except ImportError:
        raise ConfigError("masking.segmenter=jieba needs the jieba package, which is not installed.",
                          hint="pip install 'jieba>=0.42,<0.43', or set masking.segmenter=characters.") from None
    folder = cache_dir() / "jieba"
    folder.mkdir(parents=True, exist_ok=True)
    segmenter = jieba.Tokenizer()
    segmenter.tmp_dir = str(folder)
    level = jieba.default_logger.level
    jieba.default_logger.setLevel(logging.WARNING)  # 'Building prefix dict ...' on every first use
    try:
        segmenter.initialize()
    finally:
        jieba.default_logger.setLevel(level)
    return segmenter


def character_words(text: str) -> list[int]:
    """For each character of ``text``, the number of the jieba word it belongs to (from 0)."""
    owner: list[int | None] = [None] * len(text)
    for number, (_word, start, end) in enumerate(_jieba().tokenize(text)):
        owner[start:end] = [number] * (end - start)
    words, number, previous = [], -1, None
    for key in owner:  # numbered in order; a character no word covers is a word of its own
        if key is None or key != previous:
            number += 1
        words.append(number)
        previous = key
    return words
