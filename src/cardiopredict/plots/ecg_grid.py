"""12-lead ECG grid with the delineated QRS complexes marked, for a person to check the delineation."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from cardiopredict._atomic import publish
from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.filters import remove_baseline
from cardiopredict.ecg.record import ECGRecord

__all__ = ["plot_ecg_grid"]

_LAYOUT = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))


def plot_ecg_grid(
    record: ECGRecord,
    delineation: QRSDelineation | None,
    out: str | Path,
    *,
    title: str | None = None,
    dpi: int = 110,
) -> Path:
    """Draw all 12 leads over the whole recording with QRS onset/offset marks; write a PNG atomically.

    Leads are stacked in the standard 3×4 reading order (I, II, III, aVR, aVL, aVF, V1–V6), each over the
    full duration, on a 0.2 s / 0.5 mV grid. Valid QRS complexes are shaded green between global onset and
    offset, flagged ones red; pacing stimuli are marked with a dotted line.

    Parameters
    ----------
    record : ECGRecord
    delineation : QRSDelineation or None
        From :func:`cardiopredict.ecg.delineate`; None draws the signal only.
    out : path
        PNG file to write.
    title : str, optional
        Defaults to the record id, fs and duration (no patient identifiers).
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
    signal = remove_baseline(record.signal, record.fs)
    time_s = np.arange(record.n_samples) / record.fs
    order = [lead for column in zip(*_LAYOUT, strict=True) for lead in column if lead in record.leads]
    order += [lead for lead in record.leads if lead not in order]
    fig, axes = plt.subplots(
        len(order), 1, figsize=(max(8.0, 1.6 * record.duration_s), 1.1 * len(order)), sharex=True
    )
    axes = np.atleast_1d(axes)
    for ax, lead in zip(axes, order, strict=True):
        trace = signal[record.leads.index(lead)]
        ax.plot(time_s, trace, color="black", linewidth=0.7)
        ax.set_ylabel(lead, rotation=0, ha="right", va="center")
        ax.set_xticks(np.arange(0, record.duration_s + 1e-9, 0.2), minor=True)
        ax.grid(True, which="both", axis="x", color="#f4b6b6", linewidth=0.4)
        ax.set_yticks(np.arange(np.floor(np.nanmin(trace) * 2) / 2, np.nanmax(trace) + 0.5, 0.5))
        ax.grid(True, axis="y", color="#f4b6b6", linewidth=0.4)
        ax.tick_params(labelleft=False, length=0)
        if delineation is None:
            continue
        for k in range(delineation.n_beats):
            onset, offset = delineation.qrs_onsets[k] / record.fs, delineation.qrs_offsets[k] / record.fs
            colour = "tab:green" if delineation.valid[k] else "tab:red"
            ax.axvspan(onset, offset, color=colour, alpha=0.18, linewidth=0)
        for spike in delineation.pacing_spikes if delineation.pacing_spikes is not None else ():
            ax.axvline(spike / record.fs, color="tab:blue", linestyle=":", linewidth=0.8)
    axes[-1].set_xlabel("time (s)")
    if title is None:
        title = f"{record.record_id or 'ECG'} — {record.fs:g} Hz, {record.duration_s:.1f} s"
        if delineation is not None:
            qrs = delineation.qrs_durations_ms[delineation.valid]
            median = f"{np.median(qrs):.0f} ms" if len(qrs) else "n/a"
            title += f", {delineation.n_beats} beats ({int(delineation.valid.sum())} valid), QRS {median}"
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        publish(tmp, out)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out
