"""12-lead ECG: records, readers/writers, filtering, delineation, windows, measurements, simulation.

Signal-processing names (``delineate``, ``QRSDelineation``, ``qrs_window``, ``rr_window``, ``measure``) are
imported on first use so that ``import cardiopredict.ecg`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from cardiopredict.ecg.leads import CANONICAL_LEADS, canonical_lead_name
from cardiopredict.ecg.record import ECGRecord

_LAZY = {
    "delineate": "cardiopredict.ecg.delineation",
    "QRSDelineation": "cardiopredict.ecg.delineation",
    "qrs_window": "cardiopredict.ecg.windows",
    "rr_window": "cardiopredict.ecg.windows",
    "RRWindow": "cardiopredict.ecg.windows",
    "measure": "cardiopredict.ecg.measurements",
    "ECGMeasurements": "cardiopredict.ecg.measurements",
}

__all__ = [
    "CANONICAL_LEADS",
    "ECGMeasurements",
    "ECGRecord",
    "QRSDelineation",
    "RRWindow",
    "canonical_lead_name",
    "delineate",
    "measure",
    "qrs_window",
    "rr_window",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cardiopredict.ecg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
