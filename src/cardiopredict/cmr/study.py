"""LGEStudy: one patient's short-axis LGE slices with spacing, contours, insertion points and labels.

Every reader (:func:`cardiopredict.cmr.io.read_lge`) returns this one type; everything downstream takes
only this type. Coordinates are pixel coordinates ``(row, col)`` of the stored images, the centre of pixel
``images[k, r, c]`` being at ``(r, c)``. Orientation and label conventions: ``docs/CMR_FORMATS.md``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardiopredict.errors import ContourError, IntensityError, LGEFormatError, SpacingError

# Canonical label values (docs/CMR_FORMATS.md).
BACKGROUND = 0
LV_BLOOD_POOL = 1
MYOCARDIUM = 2
SCAR = 3
NO_REFLOW = 4
RV_BLOOD_POOL = 5
CANONICAL_LABELS = {
    "background": BACKGROUND,
    "lv_blood_pool": LV_BLOOD_POOL,
    "myocardium": MYOCARDIUM,
    "scar": SCAR,
    "no_reflow": NO_REFLOW,
    "rv_blood_pool": RV_BLOOD_POOL,
}
LABEL_CONVENTIONS = ("myops", "emidec", "acdc", "canonical")

# A contour vertex may lie up to half a pixel beyond the outermost pixel centres (on the image edge).
_EDGE_TOLERANCE_PX = 0.5


@dataclass(frozen=True, eq=False)
class LGEStudy:
    """Short-axis LGE slices of one patient.

    Parameters
    ----------
    images : ndarray of shape (n_slices, H, W), float32
        Pixel values after DICOM rescale slope/intercept (arbitrary units). Must be finite.
    pixel_spacing_mm : tuple of (float, float)
        In-plane spacing ``(row_mm, col_mm)``: distance between pixel centres along rows and along columns.
    slice_positions_mm : ndarray of shape (n_slices,), float64
        Position of each slice along the slice normal, mm (the reader sorts slices by it).
    endo, epi : list of (ndarray of shape (k, 2) or None), length n_slices, optional
        Endocardial / epicardial contour per slice as closed polygons of ``(row, col)`` pixel coordinates
        (the last vertex joins the first; do not repeat it). ``None`` where a slice has no contour.
    insertion_points : list of (ndarray of shape (2,) or None), length n_slices, optional
        RV insertion point per slice, ``(row, col)`` pixel coordinates, or ``None``.
    labels : ndarray of shape (n_slices, H, W), uint8, optional
        Label map in the canonical values: 0 background, 1 LV blood pool, 2 healthy myocardium, 3 scar,
        4 no-reflow / MVO (counts as scar), 5 RV blood pool.
    label_convention : str, optional
        The convention the file's labels were mapped from: ``"myops"``, ``"emidec"``, ``"acdc"`` or
        ``"canonical"``. ``None`` when there are no labels. ``labels`` are canonical in every case.
    meta : dict
        Free-form provenance (source path, series UID, slice thickness, orientation notes).
        ``meta["slice_thickness_mm"]`` is used by :attr:`slice_thickness_mm` when present.
    patient_id : str
        Patient identifier (the only identifying field written to outputs).

    Raises
    ------
    LGEFormatError
        Wrong shapes, labels outside 0-5, lists of the wrong length.
    IntensityError
        Non-finite pixel values (the message gives the slice and the count).
    SpacingError
        Missing, non-finite or non-positive pixel spacing.
    ContourError
        A contour with fewer than 3 vertices, non-finite values or vertices outside the image.
    """

    images: np.ndarray
    pixel_spacing_mm: tuple[float, float]
    slice_positions_mm: np.ndarray
    endo: list[np.ndarray | None] = field(default_factory=list)
    epi: list[np.ndarray | None] = field(default_factory=list)
    insertion_points: list[np.ndarray | None] = field(default_factory=list)
    labels: np.ndarray | None = None
    label_convention: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    patient_id: str = ""

    def __post_init__(self) -> None:
        images = _check_images(self.images, self.patient_id)
        n, H, W = images.shape
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "pixel_spacing_mm", _check_spacing(self.pixel_spacing_mm, self.patient_id))
        object.__setattr__(
            self, "slice_positions_mm", _check_positions(self.slice_positions_mm, n, self.patient_id)
        )

        for name in ("endo", "epi"):
            contours = _per_slice(getattr(self, name), n, name, self.patient_id)
            checked = [
                None if c is None else check_contour(c, (H, W), where=f"{self.patient_id!r} {name} slice {k}")
                for k, c in enumerate(contours)
            ]
            object.__setattr__(self, name, checked)
        points = _per_slice(self.insertion_points, n, "insertion_points", self.patient_id)
        points = [
            None if p is None else _check_point(p, (H, W), self.patient_id, k) for k, p in enumerate(points)
        ]
        object.__setattr__(self, "insertion_points", points)

        if self.labels is not None:
            object.__setattr__(self, "labels", _check_labels(self.labels, images.shape, self.patient_id))
            if self.label_convention not in LABEL_CONVENTIONS:
                raise LGEFormatError(
                    f"LGEStudy {self.patient_id!r}: label_convention must be one of {LABEL_CONVENTIONS}, "
                    f"got {self.label_convention!r}"
                )
        elif self.label_convention is not None:
            raise LGEFormatError(
                f"LGEStudy {self.patient_id!r}: label_convention={self.label_convention!r} given without "
                "labels"
            )
        object.__setattr__(self, "meta", dict(self.meta))
        object.__setattr__(self, "patient_id", str(self.patient_id))

    # --- shape -------------------------------------------------------------------------------
    @property
    def n_slices(self) -> int:
        """Number of slices."""
        return int(self.images.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """In-plane image shape ``(H, W)`` in pixels."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def slice_thickness_mm(self) -> float | None:
        """Slice thickness, mm: ``meta["slice_thickness_mm"]``, else the median gap between slice
        positions, else ``None`` (single slice without metadata)."""
        value = self.meta.get("slice_thickness_mm")
        if value is not None and np.isfinite(float(value)) and float(value) > 0:
            return float(value)
        if self.n_slices > 1:
            gaps = np.abs(np.diff(self.slice_positions_mm))
            gaps = gaps[gaps > 0]
            if gaps.size:
                return float(np.median(gaps))
        return None

    # --- masks -------------------------------------------------------------------------------
    def _require_labels(self, what: str) -> np.ndarray:
        if self.labels is None:
            raise LGEFormatError(
                f"LGEStudy {self.patient_id!r} has no label map, so it has no {what}; read it with labels= "
                "or use contours (myocardium_mask uses epi/endo contours when there are no labels)"
            )
        return self.labels

    def myocardium_mask(self) -> np.ndarray:
        """Whole myocardium (healthy + scar + no-reflow), bool ``(n_slices, H, W)``.

        From the label map when present, else from the epi/endo contours (slices without both contours
        are all False).
        """
        if self.labels is not None:
            return np.isin(self.labels, (MYOCARDIUM, SCAR, NO_REFLOW))
        if not any(e is not None for e in self.epi):
            raise LGEFormatError(
                f"LGEStudy {self.patient_id!r} has neither labels nor epicardial contours; "
                "no myocardium can be defined"
            )
        from cardiopredict.cmr.geometry import myocardium_mask

        out = np.zeros(self.images.shape, dtype=bool)
        for k, (epi, endo) in enumerate(zip(self.epi, self.endo, strict=True)):
            if epi is not None and endo is not None:
                out[k] = myocardium_mask(epi, endo, self.shape)
        return out

    def scar_label_mask(self) -> np.ndarray:
        """Scar from the label map (scar or no-reflow), bool ``(n_slices, H, W)``."""
        return np.isin(self._require_labels("scar label"), (SCAR, NO_REFLOW))

    def lv_blood_pool_mask(self) -> np.ndarray:
        """LV blood pool from the label map, bool ``(n_slices, H, W)``."""
        return self._require_labels("LV blood pool label") == LV_BLOOD_POOL

    def rv_mask(self) -> np.ndarray:
        """RV blood pool from the label map, bool ``(n_slices, H, W)``."""
        return self._require_labels("RV label") == RV_BLOOD_POOL

    # --- derived studies ---------------------------------------------------------------------
    def replace(self, **changes: Any) -> LGEStudy:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def select(self, indices: list[int] | np.ndarray) -> LGEStudy:
        """A study holding only the slices ``indices`` (in that order)."""
        idx = [int(i) for i in np.asarray(indices, dtype=int).reshape(-1)]
        for i in idx:
            if not 0 <= i < self.n_slices:
                raise IndexError(f"slice index {i} out of range for {self.n_slices} slices")
        return dataclasses.replace(
            self,
            images=self.images[idx],
            slice_positions_mm=self.slice_positions_mm[idx],
            endo=[self.endo[i] for i in idx] if self.endo else [],
            epi=[self.epi[i] for i in idx] if self.epi else [],
            insertion_points=[self.insertion_points[i] for i in idx] if self.insertion_points else [],
            labels=None if self.labels is None else self.labels[idx],
        )

    def __repr__(self) -> str:
        n_contours = sum(e is not None for e in self.epi)
        return (
            f"LGEStudy(patient_id={self.patient_id!r}, images={self.images.shape}, "
            f"pixel_spacing_mm={self.pixel_spacing_mm}, epi contours={n_contours}, "
            f"labels={'none' if self.labels is None else self.label_convention})"
        )


