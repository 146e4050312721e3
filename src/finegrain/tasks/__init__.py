"""Tasks, registered by name in ``finegrain.registry.TASKS``.

Importing this package registers the built-in tasks.
"""

from finegrain.tasks import classification, grammar, ner, pair, spelling  # noqa: F401
