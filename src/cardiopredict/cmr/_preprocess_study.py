"""LGE study -> the VA model's input: per patient ``(n_selected, 2, 128, 128)`` [myocardium, scar] + LGE.

Steps per slice (paper section 2.2, Fig. 2):

1. myocardium from the label map, else from the epi/endo contours (:meth:`LGEStudy.myocardium_mask`);
2. scar inside it (a :class:`~cardiopredict.cmr.scar.ScarSegmenter` driven by
   :func:`~cardiopredict.cmr.scar.segment_scar`, at the acquired resolution);
3. intensities min-max normalised by the myocardium (0 = darkest and 1 = brightest myocardial pixel,
   applied to the whole slice; the blood pool may exceed 1);
4. rotation about the LV centre (:func:`~cardiopredict.cmr.geometry.lv_centre` of the myocardium) so the RV
   insertion point (given, else derived from the RV label, inferior junction) is at 6 o'clock, resampling
   to ``target_spacing_mm`` (default 1.25 mm: 128 px = 160 mm) and a 128x128 crop centred on the LV, all
   in the one affine of :func:`~cardiopredict.cmr.geometry.oriented_crop` (bilinear for the image;
   bilinear then >= 0.5 for the masks); :func:`oriented_slice` is that step for one slice, shared with
   the learned scar segmenter so that it sees exactly what the pipeline produces.

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

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from cardiopredict.cmr.geometry import (
    DEFAULT_CROP_SIZE,
    DEFAULT_TARGET_SPACING_MM,
    insertion_point_from_rv,
    lv_centre,
    oriented_crop,
    rotation_angle_deg,
)
from cardiopredict.cmr.scar import NSD, ScarSegmenter, scar_burden, scar_method, segment_scar
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import CardioPredictError, InputError, InsertionPointError, IntensityError

MIN_SLICES = 3
MAX_SLICES = 10
MIN_MYOCARDIUM_MM2 = 150.0
InsertionFallback = Literal["nearest", "none"]
DEFAULT_SCAR: ScarSegmenter = NSD()
"""The scar segmenter of :func:`preprocess_study` unless told otherwise (5 SD above remote)."""


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


@dataclass
class _Orientation:
    """Per-slice geometry found by :func:`_orient_slices` (source pixels, degrees)."""

    usable: list[int]
    centres: dict[int, np.ndarray]
    angles: dict[int, float]
    points: dict[int, np.ndarray]
    dropped: list[str]
    notes: dict[int, str]


def _orient_slices(
    study: LGEStudy,
    myo_all: np.ndarray,
    *,
    min_myocardium_mm2: float,
    insertion_fallback: InsertionFallback,
) -> _Orientation:
    """LV centre, insertion point and rotation of every slice with enough myocardium (module docstring)."""
    pixel_mm2 = study.pixel_spacing_mm[0] * study.pixel_spacing_mm[1]
    rv_all = study.rv_mask() if study.labels is not None else None
    found = _Orientation([], {}, {}, {}, [], {})
    pending: dict[int, str] = {}  # slices with a myocardium but no insertion point of their own
    for k in range(study.n_slices):
        area = float(myo_all[k].sum()) * pixel_mm2
        if area < min_myocardium_mm2:
            found.dropped.append(f"slice {k}: myocardium {area:.0f} mm² < {min_myocardium_mm2:g} mm²")
            continue
        try:
            centre = lv_centre(myo_all[k])
            point = study.insertion_points[k] if study.insertion_points else None
            if point is None:
                if rv_all is None:
                    raise InsertionPointError("no insertion point given and no RV label to derive one")
                point = insertion_point_from_rv(myo_all[k], rv_all[k], which="inferior")
            found.angles[k] = rotation_angle_deg(centre, point)
        except InsertionPointError as error:
            found.centres[k], pending[k] = centre, first_line(error)
            continue
        except CardioPredictError as error:
            found.dropped.append(f"slice {k}: {first_line(error)}")
            continue
        found.centres[k], found.points[k] = centre, np.asarray(point, dtype=float)
        found.usable.append(k)
    positions = study.slice_positions_mm
    for k, why in pending.items():
        if insertion_fallback == "nearest" and found.usable:
            nearest = min(found.usable, key=lambda j: abs(positions[j] - positions[k]))
            found.angles[k], found.points[k] = found.angles[nearest], np.full(2, np.nan)
            found.notes[k] = f"slice {k}: rotation of slice {nearest} ({why})"
        else:
            found.dropped.append(f"slice {k}: {why}")
    found.usable = sorted(found.usable + [k for k in pending if k in found.angles])
    return found


def slice_rotations(study: LGEStudy, myo_mask: np.ndarray | None = None) -> np.ndarray:
    """The rotation (degrees) that puts each slice's RV insertion point at 6 o'clock, NaN where unknown.

    The rule of :func:`preprocess_study` (given point, else derived from the RV label; a slice without
    one takes its nearest neighbour's), on every slice with a myocardium, whatever its area.

    Returns
    -------
    float ndarray of shape (n_slices,)
    """
    myo_all = study.myocardium_mask() if myo_mask is None else myo_mask
    found = _orient_slices(study, myo_all, min_myocardium_mm2=0.0, insertion_fallback="nearest")
    return np.asarray([found.angles.get(k, np.nan) for k in range(study.n_slices)], dtype=float)


def oriented_slice(
    image: np.ndarray,
    myo_mask: np.ndarray,
    centre: np.ndarray,
    angle_deg: float,
    *,
    spacing_mm: tuple[float, float],
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    size: int = DEFAULT_CROP_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """One slice as the models see it: normalised LGE and myocardium on the oriented crop.

    Parameters
    ----------
    image : float ndarray of shape (H, W)
        LGE intensities, source pixels.
    myo_mask : bool ndarray of shape (H, W)
    centre : (row, col)
        LV centre, source pixels (lands on crop pixel ``(size // 2, size // 2)``).
    angle_deg : float
        Counter-clockwise rotation (:func:`~cardiopredict.cmr.geometry.rotation_angle_deg`).
    spacing_mm : (row_mm, col_mm)
        Source pixel spacing.
    target_spacing_mm : float
        Crop pixel size, mm.
    size : int
        Crop size, pixels.

    Returns
    -------
    lge : float32 ndarray of shape (size, size)
        :func:`~cardiopredict.cmr.geometry.oriented_crop` (bilinear) of the image, scaled so that the
        darkest myocardial source pixel is 0 and the brightest 1 (the blood pool may exceed 1).
    myo : bool ndarray of shape (size, size)
        The myocardium, bilinear then >= 0.5.

    Raises
    ------
    IntensityError
        The myocardium is empty or of constant intensity.
    """
    lo, hi = myocardium_range(image, myo_mask)
    crop = functools.partial(
        oriented_crop, spacing_mm=spacing_mm, target_mm=target_spacing_mm, size=size, order=1
    )
    lge = (crop(image, centre, angle_deg) - lo) / (hi - lo)
    return lge.astype(np.float32), oriented_mask(myo_mask, centre, angle_deg, crop=crop)


def oriented_mask(mask: np.ndarray, centre: np.ndarray, angle_deg: float, *, crop: Any) -> np.ndarray:
    """A bool mask on the oriented crop: bilinear interpolation of 0/1, then >= 0.5 (``crop`` as above)."""
    return crop(np.asarray(mask, dtype=np.float32), centre, angle_deg) >= 0.5


def myocardium_range(image: np.ndarray, myo_mask: np.ndarray) -> tuple[float, float]:
    """(min, max) of the image inside the myocardium; IntensityError when empty or constant."""
    values = np.asarray(image)[np.asarray(myo_mask, dtype=bool)]
    if values.size == 0:
        raise IntensityError("the myocardium of this slice is empty; nothing to normalise by")
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        raise IntensityError("constant intensity inside the myocardium")
    return lo, hi


def preprocess_study(
    study: LGEStudy,
    *,
    scar: ScarSegmenter | str = DEFAULT_SCAR,
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
    scar : ScarSegmenter or str
        Scar segmenter (``NSD(n_sd=5)``, ``Hysteresis()``, ``LabelScar()``, a learned model), or a spec
        for :func:`~cardiopredict.cmr.scar.scar_method` such as ``"hysteresis"`` or ``"learned:DIR"``.
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

    Raises
    ------
    InputError
        Bad options, or a learned segmenter trained on other preprocessing (crop size or spacing).
    """
    segmenter = scar_method(scar) if isinstance(scar, str) else scar
    _check_options(
        segmenter,
        size=size,
        target_spacing_mm=target_spacing_mm,
        min_slices=min_slices,
        max_slices=max_slices,
        insertion_fallback=insertion_fallback,
    )
    pid = study.patient_id
    try:
        myo_all = study.myocardium_mask()
    except CardioPredictError as error:
        return excluded_arrays(pid, size, f"no myocardium: {first_line(error)}")
    found = _orient_slices(
        study, myo_all, min_myocardium_mm2=min_myocardium_mm2, insertion_fallback=insertion_fallback
    )
    dropped = found.dropped
    if len(found.usable) < min_slices:
        reason = f"{len(found.usable)} usable slice(s) < {min_slices}"
        if dropped:
            reason += " (" + _summarise(dropped) + ")"
        return excluded_arrays(pid, size, reason, dropped)
    selected = select_slices(study, found.usable, max_slices=max_slices, myo_mask=myo_all)
    dropped += [f"slice {k}: not selected" for k in found.usable if k not in selected]
    return _selected_arrays(
        study, myo_all, found, selected, dropped, segmenter, size=size, target_spacing_mm=target_spacing_mm
    )


def _selected_arrays(
    study: LGEStudy,
    myo_all: np.ndarray,
    found: _Orientation,
    selected: list[int],
    dropped: list[str],
    segmenter: ScarSegmenter,
    *,
    size: int,
    target_spacing_mm: float,
) -> PatientArrays:
    """Scar, burden and oriented crops of the ``selected`` slices; an excluded patient when one fails."""
    pid = study.patient_id
    spacing = study.pixel_spacing_mm
    images, myo = study.images[selected], myo_all[selected]
    try:
        result = segment_scar(
            images,
            myo,
            segmenter,
            labels=None if study.labels is None else study.labels[selected],
            pixel_spacing_mm=spacing,
            rotation_deg=np.asarray([found.angles[k] for k in selected], dtype=float),
        )
    except CardioPredictError as error:
        return excluded_arrays(pid, size, f"scar segmentation failed: {first_line(error)}", dropped)
    thickness = study.slice_thickness_mm
    percent, grams = scar_burden(
        result.mask, myo, pixel_spacing_mm=spacing, slice_thickness_mm=thickness or 1.0
    )
    try:
        inputs, lge = _cut(
            images,
            myo,
            result.mask,
            [(k, found.centres[k], found.angles[k]) for k in selected],
            spacing_mm=spacing,
            target_spacing_mm=target_spacing_mm,
            size=size,
        )
    except IntensityError as error:
        return excluded_arrays(pid, size, first_line(error), dropped)
    return PatientArrays(
        patient_id=pid,
        inputs=inputs,
        lge=lge,
        slice_indices=np.asarray(selected, dtype=int),
        rotation_deg=np.asarray([found.angles[k] for k in selected], dtype=float),
        lv_centre_rc=np.asarray([found.centres[k] for k in selected], dtype=float).reshape(-1, 2),
        insertion_point_rc=np.asarray([found.points[k] for k in selected], dtype=float).reshape(-1, 2),
        scar_burden_pct=float(percent),
        scar_grams=float(grams) if thickness is not None else float("nan"),
        excluded=None,
        dropped=dropped,
        notes=[found.notes[k] for k in selected if k in found.notes],
    )


def _cut(
    images: np.ndarray,
    myo: np.ndarray,
    scar: np.ndarray,
    placements: list[tuple[int, np.ndarray, float]],
    *,
    spacing_mm: tuple[float, float],
    target_spacing_mm: float,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """[myocardium, scar] inputs (n, 2, size, size) and normalised LGE (n, size, size) of the selected
    slices, each with its (study slice index, LV centre, rotation); IntensityError names the slice."""
    inputs = np.zeros((len(images), 2, size, size), dtype=np.float32)
    lge = np.zeros((len(images), size, size), dtype=np.float32)
    crop = functools.partial(
        oriented_crop, spacing_mm=spacing_mm, target_mm=target_spacing_mm, size=size, order=1
    )
    for i, (k, centre, angle) in enumerate(placements):
        try:
            lge[i], inputs[i, 0] = oriented_slice(
                images[i],
                myo[i],
                centre,
                angle,
                spacing_mm=spacing_mm,
                target_spacing_mm=target_spacing_mm,
                size=size,
            )
        except IntensityError as error:
            raise IntensityError(f"slice {k}: {first_line(error)}") from error
        inputs[i, 1] = oriented_mask(scar[i], centre, angle, crop=crop)
    inputs[:, 1] *= inputs[:, 0]
    return inputs, lge


def _check_options(
    segmenter: ScarSegmenter,
    *,
    size: int,
    target_spacing_mm: float,
    min_slices: int,
    max_slices: int,
    insertion_fallback: str,
) -> None:
    if insertion_fallback not in ("nearest", "none"):
        raise InputError(
            f"preprocess_study: insertion_fallback={insertion_fallback!r}; choose 'nearest' or 'none'."
        )
    if not 1 <= min_slices <= max_slices:
        raise InputError(
            f"preprocess_study: need 1 <= min_slices ({min_slices}) <= max_slices ({max_slices})."
        )
    if not isinstance(segmenter, ScarSegmenter):
        raise InputError(
            f"preprocess_study: scar={segmenter!r} is not a ScarSegmenter; pass e.g. NSD(), Hysteresis() "
            "or scar_method('learned:DIR')."
        )
    check_preprocessing(segmenter, size=size, target_spacing_mm=target_spacing_mm)


def pipeline_preprocessing(
    *, size: int = DEFAULT_CROP_SIZE, target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM
) -> dict[str, Any]:
    """What :func:`oriented_slice` does, as JSON: a learned segmenter stores it and must match it."""
    return {
        "crop": "oriented_crop: LV centre at the crop centre, RV insertion point at 6 o'clock",
        "size": int(size),
        "target_spacing_mm": float(target_spacing_mm),
        "intensity": "min-max of the myocardium (0 darkest, 1 brightest myocardial pixel)",
        "channels": ["lge", "myocardium"],
    }


def check_preprocessing(
    segmenter: ScarSegmenter,
    *,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
) -> None:
    """Refuse a segmenter whose ``describe()["preprocessing"]`` differs from this pipeline's.

    Raises
    ------
    InputError
        Naming the fields that differ and what to do.
    """
    wanted = segmenter.describe().get("preprocessing")
    if wanted is None:
        return
    have = pipeline_preprocessing(size=size, target_spacing_mm=target_spacing_mm)
    differ = {key: (wanted.get(key), value) for key, value in have.items() if wanted.get(key) != value}
    if differ:
        details = "; ".join(f"{k}: model {m!r} vs pipeline {p!r}" for k, (m, p) in differ.items())
        raise InputError(
            f"scar model {segmenter.describe().get('source', segmenter.name)!r} was trained on other "
            f"preprocessing ({details}); run the pipeline with the model's size and target_spacing_mm, or "
            "retrain it (cardiopredict cmr train-scar)."
        )


def excluded_arrays(pid: str, size: int, reason: str, dropped: list[str] | None = None) -> PatientArrays:
    """The empty :class:`PatientArrays` of a patient excluded for ``reason``."""
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


def first_line(error: BaseException) -> str:
    """The first line of an error's message (its type name when the message is empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
