"""The paper's Fig. 2 panel for one LGE slice, and a montage of oriented slices for a person to check."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_target
from cardiopredict.cmr.preprocess import DEFAULT_SCAR, PatientArrays, preprocess_study
from cardiopredict.cmr.scar import ScarSegmenter, scar_method
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import InputError

__all__ = ["oriented_full_slice", "plot_lge_panel", "plot_oriented_montage", "plot_scar_comparison"]


def oriented_full_slice(
    study: LGEStudy, arrays: PatientArrays, position: int
) -> tuple[np.ndarray, np.ndarray]:
    """The whole selected slice ``position`` rotated about the LV centre, normalised by the myocardium.

    Returns
    -------
    image : float32 ndarray of shape (H, W)
        0 = darkest, 1 = brightest myocardial pixel.
    centre : ndarray of shape (2,)
        LV centre (row, col), unchanged by the rotation.
    """
    from cardiopredict.cmr.geometry import rotate_about

    k = int(arrays.slice_indices[position])
    image = study.images[k]
    myo = study.myocardium_mask()[k]
    lo, hi = float(image[myo].min()), float(image[myo].max())
    centre = arrays.lv_centre_rc[position]
    rotated = rotate_about(image, centre, float(arrays.rotation_deg[position]))
    return ((rotated - lo) / (hi - lo)).astype(np.float32), centre


def plot_lge_panel(
    study: LGEStudy,
    out: str | os.PathLike[str],
    *,
    scar: ScarSegmenter | str = DEFAULT_SCAR,
    slice_position: int | None = None,
    dpi: int = 110,
) -> Path:
    """Fig. 2 of the paper for one slice: masked + normalised, cropped, oriented full slice, scar.

    Parameters
    ----------
    study : LGEStudy
        With a myocardium (labels or contours) and an insertion point or RV label.
    out : path
        PNG written atomically.
    scar : ScarSegmenter or str
        Scar segmenter for the fourth panel (e.g. ``NSD(n_sd=3)``, ``"hysteresis"``, ``"learned:DIR"``).
    slice_position : int, optional
        Which of the *selected* slices (0 = most basal); default the middle one.
    dpi : int

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        The study is excluded by the preprocessing (the message gives the reason) or the slice position is
        out of range.
    """
    segmenter = scar_method(scar) if isinstance(scar, str) else scar
    arrays, position = _panel_slice(study, segmenter, slice_position)
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    lge, myo, scar_mask = arrays.lge[position], arrays.inputs[position, 0], arrays.inputs[position, 1]
    full, centre = oriented_full_slice(study, arrays, position)
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    axes[0].imshow(np.where(myo > 0, np.clip(lge, 0, 1), 0), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("Masked + normalised LGE")
    axes[1].imshow(np.clip(lge, 0, None), cmap="gray", vmin=0, vmax=max(1.0, float(np.percentile(lge, 99.5))))
    axes[1].set_title("Cropped SA image")
    _draw_oriented_full_slice(axes[2], full, centre, arrays, position)
    _draw_scar(axes[3], lge, myo, scar_mask, segmenter, arrays.scar_burden_pct)
    for axis in axes:
        axis.set_xticks([])
        axis.set_yticks([])
    k = int(arrays.slice_indices[position])
    fig.suptitle(
        f"{study.patient_id or 'LGE'}: slice {k} "
        f"(selected {position + 1}/{arrays.n_selected}, base to apex); "
        "RV insertion point rotated to 6 o'clock",
        fontsize=10,
    )
    fig.tight_layout()
    return _save(fig, Path(out), dpi)


def _panel_slice(
    study: LGEStudy, segmenter: ScarSegmenter, slice_position: int | None
) -> tuple[PatientArrays, int]:
    """The preprocessed study and the position of the panel's selected slice; InputError when unusable."""
    arrays = preprocess_study(study, scar=segmenter, min_slices=1)
    if arrays.excluded:
        raise InputError(
            f"plot_lge_panel: {study.patient_id or 'study'} cannot be preprocessed: {arrays.excluded}"
        )
    position = arrays.n_selected // 2 if slice_position is None else int(slice_position)
    if not 0 <= position < arrays.n_selected:
        raise InputError(
            f"plot_lge_panel: slice_position={slice_position} but only {arrays.n_selected} slices are "
            "selected "
            f"(0 = base .. {arrays.n_selected - 1} = apex)."
        )
    return arrays, position


def _draw_oriented_full_slice(
    axis: Any, full: np.ndarray, centre: np.ndarray, arrays: PatientArrays, position: int
) -> None:
    """Third panel: the whole rotated slice ``full`` with its LV ``centre`` (+) and RV insertion point (o)."""
    from cardiopredict.cmr.geometry import rotate_points

    axis.imshow(np.clip(full, 0, None), cmap="gray", vmin=0, vmax=max(1.0, float(np.percentile(full, 99.5))))
    point = rotate_points(arrays.insertion_point_rc[position], centre, float(arrays.rotation_deg[position]))
    axis.plot(centre[1], centre[0], "c+", ms=10)
    axis.plot(point[1], point[0], "o", ms=6, mfc="none", mec="yellow", mew=1.5)
    axis.set_title("Full SA image (orientation corrected)")


