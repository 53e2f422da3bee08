"""cardiopredict: deep learning on 12-lead ECGs and LGE cardiac MRI.

Public entry points are imported lazily so ``import cardiopredict`` stays fast and does not
import torch.
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports

__version__ = "0.1.0"

_LAZY = {
    "read_ecg": "cardiopredict.ecg.io",
    "read_ecg_workbook": "cardiopredict.ecg.io",
    "write_ecg": "cardiopredict.ecg.io",
    "ECGRecord": "cardiopredict.ecg.record",
    "read_lge": "cardiopredict.cmr.io",
    "LGEStudy": "cardiopredict.cmr.study",
    "read_manifest": "cardiopredict.cohort.manifest",
    "run_crt_study": "cardiopredict.studies.crt",
    "run_cardiomyopathy_study": "cardiopredict.studies.cardiomyopathy",
    "run_va_study": "cardiopredict.studies.va",
    "predict_manifest": "cardiopredict.studies.predict",
    "evaluate_run": "cardiopredict.evaluation.run",
    "write_report": "cardiopredict.report",
}

__all__ = ["__version__", *_LAZY]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
