"""Intensity normalisation of LGE slices."""

from __future__ import annotations

import numpy as np

from cardiopredict.errors import EmptyMyocardiumError, GeometryError, IntensityError


def normalize_in_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Min-max normalise an image by the values inside a mask (the paper: inside the myocardium).

    Parameters
    ----------
    image : ndarray of shape (H, W) or (n, H, W)
        Pixel values (arbitrary units). With 3 dimensions each slice is normalised by its own mask.
    mask : ndarray of the same shape, bool
        The myocardium.

    Returns
    -------
    ndarray of the same shape, float32
        ``(image - min) / (max - min)`` inside the mask (so in [0, 1]), 0 outside.

    Raises
    ------
    EmptyMyocardiumError
        The mask (of a slice) is empty.
    IntensityError
        Non-finite values inside the mask, or constant values inside it (max == min): nothing to scale.
    """
    image = np.asarray(image)
    mask = np.asarray(mask, dtype=bool)
    if image.shape != mask.shape or image.ndim not in (2, 3):
        raise GeometryError(
            f"normalize_in_mask needs image and mask of the same shape (H, W) or (n, H, W), "
            f"got {image.shape} and {mask.shape}"
        )
    if image.ndim == 3:
        out = np.empty(image.shape, dtype=np.float32)
        for k in range(image.shape[0]):
            try:
                out[k] = normalize_in_mask(image[k], mask[k])
            except (EmptyMyocardiumError, IntensityError) as exc:
                raise type(exc)(f"slice {k}: {exc}") from exc
        return out
    if not mask.any():
        raise EmptyMyocardiumError("normalize_in_mask: the myocardium mask is empty; exclude this slice")
    values = image[mask].astype(np.float64)
    if not np.isfinite(values).all():
        raise IntensityError(
            f"normalize_in_mask: {int((~np.isfinite(values)).sum())} non-finite values inside the myocardium"
        )
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        raise IntensityError(
            f"normalize_in_mask: the image is constant ({lo:g}) inside the myocardium "
            f"({values.size} pixels); "
            "min-max normalisation is undefined - check that the mask is on this image"
        )
    out = np.zeros(image.shape, dtype=np.float32)
    out[mask] = ((values - lo) / (hi - lo)).astype(np.float32)
    return out
