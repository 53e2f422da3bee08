"""cardiopredict.cohort: cohort manifests and synthetic cohorts with known outcome probabilities.

``simulate_crt_cohort``, ``simulate_cardiomyopathy_cohort`` and ``oracle_auc`` are imported on first use so
that ``import cardiopredict.cohort`` stays light.
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports

_LAZY = {
    "simulate_crt_cohort": "cardiopredict.cohort.synthetic",
    "simulate_cardiomyopathy_cohort": "cardiopredict.cohort.synthetic",
    "oracle_auc": "cardiopredict.cohort.synthetic",
    "simulate_va_cohort": "cardiopredict.cohort.va",
}

__all__ = ["oracle_auc", "simulate_cardiomyopathy_cohort", "simulate_crt_cohort", "simulate_va_cohort"]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
