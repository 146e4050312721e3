"""Spelling correction: Chinese character-level (same length), a corrected text and its edits per input."""

from finegrain.tasks.spelling.task import SpellingParams, SpellingTask

__all__ = ["SpellingTask", "SpellingParams"]
