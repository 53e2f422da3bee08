"""VA study figures: slice montages of the highest- and lowest-scored patients, with IG saliency.

:func:`plot_va_extremes` draws, for each of the ``k`` highest- and ``k`` lowest-scored patients, one PNG
with a column per slice (base -> apex) and rows LGE, myocardium, scar and — when given — the
integrated-gradients saliency of the model. :func:`scar_saliency` computes that saliency for a trained
fold ensemble with :func:`cardiopredict.plots.saliency.integrated_gradients`: the attribution of the
ensemble's probability to every input pixel, from the all-zero baseline (no myocardium, no scar) to the
patient's maps, the slot mask held fixed. Patients are named by their cohort ``patient_id`` only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.errors import ConfigError, InputError
from cardiopredict.plots.saliency import integrated_gradients
from cardiopredict.plots.waveforms import new_figure, save_figure

__all__ = ["extreme_rows", "plot_va_extremes", "plot_va_patient", "scar_saliency"]

_ROW_NAMES = ("LGE (normalised)", "myocardium", "scar")
_MARGIN_PX = 8


def extreme_rows(scores: Any, *, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the ``k`` highest and ``k`` lowest scores (NaN skipped), highest / lowest first."""
    scores = np.asarray(scores, dtype=float)
    scored = np.flatnonzero(np.isfinite(scores))
    if k < 1 or 2 * k > len(scored):
        raise ConfigError(
            f"k={k}: needs 2*k distinct patients with a score, {len(scored)} available. Lower k."
        )
    order = scored[np.argsort(-scores[scored], kind="stable")]
    return order[:k], order[::-1][:k]


def scar_saliency(
    model_dir: str | Path, slices: Any, slice_mask: Any, *, n_steps: int = 32, method: str = "auto"
) -> np.ndarray:
    """Integrated-gradients saliency of a ScarNet fold ensemble, per patient, slot, channel and pixel.

    Parameters
    ----------
    model_dir : path
        A trained model directory (``model.json`` + ``fold<k>.safetensors``) of a network reading
        ``"slices"`` and ``"slice_mask"`` (:func:`cardiopredict.models.scarnet.pad_slices`).
    slices : ndarray of shape (n, max_slices, C, H, W), float32
    slice_mask : ndarray of shape (n, max_slices), float32
    n_steps, method
        See :func:`~cardiopredict.plots.saliency.integrated_gradients`.

    Returns
    -------
    ndarray of shape (n, max_slices, C, H, W), float32
        Attribution to P(class 1); positive pushes towards the event. The attributions of a patient sum
        to P(patient) − P(all-zero maps) up to the quadrature error; padded slots are 0.
    """
    from cardiopredict.training.artifacts import Ensemble

    ensemble = Ensemble.load(model_dir)
    keys = ensemble.input_keys
    if len(keys) != 2:
        raise InputError(
            f"{model_dir}: the model reads {list(keys)}; scar_saliency needs a slices + mask model."
        )
    slices = np.asarray(slices, dtype=np.float32)
    slice_mask = np.asarray(slice_mask, dtype=np.float32)
    if slices.ndim != 5 or slice_mask.shape != slices.shape[:2]:
        raise InputError(
            f"slices {slices.shape} must be (n, max_slices, C, H, W) and slice_mask {slice_mask.shape} "
            "(n, max_slices); build both with pad_slices."
        )
    attributions = np.zeros_like(slices)
    for row in range(len(slices)):  # one patient at a time: n_steps x one patient's slots in memory
        inputs = {keys[0]: slices[row : row + 1], keys[1]: slice_mask[row : row + 1]}
        baselines = {keys[0]: np.zeros_like(inputs[keys[0]]), keys[1]: inputs[keys[1]]}
        result = integrated_gradients(
            ensemble.probabilities, inputs, baselines, n_steps=n_steps, method=method
        )
        attributions[row] = result[keys[0]][0].numpy()
    return attributions * slice_mask[:, :, None, None, None]


