"""Per-patient model inputs built from records (ECG windows and measurements, LGE slice stacks), cached.

``extract_features`` turns one ECG file into :class:`ECGFeatures`; ``FeatureCache`` keeps them on disk
keyed by file content; ``cohort_features`` does a whole manifest and returns exclusions with reasons;
``cohort_table`` is ``cohort.csv``.
"""

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
)

__all__ = [
    "ECG_FEATURES",
    "FEATURE_VERSION",
    "CohortInputs",
    "ECGFeatures",
    "FeatureCache",
    "build_ecg_inputs",
    "cohort_features",
    "cohort_table",
    "exclusion_reason",
    "extract_features",
    "progress_iter",
]
