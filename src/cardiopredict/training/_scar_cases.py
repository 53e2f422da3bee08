"""Labelled cases for the scar network: expert scar and the pipeline's crops, read from a manifest."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.cmr.geometry import DEFAULT_CROP_SIZE, DEFAULT_TARGET_SPACING_MM, oriented_crop
from cardiopredict.cmr.io import read_label_map, read_lge
from cardiopredict.cmr.learned import ModelInputs, model_inputs
from cardiopredict.cmr.preprocess import first_line, oriented_mask, slice_rotations
from cardiopredict.cmr.scar import SCAR_LABELS
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.cohort.manifest import read_manifest
from cardiopredict.errors import CardioPredictError, InputError


@dataclass(frozen=True)
class LabelledCase:
    """One patient's slices with an expert scar, at the acquired resolution and on the model's crop.

    Parameters
    ----------
    patient_id : str
    images : float32 ndarray of shape (n, H, W)
        LGE slices that have a myocardium.
    myo, truth : bool ndarray of shape (n, H, W)
        Expert myocardium and scar (inside it).
    pixel_spacing_mm : (float, float)
    rotation_deg : float ndarray of shape (n,)
        The pipeline's rotation per slice (NaN where no insertion point is known: unrotated).
    inputs : ModelInputs
        The network's input crops.
    target : float32 ndarray of shape (n, S, S)
        The expert scar on the crop (0/1).
    """

    patient_id: str
    images: np.ndarray
    myo: np.ndarray
    truth: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    rotation_deg: np.ndarray
    inputs: ModelInputs
    target: np.ndarray

    @property
    def has_scar(self) -> bool:
        """Whether the expert marked any scar."""
        return bool(self.truth.any())


def labelled_case(
    study: LGEStudy,
    *,
    scar_labels: Sequence[int] = SCAR_LABELS,
    scar_mask: np.ndarray | None = None,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
) -> LabelledCase:
    """Cut a labelled study for training: its slices with a myocardium, expert scar, model crops.

    Parameters
    ----------
    study : LGEStudy
        With a myocardium (labels or contours).
    scar_labels : sequence of int
        Canonical labels that count as scar when the scar comes from the label map: (3, 4) infarct and
        no-reflow (MyoPS scar 2221 maps to 3), (3,) infarct only.
    scar_mask : bool ndarray of shape (n_slices, H, W), optional
        A binary expert scar instead of the label map's.
    size, target_spacing_mm
        The crop (the pipeline's defaults).

    Raises
    ------
    InputError
        No myocardium, no scar source, or a scar mask of another shape.
    """
    myo = study.myocardium_mask()
    if scar_mask is not None:
        if np.shape(scar_mask) != myo.shape:
            raise InputError(
                f"{study.patient_id}: scar mask shape {np.shape(scar_mask)} differs from the image "
                f"{myo.shape}; give it on the image grid."
            )
        truth = np.asarray(scar_mask, dtype=bool) & myo
    elif study.labels is not None:
        truth = np.isin(study.labels, tuple(scar_labels)) & myo
    else:
        raise InputError(
            f"{study.patient_id}: no expert scar: give a label map (labels column) or a binary scar_mask."
        )
    keep = myo.reshape(len(myo), -1).any(axis=1)
    if not keep.any():
        raise InputError(f"{study.patient_id}: no slice has a myocardium; nothing to train on.")
    rotation = slice_rotations(study, myo)[keep]
    images, myo, truth = study.images[keep], myo[keep], truth[keep]
    spacing = study.pixel_spacing_mm
    cut = model_inputs(
        images,
        myo,
        pixel_spacing_mm=spacing,
        rotation_deg=rotation,
        size=size,
        target_spacing_mm=target_spacing_mm,
    )
    target = np.zeros((len(images), size, size), dtype=np.float32)
    crop = _crop(spacing, size, target_spacing_mm)
    for k in np.flatnonzero(cut.usable):
        target[k] = oriented_mask(truth[k], cut.centres[k], cut.angles[k], crop=crop) * cut.x[k, 1]
    return LabelledCase(study.patient_id, images, myo, truth, spacing, rotation, cut, target)


def _crop(spacing: tuple[float, float], size: int, target_spacing_mm: float) -> Any:
    return functools.partial(
        oriented_crop, spacing_mm=spacing, target_mm=target_spacing_mm, size=size, order=1
    )


def read_labelled_cases(
    manifest_path: str | os.PathLike[str],
    *,
    scar_labels: Sequence[int] = SCAR_LABELS,
    label_convention: str | None = None,
) -> tuple[list[LabelledCase], list[dict[str, str]]]:
    """Read every case of a manifest (``patient_id, lge`` and ``labels`` and/or ``contours``, ``scar_mask``).

    ``labels`` is a label map in any convention the readers know (MyoPS 2221 scar, EMIDEC 3 infarct and
    4 no-reflow, canonical); ``scar_mask`` a binary mask (non-zero = scar) on the image grid. A case that
    cannot be read is excluded with the reason; the others go on.

    Returns
    -------
    cases : list of LabelledCase
    exclusions : list of {"patient_id", "reason"}
    """
    manifest = read_manifest(
        manifest_path,
        label_column=None,
        file_columns=("lge",),
        optional_file_columns=("labels", "contours", "scar_mask"),
        check_files=False,
    )
    cases, exclusions = [], []
    for row in manifest.table.itertuples(index=False):
        record = row._asdict()
        pid = str(record["patient_id"])
        given = {k: record.get(k) for k in ("labels", "contours", "scar_mask") if _given(record.get(k))}
        try:
            for path in (record["lge"], *given.values()):
                if not Path(path).exists():
                    raise InputError(f"file not found: {path}; fix the manifest path")
            study = read_lge(
                record["lge"],
                labels=given.get("labels", "auto"),
                label_convention=label_convention,
                contours=given.get("contours"),
                patient_id=pid,
            )
            mask = None
            if "scar_mask" in given:
                mask = read_label_map(given["scar_mask"], label_convention="canonical")[0] > 0
            cases.append(labelled_case(study, scar_labels=scar_labels, scar_mask=mask))
        except CardioPredictError as error:
            exclusions.append({"patient_id": pid, "reason": first_line(error)})
        except Exception as error:  # one patient's surprise never stops the run
            exclusions.append({"patient_id": pid, "reason": f"unexpected {type(error).__name__}: {error}"})
    return cases, exclusions


def _given(value: Any) -> bool:
    return (
        value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value).strip() != ""
    )


def data_fingerprint(cases: Sequence[LabelledCase]) -> str:
    """SHA-256 over the patient ids and the exact arrays a network is trained on."""
    digest = hashlib.sha256()
    for case in sorted(cases, key=lambda c: c.patient_id):
        digest.update(case.patient_id.encode("utf-8"))
        digest.update(np.ascontiguousarray(case.inputs.x).tobytes())
        digest.update(np.ascontiguousarray(case.target).tobytes())
    return digest.hexdigest()
