"""Evaluation of out-of-fold predictions: metrics, baselines, survival, and ``evaluate_run``.

``evaluate_run(run_dir)`` computes every number of a run's ``metrics.json`` from its
``predictions.csv``; the building blocks live in :mod:`~cardiopredict.evaluation.metrics` (AUC,
bootstrap CI, DeLong, Brier, calibration), :mod:`~cardiopredict.evaluation.baselines` (clinical rules,
logistic, FPCA) and :mod:`~cardiopredict.evaluation.survival` (C-index, time-dependent AUC, Cox).
Names are imported lazily, so ``import cardiopredict.evaluation`` does not import scikit-learn.
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports

_MODULES = {
    "metrics": (
        "accuracy_score_at",
        "auc_score",
        "bootstrap_auc_ci",
        "brier_score",
        "delong_test",
        "multiclass_summary",
        "reliability_curve",
        "summarize",
    ),
    "baselines": (
        "cv_fpca_logistic",
        "cv_logistic",
        "cv_multinomial_logistic",
        "guideline_rule_scores",
        "lvef_rule_scores",
    ),
    "survival": ("concordance_index_score", "cv_cox", "time_dependent_auc_score"),
    "run": ("evaluate_predictions", "evaluate_run", "read_predictions"),
}
_LAZY = {name: f"cardiopredict.evaluation.{module}" for module, names in _MODULES.items() for name in names}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
