"""Beat detection: usable leads, clipped samples, one candidate per QRS, T waves dropped, ectopic beats."""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg._delineation_common import DelineationParams
from cardiopredict.ecg.record import ECGRecord


def usable_rows(record: ECGRecord, params: DelineationParams) -> tuple[list[int], list[str]]:
    """Rows of ``params.leads`` (all rows when none is present) that are >= 50 % finite and not flat
    (>= 0.02 mV between the 0.5th and 99.5th percentiles), and a description of each row left out."""
    preferred = [record.leads.index(name) for name in params.leads if name in record.leads]
    rows = preferred or list(range(len(record.leads)))
    usable, problems = [], []
    for row in rows:
        lead = record.signal[row]
        finite = np.isfinite(lead)
        name = record.leads[row]
        if finite.mean() < 0.5:
            problems.append(f"{name}: {100 * (1 - finite.mean()):.0f}% NaN")
            continue
        values = lead[finite]
        spread = float(np.percentile(values, 99.5) - np.percentile(values, 0.5))
        if spread < 0.02:
            problems.append(f"{name}: flat ({spread:.3f} mV peak-to-peak)")
            continue
        usable.append(row)
    return usable, problems


def clipped_mask(signal: np.ndarray, fs: float) -> np.ndarray:
    """Samples where a lead sits at its extreme value, away from its baseline, for >= 20 ms (clipping)."""
    mask = np.zeros(signal.shape, dtype=bool)
    run = max(round(0.020 * fs), 3)
    for row, lead in enumerate(signal):
        finite = np.isfinite(lead)
        if not finite.any():
            continue
        median = float(np.nanmedian(lead))
        spread = float(np.nanmax(lead) - np.nanmin(lead))
        for extreme in (np.nanmax(lead), np.nanmin(lead)):
            if abs(extreme - median) < 0.5 * spread:  # a flat baseline, not a rail
                continue
            at = np.isclose(lead, extreme, rtol=0, atol=1e-6) & finite
            if at.sum() < run:
                continue
            counts = np.convolve(at.astype(int), np.ones(run, dtype=int), mode="same")
            full = counts >= run
            if full.any():
                mask[row] |= np.convolve(full.astype(int), np.ones(run, dtype=int), mode="same") > 0
    return mask


def detect_beats(env: np.ndarray, velocity: np.ndarray, fs: float, params: DelineationParams) -> np.ndarray:
    """Sample of every QRS: peaks of the 80 ms ``env`` of the spatial velocity ``velocity`` (mV/s).

    Peaks >= 250 ms apart above ``detection_fraction`` of the 90th percentile of all peaks; a candidate
    soon after a beat with less energy or far slower slopes is that beat's T wave, unless
    :func:`_ectopic_in_pauses` restores it. Returns an int array of shape (n_beats,).
    """
    distance = max(int(0.25 * fs), 1)
    candidates, _ = sps.find_peaks(env, distance=distance)
    if len(candidates) == 0:
        return candidates
    heights = env[candidates]
    reference = np.percentile(heights, 90)
    beats = candidates[heights >= params.detection_fraction * reference]
    # a candidate soon after a beat with less energy, or far slower slopes, is that beat's T wave
    half = max(int(0.06 * fs), 1)
    steepest = np.array([velocity[max(b - half, 0) : b + half + 1].max() for b in beats])
    keep = np.ones(len(beats), dtype=bool)
    for k in range(1, len(beats)):
        previous = k - 1
        while previous >= 0 and not keep[previous]:
            previous -= 1
        if previous < 0:
            continue
        lag = beats[k] - beats[previous]
        weaker = lag < 0.36 * fs and env[beats[k]] < 0.5 * env[beats[previous]]
        slower = (
            lag < 0.45 * fs
            and steepest[k] < params.t_slope_fraction * steepest[previous]
            and env[beats[k]] < env[beats[previous]]
        )
        if weaker or slower:
            keep[k] = False
    return beats[keep | _ectopic_in_pauses(beats, keep, fs, params)]