def plot_va_extremes(
    lge: Sequence[np.ndarray],
    inputs: Sequence[np.ndarray],
    scores: Any,
    patient_ids: Sequence[str],
    *,
    saliency: Mapping[str, np.ndarray] | None = None,
    k: int = 3,
    out_dir: str | Path,
    prefix: str = "va",
    oriented: bool = True,
    dpi: int = 100,
) -> list[Path]:
    """One slice montage per top-``k`` and bottom-``k`` scored patient (``{prefix}_top1.png`` ...).

    Parameters
    ----------
    lge : sequence of ndarray, each of shape (n_i, H, W)
        Per patient the normalised LGE slices, base -> apex (``PatientArrays.lge``).
    inputs : sequence of ndarray, each of shape (n_i, C >= 2, H, W)
        Per patient the [myocardium, scar, ...] masks (``PatientArrays.inputs``).
    scores : array-like of shape (n,)
        Model output per patient (higher = more likely the event); NaN rows are skipped.
    patient_ids : sequence of str, length n
        The cohort's patient ids (the only identifier drawn).
    saliency : mapping of patient_id to ndarray of shape (n_i, C, H, W), optional
        Attributions of the drawn patients (e.g. ``scar_saliency(...)[i, :n_i]``); summed over the
        channels and drawn as a fourth row, red towards the event and blue away from it, the colour
        scale saturating at the 99th percentile of |attribution| of that patient.
    k : int
        Patients per group.
    out_dir : path
        Folder of the PNGs (created); each is written atomically.
    prefix : str
        File name prefix.
    oriented : bool
        The slices were rotated to put the RV insertion point at 6 o'clock (said in the title); False
        for series kept in their acquired orientation (e.g. EMIDEC, no RV label).
    dpi : int

    Returns
    -------
    list of Path
        ``{prefix}_top1.png .. top{k}``, then ``{prefix}_bottom1.png .. bottom{k}``.
    """
    scores = np.asarray(scores, dtype=float)
    ids = [str(pid) for pid in patient_ids]
    if not (len(lge) == len(inputs) == len(ids) == len(scores)) or scores.ndim != 1:
        raise InputError(
            f"lge ({len(lge)}), inputs ({len(inputs)}), scores ({scores.shape}) and patient_ids ({len(ids)}) "
            "need one entry per patient."
        )
    top, bottom = extreme_rows(scores, k=k)
    saliency = saliency or {}
    paths = []
    for group, rows in (("top", top), ("bottom", bottom)):
        for rank, row in enumerate(rows, start=1):
            which = "highest" if group == "top" else "lowest"
            title = f"{which} score #{rank}: {ids[row]} (score {scores[row]:.3f}); " + (
                "RV insertion point at 6 o'clock" if oriented else "acquired orientation (not rotated)"
            )
            figure = _montage(_patient_arrays(lge[row], inputs[row], saliency.get(ids[row]), ids[row]), title)
            paths.append(save_figure(figure, Path(out_dir) / f"{prefix}_{group}{rank}.png", dpi=dpi))
    return paths


def plot_va_patient(
    lge: np.ndarray,
    inputs: np.ndarray,
    out: str | Path,
    *,
    saliency: np.ndarray | None = None,
    title: str,
    dpi: int = 80,
) -> Path:
    """One patient's slice montage (the rows of :func:`plot_va_extremes`); PNG written atomically.

    ``lge`` (n_slices, H, W), ``inputs`` (n_slices, C >= 2, H, W) and ``saliency`` (n_slices, C, H, W)
    as there; the title is the caller's (say what was scored; no patient identifier is added).
    """
    figure = _montage(_patient_arrays(lge, inputs, saliency, "the patient"), title)
    return save_figure(figure, out, dpi=dpi)


