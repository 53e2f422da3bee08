"""Short-axis slice geometry: contours <-> masks, LV centre, RV insertion point, rotation, resampling, crop.

Coordinates are ``(row, col)`` pixel coordinates, the centre of pixel ``image[r, c]`` being at ``(r, c)``;
rows grow downwards as the image is displayed. Angles are in degrees, counter-clockwise as displayed
(x to the right, y up), 0 at 3 o'clock; 6 o'clock is -90 degrees. All functions work on one 2-D slice.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage

from cardiopredict.cmr.study import check_contour
from cardiopredict.errors import ContourError, EmptyMyocardiumError, GeometryError, InsertionPointError

#: Default in-plane spacing after resampling, mm. 128 px x 1.25 mm = 160 mm field of view: it holds a
#: dilated LV (end-diastolic diameter up to ~80 mm plus ~2 x 15 mm wall) with room for the RV junction,
#: and 1.25 mm is close to the acquired LGE resolution (1.2-1.8 mm), so little information is lost.
DEFAULT_TARGET_SPACING_MM = 1.25

#: Default crop size, pixels (the paper's 128x128 inputs).
DEFAULT_CROP_SIZE = 128

# Endocardial pixels allowed outside the epicardium before an endo contour is called "outside": hand-drawn
# contours of a thin wall may cross by a pixel or two.
_ENDO_OUTSIDE_TOLERANCE = 0.02


# --- contours <-> masks ------------------------------------------------------------------------
def _segments_intersect(contour: np.ndarray) -> tuple[int, int] | None:
    """First pair ``(i, j)`` of non-adjacent edges of the closed polygon that properly cross, or None.

    Edge ``i`` joins vertex ``i`` to ``i + 1``. Only pairs whose bounding boxes overlap are tested (a sweep
    over the edges sorted by their smallest column), so a few hundred vertices take well under 1 ms.
    """
    p = contour
    q = np.roll(contour, -1, axis=0)
    k = len(p)
    if k < 4:
        return None
    cmin, cmax = np.minimum(p[:, 1], q[:, 1]), np.maximum(p[:, 1], q[:, 1])
    order = np.argsort(cmin, kind="stable")
    start = np.arange(k) + 1
    n = np.maximum(np.searchsorted(cmin[order], cmax[order], side="right") - start, 0)
    total = int(n.sum())
    if total == 0:
        return None
    within = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    i = order[np.repeat(np.arange(k), n)]
    j = order[np.repeat(start, n) + within]
    gap = np.abs(i - j)
    keep = (gap > 1) & (gap != k - 1)
    keep &= np.minimum(p[i, 0], q[i, 0]) <= np.maximum(p[j, 0], q[j, 0])
    keep &= np.minimum(p[j, 0], q[j, 0]) <= np.maximum(p[i, 0], q[i, 0])
    i, j = i[keep], j[keep]

    def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]

    di, dj = q[i] - p[i], q[j] - p[j]
    straddle_i = cross(di, p[j] - p[i]) * cross(di, q[j] - p[i]) < 0
    straddle_j = cross(dj, p[i] - p[j]) * cross(dj, q[i] - p[j]) < 0
    hit = np.flatnonzero(straddle_i & straddle_j)
    if hit.size:
        a, b = sorted((int(i[hit[0]]), int(j[hit[0]])))
        return a, b
    return None


def _fill_polygon(contour: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Even-odd scan-line fill: True where the pixel centre lies inside the polygon.

    Same pixels as ``skimage.draw.polygon`` (checked in the tests), several times faster: each edge
    crossing of a pixel-centre row adds one to the first pixel right of it, and the parity of a running sum
    along the row marks the inside. Only the polygon's bounding box is touched.
    """
    H, W = shape
    mask = np.zeros(shape, dtype=bool)
    r0, c0 = contour[:, 0], contour[:, 1]
    r1, c1 = np.roll(r0, -1), np.roll(c0, -1)
    rmin, rmax = max(int(np.ceil(r0.min())), 0), min(int(np.floor(r0.max())), H - 1)
    cmin, cmax = max(int(np.ceil(c0.min())), 0), min(int(np.floor(c0.max())), W - 1)
    if rmax < rmin or cmax < cmin:
        return mask
    rows = np.arange(rmin, rmax + 1, dtype=np.float64)
    lo, hi = np.minimum(r0, r1), np.maximum(r0, r1)
    edge, row = np.nonzero((lo[:, None] <= rows[None, :]) & (rows[None, :] < hi[:, None]))
    t = (rows[row] - r0[edge]) / (r1[edge] - r0[edge])
    col = c0[edge] + t * (c1[edge] - c0[edge])
    width = cmax - cmin + 1
    first_right = np.clip(np.floor(col).astype(np.int64) + 1 - cmin, 0, width)
    counts = np.zeros((rows.size, width + 1), dtype=np.int32)
    np.add.at(counts, (row, first_right), 1)
    mask[rmin : rmax + 1, cmin : cmax + 1] = (np.cumsum(counts[:, :width], axis=1) & 1).astype(bool)
    return mask


