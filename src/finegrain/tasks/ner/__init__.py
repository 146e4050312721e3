"""Named-entity recognition (token classification): tagging schemes, sub-token alignment with
windows, character spans, seqeval metrics, error analysis, and the task that wires them into
the training loop. CoNLL readers and the built-in ``tweet-ner`` data live in the data layer.
"""

from finegrain.tasks.ner.task import NerParams, NerTask

__all__ = ["NerTask", "NerParams"]
