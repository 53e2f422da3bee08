"""Pacing stimuli: find them, bridge them before filtering, and start a paced QRS at its stimulus."""

from __future__ import annotations

import numpy as np


def pacing_spikes(signal: np.ndarray, fs: float, *, max_width_ms: float = 6.0) -> np.ndarray:
    """Samples of pacemaker stimuli: a jump and its opposite return within ``max_width_ms`` in all leads.

    A stimulus is a biphasic step far steeper than any QRS slope: the smaller of its two jumps (the
    spatial norm of the one-sample differences over ``signal``'s leads) exceeds 1.5 times the record's
    99th percentile of one-sample jumps. On LUDB this threshold flags no stimulus in any non-paced record.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    fs : float
        Sampling rate in Hz.
    max_width_ms : float
        Longest stimulus (jump to opposite return), ms.

    Returns
    -------
    ndarray of shape (n_spikes,), int64
        First sample of each stimulus, at least 50 ms apart.
    """
    x = np.nan_to_num(np.asarray(signal, dtype=np.float64))
    step = np.diff(x, axis=1)
    jump = np.sqrt((step**2).sum(axis=0))
    if jump.size < 10:
        return np.zeros(0, dtype=np.int64)
    score = np.zeros_like(jump)
    for lag in range(1, max(int(max_width_ms * fs / 1000), 1) + 1):
        dot = (step[:, :-lag] * step[:, lag:]).sum(axis=0)
        opposite = dot < -0.5 * jump[:-lag] * jump[lag:]
        score[:-lag] = np.maximum(score[:-lag], np.where(opposite, np.minimum(jump[:-lag], jump[lag:]), 0.0))
    reference = np.percentile(jump, 99)
    if reference <= 0:
        return np.zeros(0, dtype=np.int64)
    candidates = np.flatnonzero(score > 1.5 * reference)
    spikes: list[int] = []
    for index in candidates:
        if not spikes or index - spikes[-1] > int(0.05 * fs):
            spikes.append(int(index))
    return np.asarray(spikes, dtype=np.int64)


def remove_spikes(signal: np.ndarray, spikes: np.ndarray, fs: float) -> np.ndarray:
    """Bridge each stimulus (-2 ms to +8 ms) by a straight line in every lead; returns a float64 copy."""
    out = np.array(signal, dtype=np.float64)
    before, after = max(int(0.002 * fs), 1), max(int(0.008 * fs), 2)
    for spike in spikes:
        a, b = max(int(spike) - before, 0), min(int(spike) + after, out.shape[1] - 1)
        if b - a < 2:
            continue
        ramp = np.linspace(0.0, 1.0, b - a + 1)
        out[:, a : b + 1] = out[:, a : a + 1] + (out[:, b : b + 1] - out[:, a : a + 1]) * ramp
    return out


def paced_onset(spikes: np.ndarray, onset: int, peak_at: int, fs: float, *, lead_in_ms: float) -> int | None:
    """The stimulus a QRS starts at, or None when the beat is not paced.

    A stimulus from 50 ms before to 30 ms after ``onset``, or inside the run before its steepest point
    ``peak_at`` when the run starts more than ``lead_in_ms`` before it (a P wave merged with a QRS paced
    at a short AV delay): the QRS starts at the last such stimulus.
    """
    near = (spikes >= onset - int(0.05 * fs)) & (spikes <= onset + int(0.03 * fs))
    inside = (spikes > onset + int(lead_in_ms * fs / 1000)) & (spikes <= peak_at)
    paced_at = spikes[near | inside]
    return int(paced_at[-1]) if len(paced_at) else None
