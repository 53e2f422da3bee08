"""Scar segmentation on LGE short-axis slices: n-SD, FWHM, gray zone, provided labels, pluggable models.

Every method works on one slice or a stack of slices and only ever marks pixels inside the myocardium mask.
Thresholds are computed per slice, because LGE signal (coil sensitivity, inversion time) drifts between
slices.

Methods
-------
``"nsd"`` (n standard deviations above remote myocardium)
    The remote (healthy) region is chosen automatically: the myocardium is split into six equal angular
    sectors about its centroid (like the six AHA segments of a basal or mid slice) and the sector with the
    lowest *median* intensity is taken as remote (sectors with fewer than ``MIN_REMOTE_PIXELS`` pixels
    are skipped). Scar = myocardium pixels brighter than ``mean_remote + n_sd * sd_remote``. The common
    conventions are n = 2, 3, 5 and 6 (Flett et al., JACC Cardiovasc Imaging 2011; 5 SD agrees best
    with the manual reference there).
``"fwhm"`` (full width at half maximum)
    The maximum is the 99th percentile of the myocardial intensity (robust to a single hot pixel; the
    "brightest region" seed of the manual method). Scar = myocardium pixels >= 50 % of it, kept only in
    connected components that contain a seed: a connected region of at least the cleanup size whose
    pixels are all brighter than ``mean_remote + 3 SD`` (the same remote region as ``"nsd"``). With no
    seed the slice has no scar: FWHM alone would call half of a healthy myocardium scar.
    ``fwhm_baseline="zero"`` (default) is the classic rule (Amado et al., JACC 2004): threshold = 50 % of
    the maximum. ``"remote"`` measures the half maximum above the remote mean,
    ``remote + 0.5 (max - remote)``, for images whose nulled myocardium is far from zero (e.g. EMIDEC,
    where remote myocardium sits at ~80 % of the maximum and the classic rule calls nearly all of it
    scar).
``"hysteresis"`` (FWHM-style hysteresis with morphological regularisation)
    Two fractions of the same maximum as ``"fwhm"`` (99th percentile of the myocardium): seeds are
    regions of at least the FWHM seed size whose pixels are all >= ``HYSTERESIS_FRACTIONS[0]`` (80 %) of
    the maximum *and* above ``mean_remote + 3 SD``; scar is every myocardium pixel >=
    ``HYSTERESIS_FRACTIONS[1]`` (45 %) of the maximum connected to a seed (hysteresis thresholding, as
    in Canny edge detection). The result is then opened with a disk of radius ``OPENING_RADIUS_MM``
    (1.5 mm; 2 pixels at 0.73 mm), which removes one- and two-pixel-thin bright rims (partial volume with
    the blood pool at the endocardial border, epicardial fat at the epicardial border) and speckle, and
    components smaller than ``HYSTERESIS_MIN_COMPONENT_MM2`` (40 mm²) are dropped. Rationale: a scar
    has a bright core and a dimmer border; a single FWHM threshold either cuts the border (too high) or
    lets thin partial-volume rims and noise in (too low). ``fwhm_baseline="remote"`` measures both
    fractions above the remote mean instead of above zero. The three numbers were chosen on the
    odd-numbered MyoPS cases only and checked on the even-numbered ones (docs/BENCHMARKS.md).
``"labels"``
    A provided canonical label map: 3 (infarct) and 4 (no-reflow/MVO) are scar.

Gray zone (peri-infarct heterogeneous tissue), always reported beside the scar and never overlapping it:
    * ``"sd"``: between 2 and 3 SD above remote (Yan et al., Circulation 2006;114:32-39), for ``"nsd"``;
    * ``"fwhm"``: 35-50 % of the maximum (Roes et al., Circ Cardiovasc Imaging 2009;2:183-190), for
      ``"fwhm"``, ``"hysteresis"`` and ``"labels"``.

Small-component cleanup: 4-connected scar components smaller than ``min_component_mm2`` (default 5 mm²,
about 9 pixels at 0.75 mm or 3 pixels at 1.25 mm; 40 mm² for ``"hysteresis"``) are removed.

A learned segmenter (the paper used a pretrained Swin-UNet) plugs in through :class:`ScarSegmenter`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from scipy import ndimage

from cardiopredict.errors import InputError

ScarMethod = Literal["nsd", "fwhm", "hysteresis", "labels"]
GrayZoneRule = Literal["sd", "fwhm"]
FWHMBaseline = Literal["zero", "remote"]

SCAR_LABELS = (3, 4)
"""Canonical label values counted as scar: 3 infarct, 4 no-reflow / microvascular obstruction."""
MYOCARDIUM_DENSITY_G_PER_ML = 1.05
N_SECTORS = 6
MIN_REMOTE_PIXELS = 10
FWHM_PERCENTILE = 99.0
GRAY_ZONE_SD = (2.0, 3.0)
FWHM_SEED_SD = 3.0
GRAY_ZONE_FWHM = (0.35, 0.50)
DEFAULT_MIN_COMPONENT_MM2 = 5.0
HYSTERESIS_FRACTIONS = (0.80, 0.45)
"""(seed, grow) fractions of the maximum for ``"hysteresis"`` (chosen on odd-numbered MyoPS cases)."""
OPENING_RADIUS_MM = 1.5
HYSTERESIS_MIN_COMPONENT_MM2 = 40.0


@dataclass(frozen=True)
class ScarResult:
    """The outcome of a scar segmentation.

    Parameters
    ----------
    mask : bool ndarray of shape (H, W) or (n_slices, H, W)
        Scar, always inside the myocardium mask.
    gray_zone : bool ndarray, same shape
        Peri-infarct gray zone (never overlapping ``mask``).
    remote_mask : bool ndarray, same shape, or None
        The remote myocardium the thresholds were computed from (None for ``"labels"`` or models).
    thresholds : float ndarray of shape (n_slices,)
        The scar intensity threshold per slice (for ``"hysteresis"`` the lower, grow threshold; NaN where
        none was computed).
    method : str
        ``"nsd"``, ``"fwhm"``, ``"hysteresis"``, ``"labels"`` or a model's name.
    params : dict
        The options used (n_sd, gray-zone rule, cleanup size ...).
    """

    mask: np.ndarray
    gray_zone: np.ndarray
    remote_mask: np.ndarray | None
    thresholds: np.ndarray
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ScarSegmenter(Protocol):
    """Anything that segments scar in one LGE slice stack (e.g. a wrapped Swin-UNet).

    ``__call__(images, myo_mask, *, pixel_spacing_mm) -> ScarResult`` with ``images`` float
    (n_slices, H, W), ``myo_mask`` bool of the same shape and ``pixel_spacing_mm`` (row, col) in mm. The
    result's mask must lie inside ``myo_mask`` (:func:`segment_scar` enforces it).
    """

    name: str

    def __call__(
        self, images: np.ndarray, myo_mask: np.ndarray, *, pixel_spacing_mm: tuple[float, float]
    ) -> ScarResult: ...


def segment_scar(
    image: np.ndarray,
    myo_mask: np.ndarray,
    *,
    method: ScarMethod | ScarSegmenter = "nsd",
    n_sd: float = 5.0,
    labels: np.ndarray | None = None,
    pixel_spacing_mm: tuple[float, float] = (1.0, 1.0),
    gray_zone: GrayZoneRule | None = None,
    min_component_mm2: float | None = None,
    fwhm_baseline: FWHMBaseline = "zero",
    hysteresis_fractions: tuple[float, float] = HYSTERESIS_FRACTIONS,
    opening_radius_mm: float = OPENING_RADIUS_MM,
) -> ScarResult:
    """Segment scar inside the myocardium of one slice or a stack of slices.

    Parameters
    ----------
    image : float ndarray of shape (H, W) or (n_slices, H, W)
        LGE intensities (any scale; thresholds are relative).
    myo_mask : bool ndarray, same shape
        Myocardium (epicardium minus endocardium), healthy and scarred.
    method : {"nsd", "fwhm", "hysteresis", "labels"} or ScarSegmenter
        See the module docstring.
    n_sd : float
        Number of remote standard deviations for ``"nsd"`` (2, 3, 5 and 6 are the usual choices).
    labels : int ndarray, same shape, optional
        Canonical label map (values 3 and 4 are scar); required for ``"labels"``.
    pixel_spacing_mm : (float, float)
        In-plane (row, col) pixel size in mm, for the small-component cleanup.
    gray_zone : {"sd", "fwhm"}, optional
        Gray-zone rule; default ``"sd"`` for ``"nsd"`` and ``"fwhm"`` otherwise.
    min_component_mm2 : float, optional
        Scar components smaller than this area (mm²) are removed; 0 keeps everything. Default 5 mm²
        (``HYSTERESIS_MIN_COMPONENT_MM2`` = 40 mm² for ``"hysteresis"``).
    fwhm_baseline : {"zero", "remote"}
        For ``"fwhm"`` and ``"hysteresis"``: fractions of the maximum (classic), or measured from the
        remote mean to the maximum.
    hysteresis_fractions : (float, float)
        For ``"hysteresis"``: (seed, grow) fractions of the maximum, seed >= grow, both in (0, 1].
    opening_radius_mm : float
        For ``"hysteresis"``: radius (mm) of the disk the scar is opened with; 0 switches it off.

    Returns
    -------
    ScarResult
        Arrays of the same shape as ``image``.

    Raises
    ------
    InputError
        Shapes differ, the image has non-finite pixels inside the myocardium, the method is unknown or
        ``labels`` is missing for ``"labels"``.
    """
    image = np.asarray(image)
    myo_mask = np.asarray(myo_mask, dtype=bool)
    single = image.ndim == 2
    if image.ndim not in (2, 3):
        raise InputError(f"segment_scar: image has shape {image.shape}; give (H, W) or (n_slices, H, W).")
    if myo_mask.shape != image.shape:
        raise InputError(
            f"segment_scar: myo_mask shape {myo_mask.shape} differs from image shape {image.shape}; "
            "give a mask on the image grid."
        )
    images = image[None] if single else image
    myo = myo_mask[None] if single else myo_mask
    if not np.isfinite(images[myo]).all():
        raise InputError(
            "segment_scar: the image has NaN or infinite pixels inside the myocardium; "
            "fix or exclude the slice before segmenting scar."
        )
    if fwhm_baseline not in ("zero", "remote"):
        raise InputError(f"segment_scar: fwhm_baseline={fwhm_baseline!r}; choose 'zero' or 'remote'.")
    if n_sd <= 0:
        raise InputError(f"segment_scar: n_sd={n_sd}; give a positive number of standard deviations.")
    high, low = (float(f) for f in hysteresis_fractions)
    if not 0 < low <= high <= 1:
        raise InputError(
            f"segment_scar: hysteresis_fractions={hysteresis_fractions}; give (seed, grow) with "
            "0 < grow <= seed <= 1, e.g. (0.8, 0.45)."
        )
    if opening_radius_mm < 0:
        raise InputError(f"segment_scar: opening_radius_mm={opening_radius_mm}; give 0 (off) or more.")
    if min_component_mm2 is None:
        min_component_mm2 = (
            HYSTERESIS_MIN_COMPONENT_MM2 if method == "hysteresis" else DEFAULT_MIN_COMPONENT_MM2
        )
    images = images.astype(np.float32, copy=False)
    params: dict[str, Any] = {"min_component_mm2": min_component_mm2}
    min_px = _min_component_pixels(min_component_mm2, pixel_spacing_mm)

    if isinstance(method, str):
        # Work inside the myocardium's bounding box: thresholds only ever look at myocardial pixels.
        full_shape = images.shape
        box = _bounding_box(myo, margin=2)
        images, myo = images[(slice(None), *box)], myo[(slice(None), *box)]
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != image.shape:
                raise InputError(
                    f"segment_scar: labels shape {labels.shape} differs from image shape {image.shape}."
                )
            labels = (labels[None] if single else labels)[(slice(None), *box)]
        if method == "nsd":
            scar, gray, remote, thresholds = _nsd(images, myo, n_sd=n_sd, gray_zone=gray_zone or "sd")
            params.update(n_sd=n_sd, gray_zone=gray_zone or "sd", remote="darkest of 6 sectors")
        elif method == "fwhm":
            scar, gray, remote, thresholds = _fwhm(
                images,
                myo,
                gray_zone=gray_zone or "fwhm",
                min_px=min_px,
                baseline_remote=fwhm_baseline == "remote",
            )
            params.update(
                gray_zone=gray_zone or "fwhm",
                max_percentile=FWHM_PERCENTILE,
                seed_sd=FWHM_SEED_SD,
                fwhm_baseline=fwhm_baseline,
            )
        elif method == "hysteresis":
            seed_px = _min_component_pixels(DEFAULT_MIN_COMPONENT_MM2, pixel_spacing_mm)
            radius_px = round(opening_radius_mm / float(np.mean(pixel_spacing_mm)))
            scar, gray, remote, thresholds = _hysteresis(
                images,
                myo,
                fractions=(high, low),
                gray_zone=gray_zone or "fwhm",
                seed_px=seed_px,
                radius_px=radius_px,
                baseline_remote=fwhm_baseline == "remote",
            )
            params.update(
                gray_zone=gray_zone or "fwhm",
                max_percentile=FWHM_PERCENTILE,
                seed_sd=FWHM_SEED_SD,
                fwhm_baseline=fwhm_baseline,
                hysteresis_fractions=(high, low),
                opening_radius_mm=opening_radius_mm,
            )
        elif method == "labels":
            if labels is None:
                raise InputError(
                    'segment_scar(method="labels") needs the label map: pass labels= (canonical values, '
                    '3 and 4 = scar), or choose method="nsd" or "fwhm".'
                )
            scar = np.isin(labels, SCAR_LABELS) & myo
            rule = gray_zone or "fwhm"
            gray = _gray_zone_from_scar(images, myo, scar, rule=rule)
            remote, thresholds = None, np.full(len(images), np.nan)
            params.update(gray_zone=rule)
        else:
            raise InputError(
                f"segment_scar: unknown method {method!r}; choose 'nsd', 'fwhm', 'hysteresis', 'labels' "
                "or pass a ScarSegmenter."
            )
        name = method
        if min_px > 1 and name != "labels":
            scar, gray = _clean(scar, gray, min_px)
        scar, gray = _paste(scar, full_shape, box), _paste(gray, full_shape, box)
        remote = None if remote is None else _paste(remote, full_shape, box)
    elif isinstance(method, ScarSegmenter):
        result = method(images, myo, pixel_spacing_mm=pixel_spacing_mm)
        scar = np.asarray(result.mask, dtype=bool).reshape(images.shape) & myo
        gray = np.asarray(result.gray_zone, dtype=bool).reshape(images.shape) & myo & ~scar
        remote, thresholds, name = result.remote_mask, np.asarray(result.thresholds), method.name
        params.update(result.params)
        if min_px > 1:
            scar, gray = _clean(scar, gray, min_px)
    else:
        raise InputError(f"segment_scar: method must be a name or a ScarSegmenter, not {type(method)!r}.")

    if single:
        scar, gray = scar[0], gray[0]
        remote = None if remote is None else np.asarray(remote)[0]
    return ScarResult(scar, gray, remote, np.asarray(thresholds, dtype=float), str(name), params)


def scar_burden(
    scar_mask: np.ndarray,
    myo_mask: np.ndarray,
    pixel_spacing_mm: tuple[float, float],
    slice_thickness_mm: float,
) -> tuple[float, float]:
    """Scar burden as a percentage of the myocardium and as a mass.

    Parameters
    ----------
    scar_mask, myo_mask : bool ndarray of shape (H, W) or (n_slices, H, W)
        Scar is counted only inside the myocardium.
    pixel_spacing_mm : (float, float)
        In-plane (row, col) pixel size, mm.
    slice_thickness_mm : float
        Slice thickness (or spacing between slices, which covers the gaps), mm.

    Returns
    -------
    percent : float
        100 x scar pixels / myocardium pixels (NaN for an empty myocardium).
    grams : float
        Scar volume x 1.05 g/ml.
    """
    scar_mask = np.asarray(scar_mask, dtype=bool)
    myo_mask = np.asarray(myo_mask, dtype=bool)
    if scar_mask.shape != myo_mask.shape:
        raise InputError(
            f"scar_burden: scar shape {scar_mask.shape} differs from myocardium {myo_mask.shape}."
        )
    if slice_thickness_mm <= 0 or min(pixel_spacing_mm) <= 0:
        raise InputError(
            f"scar_burden: spacing {pixel_spacing_mm} mm and thickness {slice_thickness_mm} mm must be > 0."
        )
    n_scar = int((scar_mask & myo_mask).sum())
    n_myo = int(myo_mask.sum())
    percent = 100.0 * n_scar / n_myo if n_myo else float("nan")
    voxel_ml = pixel_spacing_mm[0] * pixel_spacing_mm[1] * slice_thickness_mm / 1000.0
    return percent, n_scar * voxel_ml * MYOCARDIUM_DENSITY_G_PER_ML


# --- methods -----------------------------------------------------------------------------------
def remote_region(image: np.ndarray, myo_mask: np.ndarray) -> np.ndarray:
    """The remote myocardium of one slice: the darkest (lowest median) of six angular sectors.

    Parameters
    ----------
    image : float ndarray of shape (H, W)
    myo_mask : bool ndarray of shape (H, W)

    Returns
    -------
    bool ndarray of shape (H, W)
        Empty when the myocardium is empty.
    """
    rows, cols = np.nonzero(myo_mask)
    remote = np.zeros_like(myo_mask, dtype=bool)
    if rows.size == 0:
        return remote
    angle = np.arctan2(rows - rows.mean(), cols - cols.mean())
    sector = np.minimum(((angle + np.pi) / (2 * np.pi) * N_SECTORS).astype(int), N_SECTORS - 1)
    values = image[rows, cols]
    best, best_median = None, np.inf
    for k in range(N_SECTORS):
        in_sector = sector == k
        if in_sector.sum() < MIN_REMOTE_PIXELS:
            continue
        median = float(np.median(values[in_sector]))
        if median < best_median:
            best, best_median = k, median
    chosen = sector == best if best is not None else np.ones(rows.size, dtype=bool)
    remote[rows[chosen], cols[chosen]] = True
    return remote


SliceRule = Callable[[np.ndarray, np.ndarray, float, float], tuple[np.ndarray, float]]


def _segment_slices(
    images: np.ndarray,
    myo: np.ndarray,
    segment_one: SliceRule,
    *,
    gray_zone: GrayZoneRule,
    fwhm_gray_without_scar: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run a per-slice threshold rule over a stack.

    For every slice with myocardium: the remote region and its mean/SD, then ``segment_one(image, mask,
    remote_mean, remote_sd) -> (scar, threshold)``, then the gray zone outside the scar (the FWHM band
    only where the slice has scar, unless ``fwhm_gray_without_scar``).
    """
    scar = np.zeros(images.shape, dtype=bool)
    gray = np.zeros(images.shape, dtype=bool)
    remote = np.zeros(images.shape, dtype=bool)
    thresholds = np.full(len(images), np.nan)
    for k, (image, mask) in enumerate(zip(images, myo, strict=True)):
        if not mask.any():
            continue
        remote[k] = remote_region(image, mask)
        mean, sd = _mean_sd(image[remote[k]])
        scar[k], thresholds[k] = segment_one(image, mask, mean, sd)
        if gray_zone == "sd":
            gray[k] = _gray_sd(image, mask, mean, sd) & ~scar[k]
        elif fwhm_gray_without_scar or scar[k].any():
            gray[k] = _gray_fwhm(image, mask) & ~scar[k]
    return scar, gray, remote, thresholds