def polygon_to_mask(
    contour: np.ndarray, shape: tuple[int, int], *, check_self_intersection: bool = True
) -> np.ndarray:
    """Rasterise a closed contour: pixels whose centres lie inside the polygon.

    Parameters
    ----------
    contour : ndarray of shape (k, 2)
        Closed polygon, ``(row, col)`` pixel coordinates (the last vertex joins the first).
    shape : (H, W)
        Output image shape, pixels.
    check_self_intersection : bool
        Reject polygons whose edges cross.

    Returns
    -------
    ndarray of shape (H, W), bool

    Raises
    ------
    ContourError
        Fewer than 3 vertices, non-finite or outside the image, self-intersecting, or enclosing no pixel.
    """
    contour = check_contour(contour, shape)
    if check_self_intersection:
        hit = _segments_intersect(contour)
        if hit is not None:
            i, j = hit
            raise ContourError(
                f"contour is self-intersecting: edge {i} (from {contour[i].round(1).tolist()}) crosses edge "
                f"{j} (from {contour[j].round(1).tolist()}); redraw it as a simple closed polygon"
            )
    mask = _fill_polygon(contour, shape)
    if not mask.any():
        raise ContourError(
            f"contour of {len(contour)} vertices around (row, col)={contour.mean(axis=0).round(1).tolist()} "
            "encloses no pixel centre; it is degenerate"
        )
    return mask


def mask_to_contour(mask: np.ndarray) -> np.ndarray:
    """Outline of the largest connected region of a mask, as a closed polygon.

    The outline is the 0.5 iso-line between pixel centres, so ``polygon_to_mask(mask_to_contour(m))``
    gives back ``m`` for a simply connected region (holes are not described).

    Parameters
    ----------
    mask : ndarray of shape (H, W), bool

    Returns
    -------
    ndarray of shape (k, 2), float64
        ``(row, col)`` vertices, the closing vertex not repeated.

    Raises
    ------
    GeometryError
        Empty mask.
    """
    from skimage.measure import find_contours

    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise GeometryError(f"mask_to_contour needs a 2-D mask, got shape {mask.shape}")
    if not mask.any():
        raise GeometryError("mask_to_contour: the mask is empty, there is no outline")
    labelled, n = ndimage.label(mask)
    if n > 1:
        sizes = ndimage.sum_labels(mask, labelled, index=np.arange(1, n + 1))
        mask = labelled == (1 + int(np.argmax(sizes)))
    rows, cols = np.nonzero(mask)
    r0, c0 = max(rows.min() - 1, 0), max(cols.min() - 1, 0)
    # Pad by one pixel so that regions touching the border still give a closed outline.
    sub = np.pad(mask[r0 : rows.max() + 2, c0 : cols.max() + 2], 1).astype(np.float32)
    contours = find_contours(sub, 0.5)
    outline = max(contours, key=len)
    outline = outline[:-1] if np.array_equal(outline[0], outline[-1]) else outline
    outline = outline + np.array([r0 - 1, c0 - 1], dtype=np.float64)
    H, W = mask.shape
    outline[:, 0] = np.clip(outline[:, 0], -0.5, H - 0.5)
    outline[:, 1] = np.clip(outline[:, 1], -0.5, W - 0.5)
    return outline


