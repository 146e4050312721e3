"""A logistic-regression head: fitted by scikit-learn, kept as plain arrays, saved as safetensors.

Predictions are computed from the arrays themselves (the same formula scikit-learn uses), so a
fitted head and one loaded from disk give bit-identical log-probabilities, and nothing is pickled.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from safetensors.numpy import load_file, save_file
from scipy.special import log_expit, log_softmax

__all__ = ["LinearHead", "fit_logistic_regression"]


@dataclass
class LinearHead:
    coef: np.ndarray  # (K, d); (1, d) for two classes, as scikit-learn keeps it
    intercept: np.ndarray  # (K,) or (1,)

    @property
    def parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)

    def log_probs(self, features) -> np.ndarray:
        """(n, K) log-probabilities of dense or sparse ``features`` (n, d)."""
        scores = np.asarray(features @ self.coef.T) + self.intercept
        if self.coef.shape[0] == 1:  # binary: P(class 1) = sigmoid(score)
            return np.hstack([log_expit(-scores), log_expit(scores)]).astype(np.float32)
        return log_softmax(scores, axis=1).astype(np.float32)

    def save(self, path: Path) -> None:
        save_file({"coef": np.ascontiguousarray(self.coef), "intercept": np.ascontiguousarray(self.intercept)},
                  str(path))

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        arrays = load_file(str(path))
        return cls(arrays["coef"], arrays["intercept"])


def fit_logistic_regression(features, targets: np.ndarray, *, c: float, class_weight: Literal["none", "balanced"],
                            max_iter: int, seed: int) -> LinearHead:
    """Multinomial (binary: logistic) regression with L2 strength ``1/c``, lbfgs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, class_weight=None if class_weight == "none" else class_weight,
                               max_iter=max_iter, random_state=seed)
    with warnings.catch_warnings():
        # max_iter is a parameter: a head that has not fully converged still predicts well
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(features, targets)
    return LinearHead(model.coef_.astype(np.float64), model.intercept_.astype(np.float64))