def _nsd(
    images: np.ndarray, myo: np.ndarray, *, n_sd: float, gray_zone: GrayZoneRule
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def one(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> tuple[np.ndarray, float]:
        threshold = mean + n_sd * sd
        return mask & (image > threshold), threshold

    return _segment_slices(images, myo, one, gray_zone=gray_zone, fwhm_gray_without_scar=True)


def _fwhm(
    images: np.ndarray, myo: np.ndarray, *, gray_zone: GrayZoneRule, min_px: int, baseline_remote: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def one(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> tuple[np.ndarray, float]:
        peak = float(np.percentile(image[mask], FWHM_PERCENTILE))
        baseline = mean if baseline_remote else 0.0
        threshold = baseline + 0.5 * (peak - baseline)
        seeds = _remove_small(mask & (image > mean + FWHM_SEED_SD * sd), max(min_px, 2))
        return _components_touching(mask & (image >= threshold), seeds), threshold

    return _segment_slices(images, myo, one, gray_zone=gray_zone)


def _hysteresis(
    images: np.ndarray,
    myo: np.ndarray,
    *,
    fractions: tuple[float, float],
    gray_zone: GrayZoneRule,
    seed_px: int,
    radius_px: int,
    baseline_remote: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    footprint = _disk(radius_px) if radius_px >= 1 else None

    def one(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> tuple[np.ndarray, float]:
        peak = float(np.percentile(image[mask], FWHM_PERCENTILE))
        baseline = mean if baseline_remote else 0.0
        high, low = (baseline + f * (peak - baseline) for f in fractions)
        seeds = _remove_small(mask & (image >= high) & (image > mean + FWHM_SEED_SD * sd), max(seed_px, 2))
        found = _components_touching(mask & (image >= low), seeds)
        if footprint is not None and found.any():
            found = ndimage.binary_opening(found, structure=footprint)
        return found, low

    return _segment_slices(images, myo, one, gray_zone=gray_zone)


def _disk(radius: int) -> np.ndarray:
    rows, cols = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return rows**2 + cols**2 <= radius**2


def _gray_from_rule(image: np.ndarray, mask: np.ndarray, rule: GrayZoneRule) -> np.ndarray:
    if rule == "fwhm":
        return _gray_fwhm(image, mask)
    mean, sd = _mean_sd(image[remote_region(image, mask)])
    return _gray_sd(image, mask, mean, sd)


def _gray_zone_from_scar(
    images: np.ndarray, myo: np.ndarray, scar: np.ndarray, *, rule: GrayZoneRule
) -> np.ndarray:
    gray = np.zeros(images.shape, dtype=bool)
    for k, (image, mask) in enumerate(zip(images, myo, strict=True)):
        if mask.any() and scar[k].any():
            gray[k] = _gray_from_rule(image, mask, rule) & ~scar[k]
    return gray


def _gray_sd(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> np.ndarray:
    low, high = (mean + f * sd for f in GRAY_ZONE_SD)
    return mask & (image > low) & (image <= high)


def _gray_fwhm(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    peak = float(np.percentile(image[mask], FWHM_PERCENTILE))
    low, high = (f * peak for f in GRAY_ZONE_FWHM)
    return mask & (image >= low) & (image < high)


def _mean_sd(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return float("inf"), 0.0
    return float(values.mean()), float(values.std())


def _components_touching(candidate: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    if not (candidate & seeds).any():
        return np.zeros_like(candidate)
    labelled, _ = ndimage.label(candidate)
    keep = np.unique(labelled[candidate & seeds])
    return np.isin(labelled, keep[keep > 0])


def _min_component_pixels(min_component_mm2: float, pixel_spacing_mm: tuple[float, float]) -> int:
    if min_component_mm2 < 0:
        raise InputError(f"segment_scar: min_component_mm2={min_component_mm2}; give 0 or more.")
    pixel_area = float(pixel_spacing_mm[0]) * float(pixel_spacing_mm[1])
    if not pixel_area > 0:
        raise InputError(f"segment_scar: pixel_spacing_mm={pixel_spacing_mm}; give positive sizes in mm.")
    return int(np.ceil(min_component_mm2 / pixel_area))


def _clean(scar: np.ndarray, gray: np.ndarray, min_px: int) -> tuple[np.ndarray, np.ndarray]:
    scar = np.stack([_remove_small(s, min_px) for s in scar])
    return scar, gray & ~scar


def _bounding_box(mask: np.ndarray, *, margin: int) -> tuple[slice, slice]:
    """Rows and columns spanning every slice's mask, grown by ``margin`` (the whole image if empty)."""
    flat = mask.any(axis=0)
    if not flat.any():
        return slice(None), slice(None)
    rows, cols = np.flatnonzero(flat.any(axis=1)), np.flatnonzero(flat.any(axis=0))
    return (
        slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
        slice(max(cols[0] - margin, 0), cols[-1] + margin + 1),
    )


def _paste(part: np.ndarray, shape: tuple[int, ...], box: tuple[slice, slice]) -> np.ndarray:
    out = np.zeros(shape, dtype=part.dtype)
    out[(slice(None), *box)] = part
    return out


def _remove_small(mask: np.ndarray, min_pixels: int) -> np.ndarray:
    if not mask.any():
        return mask
    labelled, n = ndimage.label(mask)
    sizes = np.bincount(labelled.ravel(), minlength=n + 1)
    keep = sizes >= min_pixels
    keep[0] = False
    return keep[labelled]