def _check_images(value: Any, patient_id: str) -> np.ndarray:
    """Validate the ``(n_slices, H, W)`` real, finite image stack and return it as float32."""
    images = np.asarray(value)
    if images.ndim != 3 or min(images.shape) < 1:
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: images must have shape (n_slices, H, W), got {images.shape}; "
            "stack 2-D slices with numpy.stack"
        )
    if not np.issubdtype(images.dtype, np.number) or np.iscomplexobj(images):
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: images must be real numbers, got dtype {images.dtype}"
        )
    images = images.astype(np.float32, copy=False)
    finite = np.isfinite(images)
    if not finite.all():
        bad = np.flatnonzero(~finite.all(axis=(1, 2)))
        counts = [int((~finite[k]).sum()) for k in bad[:5]]
        raise IntensityError(
            f"LGEStudy {patient_id!r}: non-finite pixel values (NaN/inf) in slice(s) "
            f"{bad[:5].tolist()} ({counts} pixels); fix or drop those slices before building the study"
        )
    return images


def _check_positions(value: Any, n: int, patient_id: str) -> np.ndarray:
    """Validate ``n`` finite slice positions, mm, and return them as float64 ``(n,)``."""
    positions = np.asarray(value, dtype=np.float64).reshape(-1)
    if positions.shape != (n,) or not np.isfinite(positions).all():
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: slice_positions_mm must be {n} finite values (one a slice), "
            f"got {np.asarray(value).tolist()!r}"
        )
    return positions


