"""LGE cardiac MRI: the LGEStudy record, readers, geometry, intensity, scar, model inputs, phantoms.

Names are imported lazily so ``import cardiopredict.cmr`` stays fast (torch and MONAI load only with
the learned scar segmenter).
"""

from __future__ import annotations

from cardiopredict._lazy import lazy_exports

_LAZY = {
    "LGEStudy": "cardiopredict.cmr.study",
    "read_lge": "cardiopredict.cmr.io",
    "read_label_map": "cardiopredict.cmr.io",
    "read_contours": "cardiopredict.cmr.io",
    "write_contours": "cardiopredict.cmr.io",
    "map_labels": "cardiopredict.cmr.io",
    "polygon_to_mask": "cardiopredict.cmr.geometry",
    "mask_to_contour": "cardiopredict.cmr.geometry",
    "myocardium_mask": "cardiopredict.cmr.geometry",
    "lv_centre": "cardiopredict.cmr.geometry",
    "insertion_point_from_rv": "cardiopredict.cmr.geometry",
    "rotation_angle_deg": "cardiopredict.cmr.geometry",
    "rotate_about": "cardiopredict.cmr.geometry",
    "rotate_points": "cardiopredict.cmr.geometry",
    "resample_to_spacing": "cardiopredict.cmr.geometry",
    "resample_points": "cardiopredict.cmr.geometry",
    "crop_centred": "cardiopredict.cmr.geometry",
    "crop_origin": "cardiopredict.cmr.geometry",
    "oriented_crop": "cardiopredict.cmr.geometry",
    "oriented_points": "cardiopredict.cmr.geometry",
    "oriented_uncrop": "cardiopredict.cmr.geometry",
    "point_angle_deg": "cardiopredict.cmr.geometry",
    "DEFAULT_TARGET_SPACING_MM": "cardiopredict.cmr.geometry",
    "normalize_in_mask": "cardiopredict.cmr.intensity",
    "segment_scar": "cardiopredict.cmr.scar",
    "scar_method": "cardiopredict.cmr.scar",
    "scar_burden": "cardiopredict.cmr.scar",
    "scar_dice": "cardiopredict.cmr.scar",
    "ScarResult": "cardiopredict.cmr.scar",
    "ScarSegmenter": "cardiopredict.cmr.scar",
    "NSD": "cardiopredict.cmr.scar",
    "FWHM": "cardiopredict.cmr.scar",
    "Hysteresis": "cardiopredict.cmr.scar",
    "LabelScar": "cardiopredict.cmr.scar",
    "LearnedScar": "cardiopredict.cmr.learned",
    "preprocess_study": "cardiopredict.cmr.preprocess",
    "scar_features": "cardiopredict.cmr.scar_features",
    "SCAR_FEATURE_NAMES": "cardiopredict.cmr.scar_features",
    "oriented_slice": "cardiopredict.cmr.preprocess",
    "load_cohort_arrays": "cardiopredict.cmr.preprocess",
    "PatientArrays": "cardiopredict.cmr.preprocess",
    "simulate_lge_phantom": "cardiopredict.cmr.simulate",
    "write_lge_dicom": "cardiopredict.cmr.simulate",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
