"""Sentence-pair classification: question matching, paraphrase, natural-language inference."""

from finegrain.tasks.pair.task import PairClassificationTask, PairParams

__all__ = ["PairClassificationTask", "PairParams"]
