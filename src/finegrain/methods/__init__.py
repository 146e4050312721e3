"""Adaptation methods, registered by name in ``finegrain.registry.METHODS``.

Importing this package registers the built-in methods.
"""

from finegrain.methods import full  # noqa: F401
from finegrain.methods import freeze  # noqa: F401
from finegrain.methods import linear_probe  # noqa: F401
from finegrain.methods import bitfit  # noqa: F401
from finegrain.methods import peft  # noqa: F401
from finegrain.methods import adapters  # noqa: F401
from finegrain.methods.estimators import tfidf  # noqa: F401
from finegrain.methods.estimators import embeddings_lr  # noqa: F401
from finegrain.methods.estimators import setfit  # noqa: F401
from finegrain.methods.estimators import tfidf_pair  # noqa: F401
from finegrain.methods.estimators import bi_encoder  # noqa: F401
from finegrain.methods.estimators import (  # noqa: F401
    spelling_context, spelling_dictionary, spelling_fusion, spelling_identity, spelling_ngram)