def _ectopic_in_pauses(
    beats: np.ndarray, keep: np.ndarray, fs: float, params: DelineationParams
) -> np.ndarray:
    """Candidates dropped as T waves that are premature beats instead (mask over ``beats``).

    A T wave belongs to the beat before it: dropping it leaves the rhythm as it was. A premature
    (ectopic) beat replaces a beat of the rhythm: dropping it leaves a pause — previous to next kept beat
    longer than ``pause_factor`` times the median interval of the kept beats (a compensatory pause). A
    dropped candidate is restored when it sits in such a pause, at least ``min_coupling_s`` after the
    previous beat, and at a lag that differs by more than ``t_lag_tolerance_s`` from the lag of the
    record's recurring T waves (dropped candidates that leave no pause), so that a T wave inside an AV
    block's or a sinus pause stays dropped. Bigeminy (every other beat premature) leaves no pause and is
    not recovered.
    """
    restore = np.zeros(len(beats), dtype=bool)
    kept = np.flatnonzero(keep)
    dropped = np.flatnonzero(~keep)
    if len(kept) < 3 or not len(dropped):
        return restore
    rr_median = float(np.median(np.diff(beats[kept])))
    # per dropped candidate: lag after the previous kept beat (s) and the interval it sits in (in RRs)
    lags = np.full(len(dropped), np.nan)
    interval = np.full(len(dropped), np.nan)  # NaN: no following kept beat (end of the record)
    for i, k in enumerate(dropped):
        before, after = kept[kept < k], kept[kept > k]
        if not len(before):
            continue
        lags[i] = (beats[k] - beats[before[-1]]) / fs
        if len(after):
            interval[i] = (beats[after[0]] - beats[before[-1]]) / rr_median
    recurring = lags[np.isfinite(lags) & (interval <= 1.3)]  # T waves inside ordinary intervals
    t_lag = float(np.median(recurring)) if len(recurring) else np.nan

    def not_t_lag(lag: float) -> bool:
        return not (np.isfinite(t_lag) and abs(lag - t_lag) <= params.t_lag_tolerance_s)

    pause = (interval > params.pause_factor) & (lags >= params.min_coupling_s)
    for i in np.flatnonzero(pause):
        restore[dropped[i]] = not_t_lag(lags[i])
    # at the end of the record no pause can be seen: restore a candidate with the coupling of a restored one
    couplings = lags[pause & restore[dropped]]
    for i in np.flatnonzero(np.isnan(interval) & np.isfinite(lags)):
        same = len(couplings) and np.min(np.abs(couplings - lags[i])) <= params.t_lag_tolerance_s
        restore[dropped[i]] = bool(same) and not_t_lag(lags[i])
    return restore


def ectopic_beats(
    work: np.ndarray,
    onsets: np.ndarray,
    offsets: np.ndarray,
    peaks: np.ndarray,
    valid: np.ndarray,
    fs: float,
) -> np.ndarray:
    """Premature beats whose QRS differs from the dominant one (see ``QRSDelineation.ectopic``).

    ``work`` is the filtered signal of the leads used (n_leads, n_samples); ``peaks`` the R peaks. The
    dominant QRS is the median width of the valid beats and the median over them of the first 120 ms
    after onset.
    """
    n_beats = len(onsets)
    ectopic = np.zeros(n_beats, dtype=bool)
    if n_beats < 3 or valid.sum() < 3:
        return ectopic
    # premature: early after the previous beat, by the onsets and by the peaks alike (so that an
    # unsteady onset alone does not make a beat premature)
    premature = np.ones(n_beats, dtype=bool)
    premature[0] = False
    for marks in (onsets, peaks):
        rr = np.diff(marks).astype(np.float64)
        early = rr < 0.85 * np.median(rr)
        premature[1:] &= early
        # followed by a longer interval (compensatory pause) or itself early (interpolated beat)
        premature[1:-1] &= (rr[1:] > 1.15 * rr[:-1]) | early[1:]
    if not premature.any():
        return ectopic
    widths = (offsets - onsets).astype(np.float64) * 1000.0 / fs
    length = int(0.12 * fs)
    fits = valid & (onsets + length <= work.shape[1])
    if fits.sum() < 3:
        return ectopic
    index = np.flatnonzero(fits)
    segments = np.stack([work[:, onsets[k] : onsets[k] + length].ravel() for k in index])
    segments -= segments.mean(axis=1, keepdims=True)
    template = np.median(segments, axis=0)
    norm = np.linalg.norm(segments, axis=1) * np.linalg.norm(template)
    correlation = np.ones(n_beats)
    correlation[index] = segments @ template / np.where(norm > 0, norm, 1.0)
    different = (np.abs(widths - np.median(widths[valid])) > 20.0) | (correlation < 0.8)
    return premature & different