def _patient_arrays(
    lge: np.ndarray, inputs: np.ndarray, saliency: np.ndarray | None, pid: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    lge = np.asarray(lge, dtype=float)
    inputs = np.asarray(inputs, dtype=float)
    if inputs.ndim != 4 or inputs.shape[1] < 2 or lge.shape != (len(inputs), *inputs.shape[2:]):
        raise InputError(
            f"patient {pid}: inputs {inputs.shape} must be (n_slices, C >= 2, H, W) and lge {lge.shape} "
            "(n_slices, H, W) of the same slices."
        )
    attribution = None
    if saliency is not None:
        saliency = np.asarray(saliency, dtype=float)
        if saliency.ndim != 4 or saliency.shape[0] != len(inputs) or saliency.shape[2:] != inputs.shape[2:]:
            raise InputError(
                f"patient {pid}: saliency {saliency.shape} must be (n_slices, C, H, W) with its "
                f"{len(inputs)} real slices (slice the padded scar_saliency output with [:n_slices])."
            )
        attribution = saliency.sum(axis=1)
    myo = inputs[:, 0] > 0.5
    rows, cols = np.nonzero(myo.any(axis=0))
    if rows.size == 0:
        raise InputError(f"patient {pid}: the myocardium mask is empty on every slice; nothing to draw.")
    half = max(rows.max() - rows.min(), cols.max() - cols.min()) // 2 + _MARGIN_PX
    centre = ((rows.min() + rows.max()) // 2, (cols.min() + cols.max()) // 2)
    box = (
        slice(max(centre[0] - half, 0), centre[0] + half + 1),
        slice(max(centre[1] - half, 0), centre[1] + half + 1),
    )
    crop = (slice(None), *box)
    return lge[crop], myo[crop], inputs[:, 1][crop] > 0.5, None if attribution is None else attribution[crop]


def _montage(arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None], title: str) -> Any:
    lge, myo, scar, attribution = arrays
    n_rows = 3 + (attribution is not None)
    n_slices = len(lge)
    tile = 1.35
    width, height = tile * n_slices + 2.0, tile * n_rows + 0.7
    figure = new_figure(figsize=(width, height), layout=None)
    figure.subplots_adjust(
        left=1.1 / width, right=1 - 0.9 / width, bottom=0.03, top=1 - 0.6 / height, wspace=0.05, hspace=0.08
    )
    axes = figure.subplots(n_rows, n_slices, squeeze=False)
    scale = None
    if attribution is not None:
        magnitude = np.abs(attribution[myo | scar]) if (myo | scar).any() else np.abs(attribution).ravel()
        scale = float(np.quantile(magnitude, 0.99)) if magnitude.size else 0.0
        scale = scale or float(np.abs(attribution).max()) or 1.0
    for j in range(n_slices):
        panels = [
            (np.clip(lge[j], 0, None), {"cmap": "gray", "vmin": 0.0, "vmax": max(1.0, float(lge[j].max()))}),
            (myo[j], {"cmap": "gray", "vmin": 0, "vmax": 1}),
            (np.where(myo[j], 0.35, 0.0) + 0.65 * scar[j], {"cmap": "inferno", "vmin": 0, "vmax": 1}),
        ]
        if attribution is not None:
            panels.append((attribution[j], {"cmap": "coolwarm", "vmin": -scale, "vmax": scale}))
        for i, (image, style) in enumerate(panels):
            ax = axes[i, j]
            shown = ax.imshow(image, interpolation="nearest", **style)
            if i == 3:
                ax.contour(myo[j], levels=[0.5], colors="0.3", linewidths=0.5)
                saliency_image = shown
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel((*_ROW_NAMES, "IG saliency")[i], fontsize=8)
        position = "base" if j == 0 else "apex" if j == n_slices - 1 else ""
        axes[0, j].set_title(f"slice {j + 1}" + (f" ({position})" if position else ""), fontsize=8)
    if attribution is not None:
        box = axes[3, -1].get_position()
        bar = figure.colorbar(
            saliency_image, cax=figure.add_axes((box.x1 + 0.1 / width, box.y0, 0.1 / width, box.height))
        )
        bar.ax.tick_params(labelsize=6)
        bar.ax.yaxis.get_offset_text().set_fontsize(6)
        bar.set_label("attribution to P(event)", fontsize=7)
    figure.suptitle(title, fontsize=9)
    return figure
