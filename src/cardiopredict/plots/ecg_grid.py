"""12-lead ECG grid with the delineated QRS complexes marked, for a person to check the delineation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cardiopredict._io import atomic_target
from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.filters import remove_baseline
from cardiopredict.ecg.record import ECGRecord

__all__ = ["plot_ecg_grid"]

_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
MAX_SECONDS = 10.0
"""Longest stretch drawn: a 0.2 s grid stays readable at ~1.6 inch per second (a 10-s page is 16 in)."""


def plot_ecg_grid(
    record: ECGRecord,
    delineation: QRSDelineation | None,
    out: str | Path,
    *,
    title: str | None = None,
    start_s: float = 0.0,
    max_seconds: float = MAX_SECONDS,
    dpi: int = 110,
) -> Path:
    """Draw all 12 leads with QRS onset/offset marks over at most ``max_seconds``; write a PNG atomically.

    Leads are stacked in the standard 3×4 reading order (I, II, III, aVR, aVL, aVF, V1–V6) on a
    0.2 s / 0.5 mV grid. Valid QRS complexes are shaded green between global onset and offset, flagged ones
    red; pacing stimuli are marked with a dotted line. A longer record is drawn from ``start_s`` for
    ``max_seconds`` (the title says which part), so the figure width stays readable.

    Parameters
    ----------
    record : ECGRecord
    delineation : QRSDelineation or None
        From :func:`cardiopredict.ecg.delineate`; None draws the signal only.
    out : path
        PNG file to write.
    title : str, optional
        Defaults to the record id, fs and duration (no patient identifiers).
    start_s : float
        First second drawn.
    max_seconds : float
        Length drawn, in seconds (default 10 s: one page).
    dpi : int
        Resolution.

    Returns
    -------
    Path
        ``out``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    out = Path(out)
    first = int(np.clip(round(start_s * record.fs), 0, max(record.n_samples - 1, 0)))
    last = min(record.n_samples, first + max(1, round(max_seconds * record.fs)))
    signal = remove_baseline(record.signal, record.fs)[:, first:last]
    time_s = np.arange(first, last) / record.fs
    shown_s = (last - first) / record.fs
    order = [lead for column in zip(*_LAYOUT, strict=True) for lead in column if lead in record.leads]
    order += [lead for lead in record.leads if lead not in order]
    fig, axes = plt.subplots(len(order), 1, figsize=(max(8.0, 1.6 * shown_s), 1.1 * len(order)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, lead in zip(axes, order, strict=True):
        trace = signal[record.leads.index(lead)]
        ax.plot(time_s, trace, color="black", linewidth=0.7)
        ax.set_ylabel(lead, rotation=0, ha="right", va="center")
        ax.set_xticks(np.arange(time_s[0], time_s[-1] + 1e-9, 0.2), minor=True)
        ax.grid(True, which="both", axis="x", color="#f4b6b6", linewidth=0.4)
        if np.isfinite(trace).any():
            ax.set_yticks(np.arange(np.floor(np.nanmin(trace) * 2) / 2, np.nanmax(trace) + 0.5, 0.5))
        ax.grid(True, axis="y", color="#f4b6b6", linewidth=0.4)
        ax.tick_params(labelleft=False, length=0)
        if delineation is None:
            continue
        for k in np.flatnonzero((delineation.qrs_offsets >= first) & (delineation.qrs_onsets < last)):
            onset, offset = delineation.qrs_onsets[k] / record.fs, delineation.qrs_offsets[k] / record.fs
            colour = "tab:green" if delineation.valid[k] else "tab:red"
            ax.axvspan(onset, offset, color=colour, alpha=0.18, linewidth=0)
        spikes = delineation.pacing_spikes if delineation.pacing_spikes is not None else np.zeros(0)
        for spike in spikes[(spikes >= first) & (spikes < last)]:
            ax.axvline(spike / record.fs, color="tab:blue", linestyle=":", linewidth=0.8)
    axes[-1].set_xlabel("time (s)")
    axes[-1].set_xlim(time_s[0], time_s[-1])
    if title is None:
        title = f"{record.record_id or 'ECG'} — {record.fs:g} Hz, {record.duration_s:.1f} s"
        if shown_s < record.duration_s:
            title += f" (shown: {time_s[0]:.1f}-{time_s[0] + shown_s:.1f} s)"
        if delineation is not None:
            qrs = delineation.qrs_durations_ms[delineation.valid]
            median = f"{np.median(qrs):.0f} ms" if len(qrs) else "n/a"
            title += f", {delineation.n_beats} beats ({int(delineation.valid.sum())} valid), QRS {median}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        with atomic_target(out, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return out