def _check_labels(value: Any, shape: tuple[int, ...], patient_id: str) -> np.ndarray:
    """Validate a canonical (0-5) integer label map on the image grid ``shape`` and return it as uint8."""
    labels = np.asarray(value)
    if labels.shape != shape:
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: labels shape {labels.shape} differs from images shape "
            f"{shape}; the label map must be on the image grid"
        )
    if not np.issubdtype(labels.dtype, np.integer) and not np.array_equal(labels, np.round(labels)):
        raise LGEFormatError(f"LGEStudy {patient_id!r}: labels must be integers")
    values = np.unique(labels)
    if values.min() < 0 or values.max() > RV_BLOOD_POOL:
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: labels must be canonical values 0-5, got "
            f"{values.tolist()}; "
            "read label files with cardiopredict.cmr.read_label_map, which maps named conventions"
        )
    return labels.astype(np.uint8, copy=False)


def _check_spacing(value: Any, patient_id: str) -> tuple[float, float]:
    try:
        spacing = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        spacing = ()
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise SpacingError(
            f"LGEStudy {patient_id!r}: pixel_spacing_mm must be two positive numbers (row_mm, col_mm), "
            f"got {value!r}; pass pixel_spacing_mm=(row_mm, col_mm) to the reader when the file lacks it"
        )
    return (spacing[0], spacing[1])


def _per_slice(values: Any, n: int, name: str, patient_id: str) -> list[Any]:
    values = list(values) if values is not None else []
    if not values:
        return [None] * n
    if len(values) != n:
        raise LGEFormatError(
            f"LGEStudy {patient_id!r}: {name} has {len(values)} entries for {n} slices; give one per slice "
            "(None where a slice has none)"
        )
    return values


def check_contour(contour: Any, shape: tuple[int, int], *, where: str = "contour") -> np.ndarray:
    """Validate a closed polygon of ``(row, col)`` pixel coordinates and return it as float64 ``(k, 2)``.

    Consecutive duplicate vertices and a repeated closing vertex are dropped.

    Raises
    ------
    ContourError
        Not ``(k, 2)``, fewer than 3 distinct vertices, non-finite values, or a vertex more than half a
        pixel outside the image ``shape``.
    """
    arr = np.asarray(contour, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ContourError(f"{where}: a contour must have shape (k, 2) of (row, col), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ContourError(f"{where}: contour has non-finite coordinates (NaN/inf); redraw or drop it")
    if len(arr) > 1:
        keep = np.ones(len(arr), dtype=bool)
        keep[1:] = np.any(np.diff(arr, axis=0) != 0, axis=1)
        arr = arr[keep]
        if len(arr) > 1 and np.array_equal(arr[0], arr[-1]):
            arr = arr[:-1]
    if len(arr) < 3:
        raise ContourError(f"{where}: a contour needs at least 3 distinct vertices, got {len(arr)}")
    H, W = shape
    lo = -_EDGE_TOLERANCE_PX
    outside = (arr[:, 0] < lo) | (arr[:, 0] > H - 1 + _EDGE_TOLERANCE_PX) | (arr[:, 1] < lo)
    outside |= arr[:, 1] > W - 1 + _EDGE_TOLERANCE_PX
    if outside.any():
        first = arr[np.argmax(outside)]
        raise ContourError(
            f"{where}: {int(outside.sum())} of {len(arr)} vertices lie outside the {H}x{W} image, e.g. "
            f"(row, col)=({first[0]:.1f}, {first[1]:.1f}); check the coordinate order (row, col) and "
            "that the contour belongs to this image"
        )
    return arr


def _check_point(point: Any, shape: tuple[int, int], patient_id: str, k: int) -> np.ndarray:
    arr = np.asarray(point, dtype=np.float64).reshape(-1)
    H, W = shape
    if arr.shape != (2,) or not np.isfinite(arr).all():
        raise ContourError(
            f"LGEStudy {patient_id!r} insertion point slice {k}: must be 2 finite numbers (row, col), "
            f"got {point!r}"
        )
    if not (-0.5 <= arr[0] <= H - 0.5 and -0.5 <= arr[1] <= W - 0.5):
        raise ContourError(
            f"LGEStudy {patient_id!r} insertion point slice {k}: (row, col)=({arr[0]:.1f}, {arr[1]:.1f}) "
            f"lies outside the {H}x{W} image"
        )
    return arr
