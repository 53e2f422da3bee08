"""cardiopredict.cohort: cohort manifests and synthetic cohorts with known outcome probabilities.

``simulate_crt_cohort``, ``simulate_cardiomyopathy_cohort`` and ``oracle_auc`` are imported on first use so
that ``import cardiopredict.cohort`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "simulate_crt_cohort": "cardiopredict.cohort.synthetic",
    "simulate_cardiomyopathy_cohort": "cardiopredict.cohort.synthetic",
    "oracle_auc": "cardiopredict.cohort.synthetic",
}

__all__ = ["oracle_auc", "simulate_cardiomyopathy_cohort", "simulate_crt_cohort"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cardiopredict.cohort' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