def _draw_scar(
    axis: Any,
    lge: np.ndarray,
    myo: np.ndarray,
    scar_mask: np.ndarray,
    segmenter: ScarSegmenter,
    scar_burden_pct: float,
) -> None:
    """Fourth panel: the cropped LGE with the scar in red and the myocardium outlined."""
    size = lge.shape[0]
    axis.imshow(np.clip(lge, 0, None), cmap="gray", vmin=0, vmax=max(1.0, float(np.percentile(lge, 99.5))))
    overlay = np.zeros((size, size, 4))
    overlay[scar_mask > 0] = (1.0, 0.1, 0.1, 0.6)
    axis.imshow(overlay)
    axis.contour(myo, levels=[0.5], colors="lime", linewidths=0.6)
    described = segmenter.describe()
    method = f"{described['n_sd']:g} SD" if described["name"] == "nsd" else described["name"]
    axis.set_title(f"LGE scar ({method}, {scar_burden_pct:.0f}% of myocardium)")


def plot_oriented_montage(
    tiles: Sequence[tuple[str, np.ndarray, np.ndarray | None, np.ndarray | None]],
    out: str | os.PathLike[str],
    *,
    columns: int = 8,
    dpi: int = 90,
    title: str | None = None,
) -> Path:
    """A grid of oriented, cropped slices with an optional point marked (e.g. the insertion point).

    Parameters
    ----------
    tiles : sequence of (label, image of shape (S, S), point (row, col) or None, outline mask or None)
    out : path
        PNG written atomically.
    columns : int
    dpi : int
    title : str, optional

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if not tiles:
        raise InputError("plot_oriented_montage: no tiles to draw.")
    rows = int(np.ceil(len(tiles) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.75 * rows + 0.5), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, (label, image, point, outline) in zip(axes.ravel(), tiles, strict=False):
        axis.imshow(
            np.clip(image, 0, None), cmap="gray", vmin=0, vmax=max(1.0, float(np.percentile(image, 99.5)))
        )
        if outline is not None and outline.any():
            axis.contour(outline, levels=[0.5], colors="lime", linewidths=0.4)
        if point is not None and np.isfinite(point).all():
            axis.plot(point[1], point[0], "o", ms=4, mfc="none", mec="yellow", mew=1.2)
        axis.set_title(label, fontsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out), dpi)


def plot_scar_comparison(
    rows: Sequence[tuple[str, np.ndarray, np.ndarray, Mapping[str, np.ndarray]]],
    out: str | os.PathLike[str],
    *,
    dpi: int = 100,
    title: str | None = None,
) -> Path:
    """Expert and method scar side by side on oriented slices, one row per slice (for a person to check).

    Parameters
    ----------
    rows : sequence of (label, lge (S, S), myocardium (S, S) bool, {column name: scar mask (S, S) bool})
        The first column is the LGE alone; then one column per mask, in the mapping's order (e.g.
        ``{"expert": ..., "hysteresis": ..., "learned": ...}``), each titled with its Dice against the
        mask named ``"expert"`` when there is one.
    out : path
        PNG written atomically.
    dpi : int
    title : str, optional

    Returns
    -------
    Path
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from cardiopredict.cmr.scar import scar_dice

    if not rows:
        raise InputError("plot_scar_comparison: no slices to draw.")
    names = list(rows[0][3])
    fig, axes = plt.subplots(
        len(rows), 1 + len(names), figsize=(2.2 * (1 + len(names)), 2.3 * len(rows) + 0.4), squeeze=False
    )
    for line, (label, lge, myo, masks) in zip(axes, rows, strict=True):
        vmax = max(1.0, float(np.percentile(lge, 99.5)))
        for axis in line:
            axis.imshow(np.clip(lge, 0, None), cmap="gray", vmin=0, vmax=vmax)
            axis.set_xticks([])
            axis.set_yticks([])
        line[0].set_title(label, fontsize=7)
        for axis, name in zip(line[1:], names, strict=True):
            overlay = np.zeros((*lge.shape, 4))
            overlay[np.asarray(masks[name], dtype=bool)] = (1.0, 0.15, 0.1, 0.65)
            axis.imshow(overlay)
            axis.contour(myo, levels=[0.5], colors="lime", linewidths=0.4)
            dice = (
                ""
                if name == "expert" or "expert" not in masks
                else (f" (Dice {scar_dice(masks[name], masks['expert']):.2f})")
            )
            axis.set_title(f"{name}{dice}", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, Path(out), dpi)


def _save(fig, out: Path, dpi: int) -> Path:
    import matplotlib.pyplot as plt

    try:
        with atomic_target(out, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return out
