"""cardiopredict: deep learning on 12-lead ECGs and LGE cardiac MRI.

Public entry points are imported lazily so ``import cardiopredict`` stays fast and does not
import torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_ecg": "cardiopredict.ecg.io",
    "read_ecg_workbook": "cardiopredict.ecg.io",
    "write_ecg": "cardiopredict.ecg.io",
    "ECGRecord": "cardiopredict.ecg.record",
    "read_lge": "cardiopredict.cmr.io",
    "LGEStudy": "cardiopredict.cmr.study",
    "read_manifest": "cardiopredict.cohort.manifest",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cardiopredict' has no attribute {name!r}")
