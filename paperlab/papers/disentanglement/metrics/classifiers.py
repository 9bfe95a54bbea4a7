"""The logistic regression disentanglement_lib's BetaVAE score and explicitness call as
`LogisticRegression()`: in the scikit-learn of the study (< 0.22, 2018) that default was the
liblinear solver, one-vs-rest, C = 1. Since scikit-learn 0.22 the default is multinomial lbfgs,
and liblinear now takes multiclass problems only inside a OneVsRestClassifier."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier


def study_logistic_regression(seed: int | None = None) -> OneVsRestClassifier:
    """LogisticRegression() as the study ran it (liblinear, one-vs-rest, C = 1)."""
    return OneVsRestClassifier(LogisticRegression(solver="liblinear", random_state=seed))
