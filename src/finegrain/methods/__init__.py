"""Adaptation methods, registered by name in ``finegrain.registry.METHODS``.

Importing this package registers the built-in methods.
"""

from finegrain.methods import full  # noqa: F401
