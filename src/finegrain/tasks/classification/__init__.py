"""Sequence classification: sentiment, topic, intent; single-label or multi-label."""

from finegrain.tasks.classification.task import ClassificationParams, ClassificationTask

__all__ = ["ClassificationTask", "ClassificationParams"]
