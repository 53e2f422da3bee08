"""The maths of the threshold scar rules (:mod:`cardiopredict.cmr.scar` holds their parameters).

Pure functions on a stack ``(n_slices, H, W)`` of LGE slices and its myocardium mask; see the module
docstring of :mod:`cardiopredict.cmr.scar` for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from scipy import ndimage

from cardiopredict.errors import InputError

GrayZoneRule = Literal["sd", "fwhm"]

N_SECTORS = 6
MIN_REMOTE_PIXELS = 10
FWHM_PERCENTILE = 99.0
GRAY_ZONE_SD = (2.0, 3.0)
FWHM_SEED_SD = 3.0
GRAY_ZONE_FWHM = (0.35, 0.50)
MYOCARDIUM_DENSITY_G_PER_ML = 1.05


# --- methods -----------------------------------------------------------------------------------
def scar_dice(predicted: np.ndarray, expert: np.ndarray) -> float:
    """Dice of a predicted and an expert scar mask, pooled over all the slices given (one case).

    A case where neither holds scar scores 1 (correctly empty); one where only one does scores 0.

    Parameters
    ----------
    predicted, expert : bool ndarray of the same shape, e.g. (n_slices, H, W)

    Returns
    -------
    float in [0, 1]
    """
    predicted, expert = np.asarray(predicted, dtype=bool), np.asarray(expert, dtype=bool)
    if predicted.shape != expert.shape:
        raise InputError(f"scar_dice: shapes {predicted.shape} and {expert.shape} differ.")
    total = int(predicted.sum()) + int(expert.sum())
    return 1.0 if total == 0 else 2.0 * float((predicted & expert).sum()) / total


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


def nsd_rule(
    images: np.ndarray, myo: np.ndarray, *, n_sd: float, gray_zone: GrayZoneRule
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def one(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> tuple[np.ndarray, float]:
        threshold = mean + n_sd * sd
        return mask & (image > threshold), threshold

    return _segment_slices(images, myo, one, gray_zone=gray_zone, fwhm_gray_without_scar=True)


def fwhm_rule(
    images: np.ndarray, myo: np.ndarray, *, gray_zone: GrayZoneRule, min_px: int, baseline_remote: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    def one(image: np.ndarray, mask: np.ndarray, mean: float, sd: float) -> tuple[np.ndarray, float]:
        peak = float(np.percentile(image[mask], FWHM_PERCENTILE))
        baseline = mean if baseline_remote else 0.0
        threshold = baseline + 0.5 * (peak - baseline)
        seeds = _remove_small(mask & (image > mean + FWHM_SEED_SD * sd), max(min_px, 2))
        return _components_touching(mask & (image >= threshold), seeds), threshold

    return _segment_slices(images, myo, one, gray_zone=gray_zone)


def hysteresis_rule(
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


def gray_zone_from_scar(
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


def min_component_pixels(min_component_mm2: float, pixel_spacing_mm: tuple[float, float]) -> int:
    if min_component_mm2 < 0:
        raise InputError(f"segment_scar: min_component_mm2={min_component_mm2}; give 0 or more.")
    pixel_area = float(pixel_spacing_mm[0]) * float(pixel_spacing_mm[1])
    if not pixel_area > 0:
        raise InputError(f"segment_scar: pixel_spacing_mm={pixel_spacing_mm}; give positive sizes in mm.")
    return int(np.ceil(min_component_mm2 / pixel_area))


def clean_small(scar: np.ndarray, gray: np.ndarray, min_px: int) -> tuple[np.ndarray, np.ndarray]:
    scar = np.stack([_remove_small(s, min_px) for s in scar])
    return scar, gray & ~scar


def bounding_box(mask: np.ndarray, *, margin: int) -> tuple[slice, slice]:
    """Rows and columns spanning every slice's mask, grown by ``margin`` (the whole image if empty)."""
    flat = mask.any(axis=0)
    if not flat.any():
        return slice(None), slice(None)
    rows, cols = np.flatnonzero(flat.any(axis=1)), np.flatnonzero(flat.any(axis=0))
    return (
        slice(max(rows[0] - margin, 0), rows[-1] + margin + 1),
        slice(max(cols[0] - margin, 0), cols[-1] + margin + 1),
    )


def paste(part: np.ndarray, shape: tuple[int, ...], box: tuple[slice, slice]) -> np.ndarray:
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
