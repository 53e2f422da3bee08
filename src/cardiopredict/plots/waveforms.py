"""Waveforms of the patients a model scores highest and lowest, one PNG per lead (paper Figs 4–6, 12–14).

Figures are drawn on a bare :class:`matplotlib.figure.Figure` (Agg canvas, no pyplot state) and written
atomically: rendered to memory, then a temporary sibling file renamed over the target. Patients are
named by their cohort ``patient_id`` only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_write_bytes
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import ConfigError, InputError

__all__ = ["plot_extreme_waveforms"]

TOP_COLOUR = "tab:red"
BOTTOM_COLOUR = "tab:blue"
_LINESTYLES = ("-", "--", ":", "-.")


def new_figure(*, figsize: tuple[float, float], layout: str | None = "constrained") -> Any:
    """A pyplot-free figure on the Agg canvas (safe in threads and without a display).

    ``layout=None`` skips the constrained-layout solver (about half the drawing time of a simple
    figure); the caller then places the axes with ``subplots_adjust``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Any, out: str | Path, *, dpi: int = 100) -> Path:
    """Render ``figure`` as PNG and write it atomically to ``out`` (parents created)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return atomic_write_bytes(Path(out), buffer.getvalue())


def lead_names(n_leads: int) -> list[str]:
    """Canonical names of a 12-lead array, else ``lead1``, ``lead2``, ..."""
    if n_leads == len(CANONICAL_LEADS):
        return list(CANONICAL_LEADS)
    return [f"lead{i + 1}" for i in range(n_leads)]


def _lead_indices(leads: Sequence[str | int] | None, names: list[str]) -> list[int]:
    if leads is None:
        return list(range(len(names)))
    indices = []
    for lead in leads:
        if isinstance(lead, int | np.integer) and 0 <= int(lead) < len(names):
            indices.append(int(lead))
        elif isinstance(lead, str) and lead in names:
            indices.append(names.index(lead))
        else:
            raise ConfigError(f"leads: {lead!r} is not one of {names} (or an index 0..{len(names) - 1}).")
    return indices


def plot_extreme_waveforms(
    windows: Any,
    scores: Any,
    patient_ids: Sequence[str],
    *,
    k: int = 3,
    out_dir: str | Path,
    prefix: str,
    leads: Sequence[str | int] | None = None,
    fs_hz: float = 1000.0,
    dpi: int = 100,
) -> list[Path]:
    """Overlay the ``k`` highest- and ``k`` lowest-scored patients' waveforms, one PNG per lead.

    Parameters
    ----------
    windows : array-like of shape (n, n_leads, T), mV
        The windows the model saw (e.g. the 250-sample QRS window), leads in canonical order.
    scores : array-like of shape (n,)
        Model output per patient (higher = more likely the positive class); NaN rows are skipped.
    patient_ids : sequence of str, length n
        Shown in the legend with each score (the only patient identifier ever drawn).
    k : int
        Patients per group; needs ``2 * k`` patients with a score.
    out_dir : path
        Folder for the PNGs (created).
    prefix : str
        File name prefix: one file ``f"{prefix}_{lead}.png"`` per lead.
    leads : sequence of str or int, optional
        Lead names (e.g. ``["I", "V4", "V5"]``) or indices; default all leads.
    fs_hz : float
        Sampling rate of the windows (Hz), for the time axis in ms (QRS windows: 1000 Hz).
    dpi : int
        Resolution.

    Returns
    -------
    list of Path
        The PNGs written, in lead order.
    """
    windows = np.asarray(windows, dtype=float)
    scores = np.asarray(scores, dtype=float)
    ids = [str(p) for p in patient_ids]
    if windows.ndim != 3:
        raise InputError(f"windows must have shape (n_patients, n_leads, n_samples); got {windows.shape}.")
    if scores.shape != (len(windows),) or len(ids) != len(windows):
        raise InputError(
            f"scores ({scores.shape}) and patient_ids ({len(ids)}) must have one entry per window "
            f"({len(windows)})."
        )
    scored = np.flatnonzero(np.isfinite(scores))
    if k < 1 or 2 * k > len(scored):
        raise ConfigError(
            f"k={k}: needs 2*k distinct patients with a score, {len(scored)} available. Lower k."
        )
    if fs_hz <= 0:
        raise ConfigError(f"fs_hz={fs_hz}: the sampling rate must be positive (QRS windows: 1000).")
    order = scored[np.argsort(-scores[scored], kind="stable")]
    groups = (("highest", TOP_COLOUR, order[:k]), ("lowest", BOTTOM_COLOUR, order[::-1][:k]))
    names = lead_names(windows.shape[1])
    time_ms = np.arange(windows.shape[2]) / fs_hz * 1000.0
    out_dir = Path(out_dir)
    paths = []
    for lead in _lead_indices(leads, names):
        figure = new_figure(figsize=(6.4, 3.8), layout=None)
        figure.subplots_adjust(left=0.11, right=0.98, bottom=0.13, top=0.92)
        ax = figure.add_subplot()
        for label, colour, rows in groups:
            for rank, row in enumerate(rows):
                ax.plot(
                    time_ms,
                    windows[row, lead],
                    color=colour,
                    linestyle=_LINESTYLES[rank % len(_LINESTYLES)],
                    linewidth=1.3,
                    label=f"{label} #{rank + 1}: {ids[row]} (score {scores[row]:.3f})",
                )
        ax.axhline(0.0, color="0.7", linewidth=0.6, zorder=0)
        ax.set_xlabel("time in window (ms)")
        ax.set_ylabel("amplitude (mV)")
        ax.set_title(f"{prefix} — lead {names[lead]}: top {k} (red) vs bottom {k} (blue) scores", fontsize=9)
        ax.legend(fontsize=7, loc="upper right", framealpha=0.8)
        ax.grid(True, color="0.92")
        paths.append(save_figure(figure, out_dir / f"{prefix}_{names[lead]}.png", dpi=dpi))
    return paths
