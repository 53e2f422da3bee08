"""LGE study -> the VA model's input: per patient ``(n_selected, 2, 128, 128)`` [myocardium, scar] + LGE.

Steps per slice (paper section 2.2, Fig. 2):

1. myocardium from the label map, else from the epi/endo contours (:meth:`LGEStudy.myocardium_mask`);
2. scar inside it (:func:`cardiopredict.cmr.scar.segment_scar`, at the acquired resolution);
3. intensities min-max normalised by the myocardium (:func:`cardiopredict.cmr.intensity.normalize_in_mask`
   semantics, applied to the whole slice: 0 = darkest and 1 = brightest myocardial pixel; the blood pool
   may exceed 1);
4. rotation about the LV centre (:func:`~cardiopredict.cmr.geometry.lv_centre` of the myocardium) so the RV
   insertion point (given, else derived from the RV label, inferior junction) is at 6 o'clock, resampling
   to ``target_spacing_mm`` (default 1.25 mm: 128 px = 160 mm) and a 128x128 crop centred on the LV.
   The three are composed into one affine map and applied in one interpolation (bilinear for the image;
   bilinear then >= 0.5 for the masks), which is the geometry of ``rotate_about`` ->
   ``resample_to_spacing`` -> ``crop_centred`` without their three successive interpolations.

Slice selection (documented rule):

* a slice is *usable* when its myocardium covers at least ``min_myocardium_mm2`` (default 150 mm²,
  about a ring of 5 mm cavity radius and 4 mm wall) and it has an insertion point (given or derivable);
  every unusable slice is listed in ``PatientArrays.dropped`` with the reason; a slice whose only problem
  is a missing insertion point (none given and no RV touching the myocardium, typical of the apex) takes
  the rotation of the nearest slice that has one and is listed in ``PatientArrays.notes``;
* usable slices are ordered base -> apex: by slice position, in the direction in which the area inside
  the epicardium (plus the RV blood pool when labelled) shrinks (least-squares slope over the slices; the
  heart narrows towards the apex); ``study.meta["base_index"]`` (0 or -1), when given, decides instead;
* more than ``max_slices`` (10) usable slices: ``max_slices`` evenly spaced ones are kept (first and last
  included); fewer than ``min_slices`` (3): the patient is excluded with the reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import ndimage

from cardiopredict.cmr.geometry import (
    DEFAULT_CROP_SIZE,
    DEFAULT_TARGET_SPACING_MM,
    insertion_point_from_rv,
    lv_centre,
    rotation_angle_deg,
)
from cardiopredict.cmr.scar import ScarMethod, ScarSegmenter, scar_burden, segment_scar
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import CardioPredictError, InputError, InsertionPointError

MIN_SLICES = 3
MAX_SLICES = 10
MIN_MYOCARDIUM_MM2 = 150.0
InsertionFallback = Literal["nearest", "none"]


@dataclass(frozen=True)
class PatientArrays:
    """The model input of one patient.

    Parameters
    ----------
    patient_id : str
    inputs : float32 ndarray of shape (n_selected, 2, size, size)
        Channel 0 the myocardium mask, channel 1 the scar mask (0/1), oriented and cropped; base -> apex.
    lge : float32 ndarray of shape (n_selected, size, size)
        The LGE slices normalised by the myocardium min/max, oriented and cropped like ``inputs``.
    slice_indices : int ndarray of shape (n_selected,)
        Index of each selected slice in the study.
    rotation_deg : float ndarray of shape (n_selected,)
        Counter-clockwise rotation applied to each slice.
    lv_centre_rc : float ndarray of shape (n_selected, 2)
        LV centre (row, col) of each selected slice in the source image, pixels.
    insertion_point_rc : float ndarray of shape (n_selected, 2)
        The insertion point used (given or derived from the RV), source (row, col) pixels; NaN where the
        slice took its neighbour's rotation (see ``notes``).
    scar_burden_pct : float
        Scar in % of the myocardium over the selected slices (native resolution), NaN if excluded.
    scar_grams : float
        Scar mass over the selected slices (1.05 g/ml, slice thickness from the study), NaN if unknown.
    excluded : str or None
        Why the patient cannot be used (then the arrays are empty), else None.
    dropped : list of str
        One ``"slice k: reason"`` per unusable slice, and ``"slice k: not selected"`` for subsampling.
    notes : list of str
        Slices kept with the rotation of a neighbour (no insertion point of their own), with the reason.
    """

    patient_id: str
    inputs: np.ndarray
    lge: np.ndarray
    slice_indices: np.ndarray
    rotation_deg: np.ndarray
    lv_centre_rc: np.ndarray
    insertion_point_rc: np.ndarray
    scar_burden_pct: float = float("nan")
    scar_grams: float = float("nan")
    excluded: str | None = None
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def n_selected(self) -> int:
        """Number of selected slices (0 when excluded)."""
        return int(self.inputs.shape[0])


def select_slices(
    study: LGEStudy,
    usable: Sequence[int],
    *,
    max_slices: int = MAX_SLICES,
    myo_mask: np.ndarray | None = None,
) -> list[int]:
    """Order usable slices base -> apex and keep at most ``max_slices`` evenly spaced ones.

    Parameters
    ----------
    study : LGEStudy
    usable : sequence of int
        Indices of the usable slices.
    max_slices : int
    myo_mask : bool ndarray of shape (n_slices, H, W), optional
        The study's myocardium (computed when not given).

    Returns
    -------
    list of int
        Slice indices, base first.
    """
    usable = sorted(usable, key=lambda k: study.slice_positions_mm[k])
    if len(usable) >= 2:
        base_index = study.meta.get("base_index")
        if base_index in (0, -1):
            base_first = base_index == 0
        else:
            myo = study.myocardium_mask() if myo_mask is None else myo_mask
            rv = study.rv_mask() if study.labels is not None else None
            areas = [_area_inside(myo[k]) + (float(rv[k].sum()) if rv is not None else 0.0) for k in usable]
            base_first = np.polyfit(np.arange(len(areas)), areas, 1)[0] <= 0
        if not base_first:
            usable = usable[::-1]
    if len(usable) > max_slices:
        keep = np.unique(np.round(np.linspace(0, len(usable) - 1, max_slices)).astype(int))
        usable = [usable[i] for i in keep]
    return list(usable)


def _area_inside(mask: np.ndarray) -> float:
    """Pixels inside the epicardium (the myocardium with its cavity filled), on the mask's bounding box."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return 0.0
    box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return float(ndimage.binary_fill_holes(box).sum())