def myocardium_mask(epi: np.ndarray, endo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Myocardium = inside the epicardium and not inside the endocardium.

    Parameters
    ----------
    epi, endo : ndarray of shape (k, 2)
        Epicardial and endocardial contours, ``(row, col)`` pixel coordinates.
    shape : (H, W)

    Returns
    -------
    ndarray of shape (H, W), bool

    Raises
    ------
    ContourError
        A bad contour, or the endocardium lies outside the epicardium (more than 2% of its area).
    EmptyMyocardiumError
        No pixel between the two contours.
    """
    try:
        epi_mask = polygon_to_mask(epi, shape)
    except ContourError as exc:
        raise ContourError(f"epicardium: {exc}") from exc
    try:
        endo_mask = polygon_to_mask(endo, shape)
    except ContourError as exc:
        raise ContourError(f"endocardium: {exc}") from exc
    outside = int((endo_mask & ~epi_mask).sum())
    if outside > max(2, _ENDO_OUTSIDE_TOLERANCE * endo_mask.sum()):
        raise ContourError(
            f"endocardium is not inside the epicardium: {outside} of {int(endo_mask.sum())} endocardial "
            "pixels lie outside it; check that the contours are not swapped and belong to the same slice"
        )
    myo = epi_mask & ~endo_mask
    if not myo.any():
        raise EmptyMyocardiumError(
            "empty myocardium: the epicardial and endocardial contours enclose the same pixels"
        )
    return myo


# --- LV centre and insertion point ---------------------------------------------------------------
def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(r0, r1, c0, c1)`` half-open bounding box of a non-empty 2-D mask (faster than np.nonzero)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def lv_centre(mask: np.ndarray) -> np.ndarray:
    """Centroid of a mask, ``(row, col)`` float64.

    Give the endocardial (blood-pool) mask, or the myocardium: holes are filled first, so a ring gives the
    centroid of the region inside the epicardium.

    Raises
    ------
    EmptyMyocardiumError
        Empty mask.
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2:
        raise GeometryError(f"lv_centre needs a 2-D mask, got shape {mask.shape}")
    if not mask.any():
        raise EmptyMyocardiumError("lv_centre: the mask is empty; there is no LV on this slice")
    r0, r1, c0, c1 = _bbox(mask)
    sub = np.pad(mask[r0:r1, c0:c1], 1)
    # Fill holes: background components not connected to the padded border are inside the mask.
    background, _ = ndimage.label(~sub)
    filled = background != background[0, 0]
    rr, cc = np.nonzero(filled)
    return np.array([rr.mean() + r0 - 1, cc.mean() + c0 - 1], dtype=np.float64)


def point_angle_deg(centre: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Angle of ``point`` seen from ``centre``, degrees in (-180, 180], counter-clockwise as displayed
    (0 = 3 o'clock, 90 = 12 o'clock, -90 = 6 o'clock). ``point`` may be ``(2,)`` or ``(k, 2)``."""
    d = np.asarray(point, dtype=np.float64) - np.asarray(centre, dtype=np.float64)
    return np.degrees(np.arctan2(-d[..., 0], d[..., 1]))


def insertion_point_from_rv(
    myo_mask: np.ndarray,
    rv_mask: np.ndarray,
    *,
    which: Literal["inferior", "anterior"] = "inferior",
    max_distance_px: float = 3.0,
) -> np.ndarray:
    """RV insertion point derived from an RV blood-pool label.

    The junction is the set of myocardium pixels within ``max_distance_px`` of the RV blood pool. Seen from
    the LV centre (:func:`lv_centre` of ``myo_mask``) it spans an arc; its two ends are the two insertion
    points, found as the borders of the largest angular gap between junction pixels. Walking along the arc
    counter-clockwise as displayed, ``which="inferior"`` is the end reached last and ``"anterior"`` the end
    it starts from. In the standard short-axis display (anterior wall up, RV on the viewer's left), which
    the readers produce when the file's orientation is known, the RV arc runs counter-clockwise from the
    anterior junction (about 11 o'clock) through 9 o'clock to the inferior junction (about 7 o'clock). The
    rule only needs an image that is not mirrored; a rotated view gives the same anatomical point.

    Parameters
    ----------
    myo_mask, rv_mask : ndarray of shape (H, W), bool
    which : {"inferior", "anterior"}
    max_distance_px : float
        Distance (pixels) from the RV within which a myocardium pixel counts as junction.

    Returns
    -------
    ndarray of shape (2,)
        ``(row, col)`` of the junction pixel at that end of the arc.

    Raises
    ------
    EmptyMyocardiumError
        Empty myocardium.
    InsertionPointError
        No RV, the RV does not touch the myocardium, or the junction surrounds the LV (no clear ends).
    """
    if which not in ("inferior", "anterior"):
        raise ValueError(f"which must be 'inferior' or 'anterior', got {which!r}")
    myo = np.asarray(myo_mask, dtype=bool)
    rv = np.asarray(rv_mask, dtype=bool)
    if myo.shape != rv.shape or myo.ndim != 2:
        raise GeometryError(f"myo_mask {myo.shape} and rv_mask {rv.shape} must be 2-D and of the same shape")
    centre = lv_centre(myo)
    if not rv.any():
        raise InsertionPointError(
            "no RV label on this slice and no insertion point given; give insertion points (contour file) "
            "or a label map with the RV blood pool"
        )
    # Work in the bounding box of the myocardium grown by the search distance: fast on large images.
    margin = int(np.ceil(max_distance_px)) + 1
    r0, r1, c0, c1 = _bbox(myo)
    r0, c0, r1, c1 = max(r0 - margin, 0), max(c0 - margin, 0), r1 + margin, c1 + margin
    rv_sub, myo_sub = rv[r0:r1, c0:c1], myo[r0:r1, c0:c1]
    if not rv_sub.any():
        raise InsertionPointError(
            f"the RV label does not come within {max_distance_px} px of the myocardium on this slice; "
            "no insertion point can be derived (give it explicitly)"
        )
    distance = ndimage.distance_transform_edt(~rv_sub)
    jr, jc = np.nonzero(myo_sub & (distance <= max_distance_px))
    if jr.size < 2:
        raise InsertionPointError(
            f"the RV label does not come within {max_distance_px} px of the myocardium on this slice; "
            "no insertion point can be derived (give it explicitly)"
        )
    junction = np.column_stack([jr + r0, jc + c0]).astype(np.float64)
    angles = point_angle_deg(centre, junction)
    order = np.argsort(angles)
    sorted_angles = angles[order]
    gaps = np.diff(np.concatenate([sorted_angles, sorted_angles[:1] + 360.0]))
    g = int(np.argmax(gaps))
    if gaps[g] < 30.0:
        raise InsertionPointError(
            f"the RV-myocardium junction surrounds the LV (largest angular gap {gaps[g]:.0f} deg); the "
            "insertion points are ambiguous on this slice - give them explicitly"
        )
    # The arc runs counter-clockwise from the pixel after the gap (anterior end) to the one before it.
    anterior = junction[order[(g + 1) % len(order)]]
    inferior = junction[order[g]]
    return (inferior if which == "inferior" else anterior).copy()


def rotation_angle_deg(centre: np.ndarray, insertion_point: np.ndarray) -> float:
    """Counter-clockwise rotation (degrees, in (-180, 180]) about ``centre`` that puts ``insertion_point``
    straight below the centre (6 o'clock). Pass it to :func:`rotate_about`.

    Raises
    ------
    GeometryError
        Non-finite input, or the insertion point coincides with the centre (no direction).
    """
    centre = np.asarray(centre, dtype=np.float64).reshape(-1)
    point = np.asarray(insertion_point, dtype=np.float64).reshape(-1)
    finite = np.isfinite(centre).all() and np.isfinite(point).all()
    if centre.shape != (2,) or point.shape != (2,) or not finite:
        raise GeometryError(
            f"rotation_angle_deg needs finite (row, col) pairs, got centre={centre!r}, point={point!r}"
        )
    if np.hypot(*(point - centre)) < 1e-6:
        raise GeometryError(
            f"insertion point {point.tolist()} coincides with the LV centre; the rotation is undefined"
        )
    angle = -90.0 - float(point_angle_deg(centre, point))
    angle = (angle + 180.0) % 360.0 - 180.0
    return 180.0 if angle == -180.0 else angle


def _rotation_matrix(angle_deg: float) -> np.ndarray:
    """Forward rotation acting on ``(d_row, d_col)`` offsets: counter-clockwise as displayed."""
    a = np.radians(angle_deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def rotate_points(points: np.ndarray, centre: np.ndarray, angle_deg: float) -> np.ndarray:
    """Where ``points`` (``(2,)`` or ``(k, 2)``, row/col) land after
    ``rotate_about(image, centre, angle_deg)``."""
    pts = np.asarray(points, dtype=np.float64)
    c = np.asarray(centre, dtype=np.float64)
    return (pts - c) @ _rotation_matrix(angle_deg).T + c


def rotate_about(
    image: np.ndarray, centre: np.ndarray, angle_deg: float, *, order: int | None = None, cval: float = 0.0
) -> np.ndarray:
    """Rotate a 2-D image counter-clockwise (as displayed) by ``angle_deg`` about ``centre``.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    centre : (row, col), pixels
    angle_deg : float
        From :func:`rotation_angle_deg` to put the insertion point at 6 o'clock.
    order : int, optional
        Spline order: 0 (nearest; masks and labels) or 1 (bilinear; images). Default: 0 for bool and
        integer arrays, 1 otherwise.
    cval : float
        Value outside the input.

    Returns
    -------
    ndarray of shape (H, W), same dtype as ``image``
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise GeometryError(f"rotate_about works on one 2-D slice, got shape {image.shape}")
    if not np.isfinite(angle_deg):
        raise GeometryError(f"rotation angle must be finite, got {angle_deg!r}")
    discrete = image.dtype == bool or np.issubdtype(image.dtype, np.integer)
    if order is None:
        order = 0 if discrete else 1
    c = np.asarray(centre, dtype=np.float64).reshape(2)
    inverse = _rotation_matrix(angle_deg).T
    offset = c - inverse @ c
    source = image.astype(np.float32) if image.dtype == bool else image
    out = ndimage.affine_transform(source, inverse, offset=offset, order=order, mode="constant", cval=cval)
    return out.astype(image.dtype, copy=False) if image.dtype == bool else out


# --- resampling and cropping ---------------------------------------------------------------------
def resampled_shape(
    shape: tuple[int, int], spacing_mm: tuple[float, float], target_mm: float
) -> tuple[int, int]:
    """Shape after :func:`resample_to_spacing` (the field of view kept, rounded to whole pixels)."""
    return (
        max(1, round(shape[0] * spacing_mm[0] / target_mm)),
        max(1, round(shape[1] * spacing_mm[1] / target_mm)),
    )


def resample_points(points: np.ndarray, spacing_mm: tuple[float, float], target_mm: float) -> np.ndarray:
    """Where ``(row, col)`` points land after :func:`resample_to_spacing` (pixel edges are kept aligned)."""
    scale = np.asarray(spacing_mm, dtype=np.float64) / float(target_mm)
    return (np.asarray(points, dtype=np.float64) + 0.5) * scale - 0.5


def resample_to_spacing(
    image: np.ndarray,
    spacing_mm: tuple[float, float],
    target_mm: float = DEFAULT_TARGET_SPACING_MM,
    *,
    order: int | None = None,
) -> np.ndarray:
    """Resample a 2-D slice to square pixels of ``target_mm``.

    The outer pixel edges stay in place: pixel centre ``r`` maps to ``(r + 0.5) * spacing / target - 0.5``
    (see :func:`resample_points`), and the output shape is :func:`resampled_shape`.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    spacing_mm : (row_mm, col_mm)
    target_mm : float
        Output pixel size, mm (default :data:`DEFAULT_TARGET_SPACING_MM`).
    order : int, optional
        0 for masks/labels, 1 for images; default 0 for bool/integer arrays, 1 otherwise.

    Returns
    -------
    ndarray, same dtype as ``image``
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise GeometryError(f"resample_to_spacing works on one 2-D slice, got shape {image.shape}")
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise GeometryError(f"spacing_mm must be two positive numbers, got {spacing_mm!r}")
    if not (np.isfinite(target_mm) and target_mm > 0):
        raise GeometryError(f"target_mm must be a positive number, got {target_mm!r}")
    discrete = image.dtype == bool or np.issubdtype(image.dtype, np.integer)
    if order is None:
        order = 0 if discrete else 1
    out_shape = resampled_shape(image.shape, spacing, target_mm)
    step = np.array([target_mm / spacing[0], target_mm / spacing[1]])
    # input coordinate = (out + 0.5) * step - 0.5
    offset = 0.5 * step - 0.5
    source = image.astype(np.float32) if image.dtype == bool else image
    out = ndimage.affine_transform(
        source, step, offset=offset, output_shape=out_shape, order=order, mode="nearest"
    )
    return out.astype(image.dtype, copy=False) if image.dtype == bool else out


def crop_origin(centre: np.ndarray, size: int = DEFAULT_CROP_SIZE) -> np.ndarray:
    """Top-left ``(row, col)`` (integers, may be negative) of :func:`crop_centred`'s window: a point ``p``
    of the image lands at ``p - crop_origin(centre, size)`` in the crop."""
    c = np.asarray(centre, dtype=np.float64).reshape(2)
    if not np.isfinite(c).all():
        raise GeometryError(f"crop centre must be finite, got {c.tolist()}")
    return np.round(c).astype(int) - size // 2


def crop_centred(
    image: np.ndarray, centre: np.ndarray, size: int = DEFAULT_CROP_SIZE, *, fill: float = 0.0
) -> np.ndarray:
    """Crop ``size x size`` pixels with the pixel nearest ``centre`` at index ``(size // 2, size // 2)``.

    Parts of the window outside the image are filled with ``fill``.

    Parameters
    ----------
    image : ndarray of shape (..., H, W)
    centre : (row, col), pixels
    size : int
    fill : float

    Returns
    -------
    ndarray of shape (..., size, size), same dtype as ``image``
    """
    image = np.asarray(image)
    if image.ndim < 2:
        raise GeometryError(f"crop_centred needs an image of shape (..., H, W), got {image.shape}")
    if size < 1:
        raise GeometryError(f"crop size must be >= 1, got {size}")
    r0, c0 = crop_origin(centre, size)
    H, W = image.shape[-2:]
    out = np.full((*image.shape[:-2], size, size), fill, dtype=image.dtype)
    sr0, sr1 = max(r0, 0), min(r0 + size, H)
    sc0, sc1 = max(c0, 0), min(c0 + size, W)
    if sr0 < sr1 and sc0 < sc1:
        out[..., sr0 - r0 : sr1 - r0, sc0 - c0 : sc1 - c0] = image[..., sr0:sr1, sc0:sc1]
    return out


def _oriented_crop_transform(
    centre: np.ndarray, angle_deg: float, spacing_mm: tuple[float, float], target_mm: float, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Matrix and offset mapping crop pixel ``o`` to input pixel ``i = c + S R^T (o - h)``."""
    step = np.diag([target_mm / float(spacing_mm[0]), target_mm / float(spacing_mm[1])])
    matrix = step @ _rotation_matrix(angle_deg).T
    half = np.full(2, size // 2, dtype=np.float64)
    return matrix, np.asarray(centre, dtype=np.float64).reshape(2) - matrix @ half


def oriented_crop(
    image: np.ndarray,
    centre: np.ndarray,
    angle_deg: float,
    *,
    spacing_mm: tuple[float, float],
    target_mm: float = DEFAULT_TARGET_SPACING_MM,
    size: int = DEFAULT_CROP_SIZE,
    order: int | None = None,
    cval: float = 0.0,
) -> np.ndarray:
    """Resample, rotate and crop in one interpolation: the fast path of the preprocessing.

    Equivalent to ``crop_centred(rotate_about(resample_to_spacing(image, spacing_mm, target_mm), c', a),
    c', size)`` with ``c' = resample_points(centre, ...)``, except that ``centre`` lands exactly (not
    rounded) on crop pixel ``(size // 2, size // 2)`` and only the ``size x size`` output is computed
    (about 10x faster on a 480x480 slice). The rotation is done in millimetres, so it stays a rotation
    when the input pixels are not square.

    Parameters
    ----------
    image : ndarray of shape (H, W)
    centre : (row, col) of the LV centre, input pixels
    angle_deg : float
        Counter-clockwise rotation, e.g. :func:`rotation_angle_deg`.
    spacing_mm : (row_mm, col_mm)
        Input pixel spacing.
    target_mm : float
        Output pixel size.
    size : int
    order : int, optional
        0 for masks/labels, 1 for images; default 0 for bool/integer arrays, 1 otherwise.
    cval : float
        Value outside the input.

    Returns
    -------
    ndarray of shape (size, size), same dtype as ``image``
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise GeometryError(f"oriented_crop works on one 2-D slice, got shape {image.shape}")
    spacing = tuple(float(s) for s in spacing_mm)
    if len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise GeometryError(f"spacing_mm must be two positive numbers, got {spacing_mm!r}")
    if not (np.isfinite(target_mm) and target_mm > 0) or not np.isfinite(angle_deg):
        raise GeometryError(f"target_mm must be positive and angle finite, got {target_mm!r}, {angle_deg!r}")
    c = np.asarray(centre, dtype=np.float64).reshape(2)
    if not np.isfinite(c).all():
        raise GeometryError(f"crop centre must be finite, got {c.tolist()}")
    discrete = image.dtype == bool or np.issubdtype(image.dtype, np.integer)
    if order is None:
        order = 0 if discrete else 1
    matrix, offset = _oriented_crop_transform(c, angle_deg, spacing, target_mm, size)  # type: ignore[arg-type]
    source = image.astype(np.float32) if image.dtype == bool else image
    out = ndimage.affine_transform(
        source, matrix, offset=offset, output_shape=(size, size), order=order, mode="constant", cval=cval
    )
    return out.astype(image.dtype, copy=False) if image.dtype == bool else out


def oriented_points(
    points: np.ndarray,
    centre: np.ndarray,
    angle_deg: float,
    *,
    spacing_mm: tuple[float, float],
    target_mm: float = DEFAULT_TARGET_SPACING_MM,
    size: int = DEFAULT_CROP_SIZE,
) -> np.ndarray:
    """Where input ``(row, col)`` points land in :func:`oriented_crop`'s output."""
    matrix, offset = _oriented_crop_transform(centre, angle_deg, spacing_mm, target_mm, size)
    return (np.asarray(points, dtype=np.float64) - offset) @ np.linalg.inv(matrix).T


def oriented_uncrop(
    crop: np.ndarray,
    centre: np.ndarray,
    angle_deg: float,
    *,
    shape: tuple[int, int],
    spacing_mm: tuple[float, float],
    target_mm: float = DEFAULT_TARGET_SPACING_MM,
    order: int = 1,
) -> np.ndarray:
    """Map an :func:`oriented_crop` output back onto the source grid (the inverse of the same affine).

    Parameters
    ----------
    crop : float ndarray of shape (size, size)
        Values on the oriented crop (e.g. a network's scar probability).
    centre, angle_deg, spacing_mm, target_mm
        As given to :func:`oriented_crop`.
    shape : (H, W)
        The source slice's shape.
    order : int
        Spline order (1 bilinear).

    Returns
    -------
    float ndarray of shape (H, W)
        0 where the source pixel lies outside the crop.
    """
    crop = np.asarray(crop, dtype=np.float32)
    if crop.ndim != 2 or crop.shape[0] != crop.shape[1]:
        raise GeometryError(f"oriented_uncrop needs a square 2-D crop, got shape {crop.shape}")
    matrix, offset = _oriented_crop_transform(centre, angle_deg, spacing_mm, target_mm, crop.shape[0])
    inverse = np.linalg.inv(matrix)
    return ndimage.affine_transform(
        crop, inverse, offset=-inverse @ offset, output_shape=tuple(shape), order=order, mode="constant"
    )
