"""Per-patient model inputs built from records (ECG windows and measurements, LGE slice stacks), cached.

``extract_features`` turns one ECG file into :class:`ECGFeatures`; ``FeatureCache`` keeps them on disk
keyed by file content; ``build_ecg_inputs`` / ``build_lge_inputs`` build a whole manifest's inputs as
:class:`CohortInputs` with exclusions and their reasons; ``cohort_table`` is ``cohort.csv``. The LGE
builder is imported lazily (it pulls in the imaging stack).
"""

from cardiopredict._lazy import lazy_exports
from cardiopredict.features._cohort import (
    CohortInputs,
    build_ecg_inputs,
    cohort_features,
    cohort_table,
    exclusion_reason,
    progress_iter,
)
from cardiopredict.features._ecg import (
    ECG_FEATURES,
    FEATURE_VERSION,
    ECGFeatures,
    FeatureCache,
    extract_features,
    record_features,
)

_LAZY = {
    name: "cardiopredict.features._lge"
    for name in ("LGE_FEATURE_VERSION", "build_lge_inputs", "lge_preprocessing", "preprocess_cohort")
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

__all__ = [
    "ECG_FEATURES",
    "FEATURE_VERSION",
    "LGE_FEATURE_VERSION",
    "CohortInputs",
    "ECGFeatures",
    "FeatureCache",
    "build_ecg_inputs",
    "build_lge_inputs",
    "cohort_features",
    "cohort_table",
    "exclusion_reason",
    "extract_features",
    "lge_preprocessing",
    "preprocess_cohort",
    "progress_iter",
    "record_features",
]