def preprocess_study(
    study: LGEStudy,
    *,
    scar: ScarMethod | ScarSegmenter = "nsd",
    n_sd: float = 5.0,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    min_slices: int = MIN_SLICES,
    max_slices: int = MAX_SLICES,
    min_myocardium_mm2: float = MIN_MYOCARDIUM_MM2,
    insertion_fallback: InsertionFallback = "nearest",
) -> PatientArrays:
    """Turn one patient's LGE study into the VA model input (see the module docstring for the steps).

    Parameters
    ----------
    study : LGEStudy
        Needs a myocardium (labels or epi+endo contours) and, per slice, an insertion point or an RV label.
    scar : {"nsd", "fwhm", "hysteresis", "labels"} or ScarSegmenter
        Scar method (:func:`cardiopredict.cmr.scar.segment_scar`).
    n_sd : float
        For ``scar="nsd"``.
    size : int
        Crop size, pixels.
    target_spacing_mm : float
        Pixel size after resampling, mm.
    min_slices, max_slices : int
        Fewer usable slices than ``min_slices`` excludes the patient; more than ``max_slices`` are
        subsampled evenly.
    min_myocardium_mm2 : float
        Smallest myocardium area of a usable slice.
    insertion_fallback : {"nearest", "none"}
        A slice without an insertion point of its own (none given, no RV touching the myocardium, e.g.
        at the apex) takes the rotation of the nearest slice (by position) that has one, and is listed in
        ``notes``; ``"none"`` drops it. A study where no slice has one is always excluded.

    Returns
    -------
    PatientArrays
        With ``excluded`` set (and empty arrays) when the patient cannot be used; never raises for a
        patient-level problem of the data.
    """
    if insertion_fallback not in ("nearest", "none"):
        raise InputError(
            f"preprocess_study: insertion_fallback={insertion_fallback!r}; choose 'nearest' or 'none'."
        )
    if not 1 <= min_slices <= max_slices:
        raise InputError(
            f"preprocess_study: need 1 <= min_slices ({min_slices}) <= max_slices ({max_slices})."
        )
    pid = study.patient_id
    try:
        myo_all = study.myocardium_mask()
    except CardioPredictError as error:
        return _excluded(pid, size, f"no myocardium: {_first_line(error)}")
    spacing = study.pixel_spacing_mm
    pixel_mm2 = spacing[0] * spacing[1]
    rv_all = study.rv_mask() if study.labels is not None else None

    dropped: list[str] = []
    usable: list[int] = []
    centres: dict[int, np.ndarray] = {}
    angles: dict[int, float] = {}
    points: dict[int, np.ndarray] = {}
    pending: dict[int, str] = {}  # slices with a myocardium but no insertion point of their own
    for k in range(study.n_slices):
        area = float(myo_all[k].sum()) * pixel_mm2
        if area < min_myocardium_mm2:
            dropped.append(f"slice {k}: myocardium {area:.0f} mm² < {min_myocardium_mm2:g} mm²")
            continue
        try:
            centre = lv_centre(myo_all[k])
            point = study.insertion_points[k] if study.insertion_points else None
            if point is None:
                if rv_all is None:
                    raise InsertionPointError("no insertion point given and no RV label to derive one")
                point = insertion_point_from_rv(myo_all[k], rv_all[k], which="inferior")
            angles[k] = rotation_angle_deg(centre, point)
        except InsertionPointError as error:
            centres[k], pending[k] = centre, _first_line(error)
            continue
        except CardioPredictError as error:
            dropped.append(f"slice {k}: {_first_line(error)}")
            continue
        centres[k] = centre
        points[k] = np.asarray(point, dtype=float)
        usable.append(k)
    notes: dict[int, str] = {}
    for k, why in pending.items():
        if insertion_fallback == "nearest" and usable:
            nearest = min(
                usable, key=lambda j: abs(study.slice_positions_mm[j] - study.slice_positions_mm[k])
            )
            angles[k], points[k] = angles[nearest], np.full(2, np.nan)
            notes[k] = f"slice {k}: rotation of slice {nearest} ({why})"
        else:
            dropped.append(f"slice {k}: {why}")
    usable = sorted(usable + [k for k in pending if k in angles])
    if len(usable) < min_slices:
        reason = f"{len(usable)} usable slice(s) < {min_slices}"
        if dropped:
            reason += " (" + _summarise(dropped) + ")"
        return _excluded(pid, size, reason, dropped)

    selected = select_slices(study, usable, max_slices=max_slices, myo_mask=myo_all)
    dropped += [f"slice {k}: not selected" for k in usable if k not in selected]
    images = study.images[selected]
    myo = myo_all[selected]
    try:
        result = segment_scar(
            images,
            myo,
            method=scar,
            n_sd=n_sd,
            labels=None if study.labels is None else study.labels[selected],
            pixel_spacing_mm=spacing,
        )
    except CardioPredictError as error:
        return _excluded(pid, size, f"scar segmentation failed: {_first_line(error)}", dropped)
    thickness = study.slice_thickness_mm
    percent, grams = scar_burden(
        result.mask, myo, pixel_spacing_mm=spacing, slice_thickness_mm=thickness or 1.0
    )
    if thickness is None:
        grams = float("nan")

    inputs = np.zeros((len(selected), 2, size, size), dtype=np.float32)
    lge = np.zeros((len(selected), size, size), dtype=np.float32)
    for i, k in enumerate(selected):
        values = images[i][myo[i]]
        lo, hi = float(values.min()), float(values.max())
        if not hi > lo:
            return _excluded(pid, size, f"slice {k}: constant intensity inside the myocardium", dropped)
        matrix, offset = slice_transform(
            centres[k], angles[k], spacing, target_spacing_mm=target_spacing_mm, size=size
        )
        lge[i] = (_warp(images[i], matrix, offset, size) - lo) / (hi - lo)
        inputs[i, 0] = _warp(myo[i].astype(np.float32), matrix, offset, size) >= 0.5
        inputs[i, 1] = _warp(result.mask[i].astype(np.float32), matrix, offset, size) >= 0.5
    inputs[:, 1] *= inputs[:, 0]
    return PatientArrays(
        patient_id=pid,
        inputs=inputs,
        lge=lge,
        slice_indices=np.asarray(selected, dtype=int),
        rotation_deg=np.asarray([angles[k] for k in selected], dtype=float),
        lv_centre_rc=np.asarray([centres[k] for k in selected], dtype=float).reshape(-1, 2),
        insertion_point_rc=np.asarray([points[k] for k in selected], dtype=float).reshape(-1, 2),
        scar_burden_pct=float(percent),
        scar_grams=float(grams),
        excluded=None,
        dropped=dropped,
        notes=[notes[k] for k in selected if k in notes],
    )


