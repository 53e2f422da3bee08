"""P waves: the largest low-frequency multi-lead deflection between the previous T wave and each QRS."""

from __future__ import annotations

import numpy as np

from cardiopredict.ecg._delineation_common import moving_average


def low_frequency_velocity(low: np.ndarray, fs: float) -> np.ndarray:
    """Spatial velocity (mV/s) of the 0.5–15 Hz leads ``low`` (n_leads, n_samples), smoothed over 20 ms."""
    velocity = np.sqrt((np.gradient(low, axis=1) ** 2).sum(axis=0)) * fs
    return moving_average(velocity, int(0.02 * fs))


def find_p_wave(
    low: np.ndarray, velocity: np.ndarray, start: int, end: int, fs: float
) -> tuple[int, int] | None:
    """The P wave in ``[start, end)`` as (onset, peak) samples, or None when no deflection stands out.

    ``low`` is the 0.5–15 Hz signal (n_leads, n_samples); ``velocity`` its smoothed spatial velocity.
    A P wave is the largest multi-lead deflection from the straight line joining the window's ends, at
    least 0.05 mV, 2.5 times the window's median deflection, and not at the window's edges.
    """
    start, end = max(int(start), 0), min(int(end), low.shape[1])
    if end - start < int(0.08 * fs):
        return None
    segment = low[:, start:end]
    ramp = np.linspace(0.0, 1.0, segment.shape[1])
    line = segment[:, :1] + (segment[:, -1:] - segment[:, :1]) * ramp
    magnitude = np.sqrt(((segment - line) ** 2).sum(axis=0))
    peak = int(np.argmax(magnitude))
    margin = int(0.02 * fs)
    if peak < margin or peak > segment.shape[1] - margin or magnitude[peak] < 0.05:
        return None
    if magnitude[peak] < 2.5 * np.median(magnitude):
        return None
    peak_at = start + peak
    v = velocity[start : peak_at + 1]
    rising = v[: int(np.argmax(v)) + 1]
    below = np.flatnonzero(rising < 0.2 * v.max())
    onset = start + int(below[-1]) if len(below) else start
    return onset, peak_at


def find_p_waves(
    low: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """P onset and peak before each QRS, shape (n_beats,) each, int64, -1 where none.

    ``low`` are the 0.5–15 Hz leads (n_leads, n_samples, NaN-free); ``onsets``/``offsets`` the QRS
    edges. The search starts 400 ms before the QRS or at the previous beat's T-wave end (offset + 200 ms
    + 200 ms·sqrt(RR in s)), whichever is later, and ends 20 ms before the QRS.
    """
    n_beats = len(onsets)
    p_onsets = np.full(n_beats, -1, dtype=np.int64)
    p_peaks = np.full(n_beats, -1, dtype=np.int64)
    velocity = low_frequency_velocity(low, fs)
    for k in range(n_beats):
        t_end = 0
        if k > 0:
            rr = (onsets[k] - onsets[k - 1]) / fs
            t_end = offsets[k - 1] + int((0.2 + 0.2 * np.sqrt(max(rr, 0.2))) * fs)
        start = max(int(onsets[k] - 0.40 * fs), t_end, 0)
        found = find_p_wave(low, velocity, start, int(onsets[k] - 0.02 * fs), fs)
        if found is not None:
            p_onsets[k], p_peaks[k] = found
    return p_onsets, p_peaks
