"""Robustness of a run's predictions: invariance, directional and minimum-functionality tests (CheckList) and
offline adversarial attacks (character edits, WordNet synonyms, input-embedding neighbours), through the run's
predictions only, so every method is measured, fitted ones included; and ``data.augment``, training copies made
with the same edits. Nothing is imported here: ``perturbations``, ``lexicon``, ``wordnet`` and ``augment`` use
nothing above the task layer (training setup calls ``augment``), the runner and attacks read a loaded run.

Example:
    >>> import finegrain
    >>> from finegrain.robustness.runner import robustness
    >>> from finegrain.robustness.suites import default_suite
    >>> from finegrain.robustness.attacks import Constraints
    >>> predictor = finegrain.load("runs/reviews")  # doctest: +SKIP
    >>> split = predictor.task.check(run_splits(predictor)["test"])  # doctest: +SKIP
    >>> result = robustness(predictor, split, default_suite(), ["char"], Constraints(), seed=0)  # doctest: +SKIP
    >>> result["attacks"]["char"]["success_rate"]  # doctest: +SKIP
"""
