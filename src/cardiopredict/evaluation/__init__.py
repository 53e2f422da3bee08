"""Evaluation of out-of-fold predictions: metrics (AUC, bootstrap CI, DeLong, calibration) and baselines.

Public functions live in :mod:`cardiopredict.evaluation.metrics` and
:mod:`cardiopredict.evaluation.baselines`; the most used ones are re-exported here (imported lazily,
so ``import cardiopredict.evaluation`` does not import scikit-learn).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "auc_score": "metrics",
    "accuracy_score_at": "metrics",
    "bootstrap_auc_ci": "metrics",
    "brier_score": "metrics",
    "delong_test": "metrics",
    "multiclass_summary": "metrics",
    "reliability_curve": "metrics",
    "summarize": "metrics",
    "guideline_rule_scores": "baselines",
    "cv_logistic": "baselines",
    "cv_fpca_logistic": "baselines",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"cardiopredict.evaluation.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'cardiopredict.evaluation' has no attribute {name!r}")