def slice_transform(
    centre: np.ndarray,
    angle_deg: float,
    spacing_mm: tuple[float, float],
    *,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    size: int = DEFAULT_CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """The affine map from crop pixels to source pixels (for ``scipy.ndimage.affine_transform``).

    Crop pixel ``(size // 2, size // 2)`` is the LV ``centre``; the image is rotated counter-clockwise
    (as displayed) by ``angle_deg`` in millimetres (correct for non-square pixels) and sampled every
    ``target_spacing_mm``.

    Returns
    -------
    matrix : ndarray of shape (2, 2)
    offset : ndarray of shape (2,)
        ``source = matrix @ crop + offset`` in (row, col) pixels.
    """
    a = np.radians(angle_deg)
    forward = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    matrix = np.diag(1.0 / np.asarray(spacing_mm, dtype=float)) @ forward.T * float(target_spacing_mm)
    half = np.full(2, size // 2, dtype=float)
    offset = np.asarray(centre, dtype=float) - matrix @ half
    return matrix, offset


def crop_to_source(points: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Map ``(row, col)`` crop points (``(2,)`` or ``(k, 2)``) to source pixels."""
    return np.asarray(points, dtype=float) @ matrix.T + offset


def source_to_crop(points: np.ndarray, matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Map ``(row, col)`` source points (``(2,)`` or ``(k, 2)``) into the crop."""
    return (np.asarray(points, dtype=float) - offset) @ np.linalg.inv(matrix).T


def _warp(image: np.ndarray, matrix: np.ndarray, offset: np.ndarray, size: int) -> np.ndarray:
    return ndimage.affine_transform(
        image, matrix, offset=offset, output_shape=(size, size), order=1, mode="constant", cval=0.0
    )


def _excluded(pid: str, size: int, reason: str, dropped: list[str] | None = None) -> PatientArrays:
    return PatientArrays(
        patient_id=pid,
        inputs=np.zeros((0, 2, size, size), dtype=np.float32),
        lge=np.zeros((0, size, size), dtype=np.float32),
        slice_indices=np.zeros(0, dtype=int),
        rotation_deg=np.zeros(0),
        lv_centre_rc=np.zeros((0, 2)),
        insertion_point_rc=np.zeros((0, 2)),
        excluded=reason,
        dropped=list(dropped or []),
    )


def _summarise(notes: list[str]) -> str:
    """``["slice 0: X", "slice 1: X", "slice 2: Y"]`` -> ``"slices 0, 1: X; slice 2: Y"``."""
    groups: dict[str, list[str]] = {}
    for note in notes:
        where, _, why = note.partition(": ")
        groups.setdefault(why, []).append(where.removeprefix("slice "))
    return "; ".join(
        f"{'slices' if len(ks) > 1 else 'slice'} {', '.join(ks)}: {why}" for why, ks in groups.items()
    )


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# --- cohort --------------------------------------------------------------------------------------
INPUTS_FILE = "inputs.npy"
LGE_FILE = "lge.npy"
INDEX_FILE = "index.csv"
EXCLUSIONS_FILE = "exclusions.csv"
SUMMARY_FILE = "preprocess.json"


def preprocess_cohort(
    manifest_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    scar: ScarMethod | ScarSegmenter = "nsd",
    n_sd: float = 5.0,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    min_slices: int = MIN_SLICES,
    max_slices: int = MAX_SLICES,
    progress: bool = False,
) -> Path:
    """Preprocess every patient of a manifest into one memory-mappable array per cohort.

    Parameters
    ----------
    manifest_path : str or Path
        CSV/XLSX with ``patient_id``, ``lge`` (a DICOM series folder or NIfTI file, relative to the
        manifest) and optional ``labels`` (label map) and ``contours`` (paper contour file) columns;
        other columns are ignored here.
    out_dir : str or Path
        Receives (each written atomically):

        * ``inputs.npy``: float32 (n_rows, 2, size, size), the selected slices of all included patients
          stacked in manifest order (``numpy.load(path, mmap_mode="r")``);
        * ``lge.npy``: float32 (n_rows, size, size), the normalised LGE slices, same rows;
        * ``index.csv``: patient_id, row_start, n_slices, slice_indices (``;``-separated, in the study),
          rotation_deg, scar_burden_pct, scar_grams, dropped_slices, notes;
        * ``exclusions.csv``: patient_id, reason (every patient not in ``index.csv``);
        * ``preprocess.json``: options, counts, seconds.
    scar, n_sd, size, target_spacing_mm, min_slices, max_slices
        As in :func:`preprocess_study`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir``.
    """
    from cardiopredict.cmr.io import read_lge
    from cardiopredict.cohort.manifest import read_manifest
    from cardiopredict.studies._common import atomic_write_csv, atomic_write_json, provenance

    manifest = read_manifest(
        manifest_path,
        label_column=None,
        file_columns=("lge",),
        optional_file_columns=("labels", "contours"),
        check_files=False,
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    included: list[PatientArrays] = []
    exclusions: list[dict[str, str]] = []
    rows = list(manifest.table.itertuples(index=False))
    iterator: Any = rows
    if progress:
        from rich.progress import track

        iterator = track(rows, description="preprocessing LGE")
    for row in iterator:
        record = row._asdict()
        pid = str(record["patient_id"])
        hints = {key: record[key] for key in ("labels", "contours") if _given(record.get(key))}
        try:
            for path in (record["lge"], *hints.values()):
                if not Path(path).exists():
                    raise InputError(f"file not found: {path}; fix the manifest path")
            study = read_lge(record["lge"], **hints)
            study = study.replace(patient_id=pid)
        except CardioPredictError as error:
            exclusions.append({"patient_id": pid, "reason": f"cannot read: {_first_line(error)}"})
            continue
        arrays = preprocess_study(
            study,
            scar=scar,
            n_sd=n_sd,
            size=size,
            target_spacing_mm=target_spacing_mm,
            min_slices=min_slices,
            max_slices=max_slices,
        )
        if arrays.excluded:
            exclusions.append({"patient_id": pid, "reason": arrays.excluded})
        else:
            included.append(arrays)

    n_rows = sum(p.n_selected for p in included)
    index_rows, start = [], 0
    for p in included:
        index_rows.append(
            {
                "patient_id": p.patient_id,
                "row_start": start,
                "n_slices": p.n_selected,
                "slice_indices": ";".join(str(i) for i in p.slice_indices),
                "rotation_deg": ";".join(f"{a:.2f}" for a in p.rotation_deg),
                "scar_burden_pct": round(p.scar_burden_pct, 3),
                "scar_grams": round(p.scar_grams, 3) if np.isfinite(p.scar_grams) else np.nan,
                "dropped_slices": " | ".join(p.dropped),
                "notes": " | ".join(p.notes),
            }
        )
        start += p.n_selected
    _write_npy(out / INPUTS_FILE, (n_rows, 2, size, size), [p.inputs for p in included])
    _write_npy(out / LGE_FILE, (n_rows, size, size), [p.lge for p in included])
    index_columns = [
        "patient_id",
        "row_start",
        "n_slices",
        "slice_indices",
        "rotation_deg",
        "scar_burden_pct",
        "scar_grams",
        "dropped_slices",
        "notes",
    ]
    atomic_write_csv(out / INDEX_FILE, pd.DataFrame(index_rows, columns=index_columns))
    atomic_write_csv(out / EXCLUSIONS_FILE, pd.DataFrame(exclusions, columns=["patient_id", "reason"]))
    atomic_write_json(
        out / SUMMARY_FILE,
        {
            "manifest": str(Path(manifest_path).resolve()),
            "scar": scar if isinstance(scar, str) else getattr(scar, "name", type(scar).__name__),
            "n_sd": n_sd,
            "size": size,
            "target_spacing_mm": target_spacing_mm,
            "min_slices": min_slices,
            "max_slices": max_slices,
            "min_myocardium_mm2": MIN_MYOCARDIUM_MM2,
            "patients": len(rows),
            "included": len(included),
            "excluded": len(exclusions),
            "rows": n_rows,
            "seconds": round(time.perf_counter() - started, 3),
            "provenance": provenance(),
        },
    )
    return out


def load_cohort_arrays(out_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Open a :func:`preprocess_cohort` output: (inputs memmap, lge memmap, index table)."""
    out = Path(out_dir)
    index = pd.read_csv(
        out / INDEX_FILE, dtype={"patient_id": str, "slice_indices": str, "rotation_deg": str}
    )
    return (
        np.load(out / INPUTS_FILE, mmap_mode="r"),
        np.load(out / LGE_FILE, mmap_mode="r"),
        index,
    )


def _given(value: Any) -> bool:
    return (
        value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value).strip() != ""
    )


def _write_npy(path: Path, shape: tuple[int, ...], blocks: list[np.ndarray]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    if shape[0] == 0:
        with open(tmp, "wb") as handle:
            np.save(handle, np.zeros(shape, dtype=np.float32))
        os.replace(tmp, path)
        return
    try:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        start = 0
        for block in blocks:
            array[start : start + len(block)] = block
            start += len(block)
        array.flush()
        del array
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
