"""12-lead ECG: records, readers/writers, filtering, delineation, windows, measurements, simulation.

Signal-processing names (``delineate``, ``QRSDelineation``, ``qrs_window``, ``rr_window``, ``measure``,
``quality_issues``) are imported on first use so that ``import cardiopredict.ecg`` stays light.
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports
from cardiopredict.ecg.leads import CANONICAL_LEADS, canonical_lead_name
from cardiopredict.ecg.record import ECGRecord

_LAZY = {
    "DelineationParams": "cardiopredict.ecg.delineation",
    "delineate": "cardiopredict.ecg.delineation",
    "QRSDelineation": "cardiopredict.ecg.delineation",
    "qrs_window": "cardiopredict.ecg.windows",
    "rr_window": "cardiopredict.ecg.windows",
    "RRWindow": "cardiopredict.ecg.windows",
    "measure": "cardiopredict.ecg.measurements",
    "ECGMeasurements": "cardiopredict.ecg.measurements",
    "quality_issues": "cardiopredict.ecg.io",
}

__all__ = [
    "CANONICAL_LEADS",
    "DelineationParams",
    "ECGMeasurements",
    "ECGRecord",
    "QRSDelineation",
    "RRWindow",
    "canonical_lead_name",
    "delineate",
    "measure",
    "qrs_window",
    "quality_issues",
    "rr_window",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
