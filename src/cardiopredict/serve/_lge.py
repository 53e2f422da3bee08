"""An LGE (VA) model's upload: a zip of one patient's short-axis LGE series with its contours.

The zip is checked and extracted by :func:`~cardiopredict.serve._uploads.extract_zip_safely` into the
request's temporary folder. The patient's input is then built by the model's own input builder, the one
``cardiopredict predict`` runs (:func:`cardiopredict.studies.predict.input_builder`: read the series with
its contours, the scar method and crop stored in ``model.json``, 3–10 slices base → apex, scar
features), so the service and ``predict`` give the same probability for the same files.

What the zip holds (folders inside it do not matter):

* the LGE images: a DICOM series (``*.dcm``, ``*.ima`` or files without suffix; searched recursively)
  or one NIfTI image (``.nii``/``.nii.gz``);
* the contours: one paper-form contour file (``*.json`` or ``*.csv``, docs/CMR_FORMATS.md), or
  Sunnybrook ``*contour-manual.txt`` files, or a label map named like ``<image>_gd.nii.gz`` (also
  ``_gt``, ``_manual``, ``_seg``, ``_label``).

A patient the builder cannot use (no myocardium, fewer than 3 usable slices, an unreadable series) is an
error answer carrying the builder's reason, under the class of the error that caused it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict import errors
from cardiopredict.errors import CardioPredictError, InputError
from cardiopredict.serve._answer import Scored, answer_of, fold_prediction
from cardiopredict.serve._models import ServedModel
from cardiopredict.serve._uploads import extract_zip_safely

PATIENT = "upload"
"""The patient id the builder sees (never one from a file header)."""
LABEL_MARKERS = ("_gd", "_gt", "_manual", "_seg", "_label", "_labels")
"""Name endings of a label map, as :func:`cardiopredict.read_lge` recognises them."""
_CONTOUR_SUFFIXES = (".json", ".csv")
_SUNNYBROOK = "contour-manual.txt"


@dataclass
class LGEUpload:
    """What the slice montage needs: the selected slices, base → apex (no file, no header)."""

    image: np.ndarray  # (n_slices, H, W) normalised LGE
    slices: np.ndarray  # (n_slices, C, H, W) myocardium, scar(, LGE)
    oriented: bool


def score_lge(model: ServedModel, files: Mapping[str, Path], *, lvef_percent: float | None) -> Scored:
    """Score one patient's LGE zip with a VA fold ensemble.

    Raises
    ------
    CorruptFileError, InputError
        Not a zip, an unsafe zip (see :func:`extract_zip_safely`), no images or no contours in it.
    CardioPredictError
        The builder could not use the patient; the error class and message are the builder's reason.
    """
    import pandas as pd

    from cardiopredict.cmr.scar_features import SCAR_FEATURE_NAMES
    from cardiopredict.studies.predict import model_inputs

    field = model.fields[0].name
    folder = files[field].parent / f"{field}-zip"
    folder.mkdir()
    extract_zip_safely(files[field], folder)
    cohort = model.build(pd.DataFrame([_manifest_row(folder, field)]), False)
    if PATIENT in cohort.exclusions:
        raise _named_error(cohort.exclusions[PATIENT], field, folder)
    inputs = {key: value.astype(np.float32) for key, value in model_inputs(model.spec, cohort).items()}
    n = int(cohort.arrays["lge.slice_mask"][0].sum())
    values = [round(float(value), 3) for value in cohort.arrays["lge.scar_features"][0]]
    features = dict(zip(SCAR_FEATURE_NAMES, values, strict=True))
    quality = _quality(model, cohort.derived.get(PATIENT, {}), n, folder)
    answer = answer_of(
        model,
        fold_prediction(model, inputs),
        {field: {"n_slices": n, **features}},
        lvef_percent=lvef_percent,
        quality={field: quality},
        warnings=_warnings(field, quality),
    )
    upload = LGEUpload(
        image=cohort.arrays["lge.image"][0, :n],
        slices=cohort.arrays["lge.slices"][0, :n],
        oriented=bool(model.lge_config.get("orient", True)),
    )
    return Scored(answer=answer, inputs=inputs, lge=upload)


def _manifest_row(folder: Path, field: str) -> dict[str, Any]:
    """The manifest row of the extracted zip: ``lge`` (the folder), ``contours`` or ``labels``."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    if not files:
        raise InputError(f"the {field} zip is empty; zip the LGE series together with its contour file.")
    contours = [path for path in files if path.suffix.lower() in _CONTOUR_SUFFIXES]
    sunnybrook = [path for path in files if path.name.lower().endswith(_SUNNYBROOK)]
    labels = [path for path in files if _is_label_map(path)]
    row: dict[str, Any] = {"patient_id": PATIENT, "lge": str(folder)}
    if len(contours) > 1:
        raise InputError(
            f"the {field} zip holds {len(contours)} contour files (.json/.csv); zip one patient's series "
            "with its one contour file."
        )
    if contours:
        row["contours"] = str(contours[0])
    elif sunnybrook:
        row["contours"] = str(folder)
    elif len(labels) == 1:
        row["labels"] = str(labels[0])
    else:
        raise InputError(
            f"the {field} zip holds no contours: add the epicardium/endocardium contour file (paper form "
            ".json or .csv, see docs/CMR_FORMATS.md), Sunnybrook contour files, or one label map named "
            "like <image>_gd.nii.gz."
        )
    return row


def _is_label_map(path: Path) -> bool:
    name = path.name.lower()
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name.removesuffix(suffix).endswith(LABEL_MARKERS)
    return False


def _scrub(text: str, folder: Path, field: str) -> str:
    """``text`` with every path inside the upload folder replaced by ``<field file>``."""
    return re.sub(re.escape(str(folder)) + r"[^\s'\",;)]*", f"<{field} file>", text)


def _named_error(reason: str, field: str, folder: Path) -> CardioPredictError:
    """The builder's exclusion reason (``"<column>: <ErrorType>: <message>"``) as that error."""
    _, _, rest = reason.partition(": ")
    kind, _, message = rest.partition(": ")
    error_class = getattr(errors, kind, None)
    if not (isinstance(error_class, type) and issubclass(error_class, CardioPredictError)):
        error_class = errors.LGEFormatError  # "unexpected <type>": a file no reader foresaw
    text = _scrub(message or reason, folder, field)
    return error_class(f"the {field} upload cannot be scored: {text}")


def _quality(model: ServedModel, notes: Mapping[str, Any], n_slices: int, folder: Path) -> dict[str, Any]:
    def items(key: str) -> list[str]:
        return [_scrub(item, folder, "lge") for item in str(notes.get(key) or "").split("; ") if item]

    method = (model.ensemble.config.get("lge_preprocessing") or {}).get("scar_method") or {}
    return {
        "n_slices": n_slices,
        "max_slices": model.lge_config.get("max_slices"),
        "dropped_slices": items("dropped_slices"),
        "notes": items("notes"),
        "scar_method": method.get("name"),
        "oriented": model.lge_config.get("orient"),
    }


def _warnings(field: str, quality: Mapping[str, Any]) -> list[str]:
    """Slices left out and preprocessing notes, in words."""
    words = [f"{field}: {item} (slice left out)." for item in quality["dropped_slices"]]
    words += [f"{field}: {item}." for item in quality["notes"]]
    if not quality["oriented"]:
        words.append(f"{field}: slices kept in their acquired orientation (the model was trained so).")
    return words
