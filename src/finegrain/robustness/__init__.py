"""Robustness of a run's predictions: invariance, directional and minimum-functionality tests (CheckList) and
offline adversarial attacks (character edits, WordNet synonyms, input-embedding neighbours), through the run's
predictions only, so every method is measured, fitted ones included.

Example:
    >>> import finegrain
    >>> predictor = finegrain.load("runs/reviews")  # doctest: +SKIP
    >>> report = robustness(predictor, split, suite=default_suite(), attacks=["char"])  # doctest: +SKIP
"""
