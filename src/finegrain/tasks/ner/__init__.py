"""Named-entity recognition building blocks: tagging schemes, CoNLL readers, sub-token
alignment, character spans, metrics, error analysis and the built-in ``tweet-ner`` data.

Nothing is registered here; the NER task module wires these pieces into the training loop.
"""
