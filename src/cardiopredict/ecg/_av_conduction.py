"""P waves, the PR interval and AV block of the dominant rhythm, for :func:`cardiopredict.ecg.measure`.

:func:`p_and_av_block` finds the atrial waves between consecutive dominant beats (after QRS-T
cancellation, shaped like the record's own P wave) and decides, from the P waves ``delineate`` found and
those atrial waves, the PR interval and the degree of AV block: first degree (PR > 200 ms), second (a
pause that holds a non-conducted P wave, or more regular atrial than ventricular waves at a constant PR),
third (AV dissociation).
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg.delineation import QRSDelineation, _low_frequency_velocity, find_p_wave
from cardiopredict.ecg.filters import bandpass
from cardiopredict.ecg.record import ECGRecord

P_SHAPE_CORRELATION = 0.6  # an atrial wave's least correlation with the record's median P wave


def _t_end_s(low: np.ndarray, delineation: QRSDelineation, dominant: np.ndarray) -> float:
    """End of the T wave after QRS onset (s), from the median of the dominant beats (0.5–15 Hz leads).

    The T wave is the largest deflection (spatial distance from the level just before QRS onset) between
    60 ms after the median QRS offset and the shorter of 600 ms and 90 % of the shortest RR; its end is where
    the deflection falls below 25 % of that peak. NaN when no beat fits.
    """
    fs = delineation.fs
    onsets = delineation.qrs_onsets[dominant]
    rr = np.diff(delineation.qrs_onsets) / fs
    span = int(min(0.6, 0.9 * float(rr.min())) * fs) if len(rr) else int(0.6 * fs)
    pre = int(0.03 * fs)
    beats = [low[:, o - pre : o + span] for o in onsets if o - pre >= 0 and o + span <= low.shape[1]]
    if len(beats) < 2 or span <= pre:
        return float("nan")
    median = np.median(np.stack(beats), axis=0)
    level = median[:, : pre - int(0.01 * fs)].mean(axis=1, keepdims=True)
    magnitude = np.sqrt(((median - level) ** 2).sum(axis=0))
    width = int(np.median(delineation.qrs_offsets[dominant] - onsets))
    first = pre + width + int(0.06 * fs)
    if first >= magnitude.size - 2:
        return float("nan")
    peak = first + int(np.argmax(magnitude[first:]))
    below = np.flatnonzero(magnitude[peak:] < 0.25 * magnitude[peak])
    end = peak + int(below[0]) if len(below) else magnitude.size
    return (end - pre) / fs


def _atrial_waves(
    low: np.ndarray, delineation: QRSDelineation, dominant: np.ndarray
) -> tuple[np.ndarray, int]:
    """P-wave-like deflections between consecutive dominant beats: (peak samples, intervals searched).

    ``low`` is the 0.5–15 Hz signal (n_leads, n_samples). Each interval is searched from 40 ms after the
    QRS offset to 20 ms before the next QRS. Over the ST-T part (up to 60 ms after the T-wave end of
    :func:`_t_end_s`) the median ST-T of the dominant beats is subtracted first (QRS-T cancellation), so that
    P waves marching through the T waves (AV dissociation) stand out while a P wave at the same place in
    every beat is cancelled there. A deflection counts when it is >= 0.05 mV from the window's median level
    (per lead, after subtracting the PR-segment level), >= 2.5 times the window's median deflection, and
    >= 200 ms from the next one; deflections smaller than 40 % of the median one found are dropped
    (cancellation residuals: the atrial waves of one record are alike), and so are deflections whose shape
    over all leads correlates < 0.6 with the median P wave found before the QRS complexes (when there are
    three or more: T-wave residuals, U waves). On
    sinus rhythm there is one per interval (the conducted P wave, in diastole).
    """
    fs = delineation.fs
    onsets, offsets = delineation.qrs_onsets, delineation.qrs_offsets
    width = int(np.median(offsets[dominant] - onsets[dominant]))
    first = width + int(0.04 * fs)
    t_end = _t_end_s(low, delineation, dominant)
    stop = int((t_end + 0.06) * fs) if np.isfinite(t_end) else first
    template = _st_t_template(low, onsets[dominant], first, stop, fs)
    p_template = _p_template(low, delineation, dominant)
    found: list[np.ndarray] = []
    heights: list[np.ndarray] = []
    intervals = 0
    for k in range(delineation.n_beats - 1):
        if not (dominant[k] and dominant[k + 1]):
            continue
        start, end = int(onsets[k] + first), int(onsets[k + 1] - 0.02 * fs)
        intervals += 1
        if end - start < int(0.1 * fs):
            continue
        segment = low[:, start:end] - _pr_level(low, int(onsets[k]), fs)
        if template is not None:
            segment = _cancel(segment, template, int(0.02 * fs))
        magnitude = np.sqrt(((segment - np.median(segment, axis=1, keepdims=True)) ** 2).sum(axis=0))
        height = max(0.05, 2.5 * float(np.median(magnitude)))
        peaks, properties = sps.find_peaks(magnitude, height=height, distance=int(0.2 * fs))
        if p_template is not None:  # only deflections shaped like the record's P wave
            alike = [_alike(segment, int(j), p_template, int(0.03 * fs), P_SHAPE_CORRELATION) for j in peaks]
            peaks, properties["peak_heights"] = peaks[alike], properties["peak_heights"][alike]
        found.append(start + peaks)
        heights.append(properties["peak_heights"])
    if not found:
        return np.zeros(0, dtype=np.int64), intervals
    positions, sizes = np.concatenate(found), np.concatenate(heights)
    # the record's P waves are alike: drop deflections far smaller than the typical one (residuals)
    keep = sizes >= 0.4 * np.median(sizes) if len(sizes) else np.zeros(0, dtype=bool)
    return positions[keep], intervals


def _pr_level(low: np.ndarray, onset: int, fs: float) -> np.ndarray:
    """PR-segment level (20 to 4 ms before the QRS onset at ``onset``) of each lead, (n_leads, 1)."""
    pr_a, pr_b = int(0.02 * fs), int(0.004 * fs)
    return low[:, max(onset - pr_a, 0) : max(onset - pr_b, 1)].mean(axis=1, keepdims=True)


def _st_t_template(
    low: np.ndarray, onsets: np.ndarray, first: int, stop: int, fs: float
) -> np.ndarray | None:
    """Median ST-T (samples ``first`` to ``stop`` after each QRS onset, PR level removed) of the beats at
    ``onsets``, ending at 0; None when the stretch is <= 80 ms or fewer than 4 beats hold it."""
    if stop - first <= int(0.08 * fs):
        return None
    segments = [
        low[:, o + first : o + stop] - _pr_level(low, int(o), fs)
        for o in onsets
        if o + stop <= low.shape[1] and o >= int(0.02 * fs)
    ]
    if len(segments) < 4:
        return None
    template = np.median(np.stack(segments), axis=0)
    return template - template[:, -1:]  # joins the diastole without a step


def _p_template(low: np.ndarray, delineation: QRSDelineation, dominant: np.ndarray) -> np.ndarray | None:
    """Median P wave (n_leads, 2·50 ms + 1) around the P peaks ``delineate`` found before dominant beats;
    None with fewer than 3."""
    if delineation.p_peaks is None:
        return None
    half = int(0.05 * delineation.fs)
    peaks = delineation.p_peaks[dominant & (delineation.p_peaks >= 0)]
    segments = [low[:, p - half : p + half + 1] for p in peaks if p - half >= 0 and p + half < low.shape[1]]
    if len(segments) < 3:
        return None
    template = np.median(np.stack(segments), axis=0)
    return template - template.mean(axis=1, keepdims=True)


def _alike(segment: np.ndarray, at: int, template: np.ndarray, max_lag: int, threshold: float) -> bool:
    """Whether the best correlation (all leads together, lags up to ``max_lag`` samples) of ``segment``
    around sample ``at`` with ``template`` (n_leads, 2·half + 1) reaches ``threshold``; True when too
    close to the segment's edge to judge.

    The lags are tried nearest first and the search stops at the first that reaches ``threshold``:
    the same answer as the best of all lags, at a fraction of the cost for the P waves themselves.
    """
    half = template.shape[1] // 2
    template_norm = np.linalg.norm(template)
    judged = False  # some lag correlated above -1 (the best of all lags would not be the default)
    for centre in sorted(range(at - max_lag, at + max_lag + 1), key=lambda c: abs(c - at)):
        a, b = centre - half, centre + half + 1
        if a < 0 or b > segment.shape[1]:
            continue
        local = segment[:, a:b] - segment[:, a:b].mean(axis=1, keepdims=True)
        norm = float(np.linalg.norm(local) * template_norm)
        if norm > 0:
            correlation = float((local * template).sum() / norm)
            if correlation >= threshold:
                return True
            judged = judged or correlation > -1.0
    return not judged


def _cancel(segment: np.ndarray, template: np.ndarray, max_shift: int) -> np.ndarray:
    """``segment`` (n_leads, n) minus ``template`` (n_leads, m) placed at its start, shifted by the lag in
    ``[-max_shift, max_shift]`` samples that leaves the least residual (repolarisation moves with the RR)."""
    n, m = segment.shape[1], template.shape[1]
    best, best_norm = None, np.inf
    for shift in range(-max_shift, max_shift + 1):
        # template sample j lands on segment sample j + shift
        a, b = max(shift, 0), min(m + shift, n)
        if b - a < m // 2:
            continue
        diff = segment[:, a:b] - template[:, a - shift : b - shift]
        norm = float((diff**2).sum())
        if norm < best_norm:
            best, best_norm = (a, b, shift), norm
    out = segment.copy()
    if best is not None:
        a, b, shift = best
        out[:, a:b] -= template[:, a - shift : b - shift]
    return out


def p_and_av_block(record: ECGRecord, delineation: QRSDelineation) -> tuple[float, int]:
    """PR interval (ms, NaN when not measurable) and AV block degree (0–3) of the dominant rhythm."""
    fs = delineation.fs
    p_on = delineation.p_onsets
    n = delineation.n_beats
    if p_on is None or n < 3:
        return float("nan"), 0
    ectopic = delineation.ectopic if delineation.ectopic is not None else np.zeros(n, dtype=bool)
    dominant = ~ectopic
    if dominant.sum() < 3:
        return float("nan"), 0
    onsets = delineation.qrs_onsets
    # the dominant ventricular rhythm: intervals between consecutive non-ectopic beats
    pairs = dominant[:-1] & dominant[1:]
    rr = np.diff(onsets).astype(np.float64) * 1000.0 / fs
    dominant_rr = rr[pairs]
    if len(dominant_rr) < 2:
        return float("nan"), 0
    has_p = (p_on >= 0) & dominant
    pr = (onsets - p_on)[has_p] * 1000.0 / fs
    consistent = len(pr) >= 2 and np.subtract(*np.percentile(pr, [75, 25])) <= 40
    low = bandpass(record.signal, fs, low_hz=0.5, high_hz=min(15.0, 0.45 * fs))
    low = np.where(np.isnan(low), 0.0, low)
    # more atrial than ventricular waves on a regular ventricular rhythm: P waves are not conducted
    atrial, intervals = _atrial_waves(low, delineation, dominant)
    atrial = np.sort(atrial)
    extra_atrial = _extra_atrial_rhythm(atrial, intervals, dominant_rr, fs)
    if extra_atrial and (_dissociated(atrial, onsets[dominant], fs) or not consistent):
        return float("nan"), 3
    if not consistent or not (
        has_p.sum() >= 0.5 * dominant.sum() or _steady_lead_in(atrial, onsets, dominant, fs)
    ):
        return float("nan"), 0
    pr_ms = float(np.median(pr))
    if extra_atrial or _blocked_pause(low, delineation, dominant, rr, dominant_rr, pr_ms):
        return pr_ms, 2
    return pr_ms, 1 if pr_ms > 200 else 0


def _extra_atrial_rhythm(atrial: np.ndarray, intervals: int, dominant_rr: np.ndarray, fs: float) -> bool:
    """More atrial waves than ventricular intervals (>= 1.3 per interval) on a regular ventricular
    rhythm (RR coefficient of variation < 0.15), and an atrial rhythm of its own: regular P-P intervals
    (>= 60 % within 15 % of their median), faster than the ventricles (median P-P <= 75 % of the RR)."""
    regular = dominant_rr.std() / dominant_rr.mean() < 0.15
    pp = np.diff(np.sort(atrial)) * 1000.0 / fs
    atrial_rhythm = len(pp) >= 3 and (
        np.mean(np.abs(pp - np.median(pp)) <= 0.15 * np.median(pp)) >= 0.6
        and np.median(pp) <= 0.75 * np.median(dominant_rr)
    )
    return bool(regular and intervals >= 2 and len(atrial) >= 1.3 * intervals and atrial_rhythm)


def _dissociated(atrial: np.ndarray, dominant_onsets: np.ndarray, fs: float) -> bool:
    """AV dissociation: the atrial wave before each QRS comes at a varying interval."""
    before = []
    for onset in dominant_onsets:
        earlier = atrial[(atrial < onset) & (atrial > onset - int(0.6 * fs))]
        if len(earlier):
            before.append((onset - earlier[-1]) * 1000.0 / fs)
    return len(before) >= 3 and bool(
        np.subtract(*np.percentile(before, [75, 25])) > 40 or np.ptp(before) > 50
    )


def _steady_lead_in(atrial: np.ndarray, onsets: np.ndarray, dominant: np.ndarray, fs: float) -> bool:
    """An atrial wave precedes most QRS complexes at a constant interval (80–450 ms, IQR <= 40 ms):
    P waves present although ``delineate`` missed them (close to the previous T wave)."""
    lead_in = [(o - atrial[atrial < o][-1]) * 1000.0 / fs for o in onsets[dominant] if (atrial < o).any()]
    lead_in = [v for v in lead_in if 80 <= v <= 450]
    return len(lead_in) >= 0.5 * dominant.sum() and bool(np.subtract(*np.percentile(lead_in, [75, 25])) <= 40)


def _blocked_pause(
    low: np.ndarray,
    delineation: QRSDelineation,
    dominant: np.ndarray,
    rr: np.ndarray,
    dominant_rr: np.ndarray,
    pr_ms: float,
) -> bool:
    """Second-degree block: a pause holding a P wave that no QRS follows.

    The pause is measured against the shorter conducted cycles (3:2 conduction alternates short and
    long), and a pause that starts at an ectopic beat is its compensatory pause, not a block.
    """
    fs, onsets, p_on = delineation.fs, delineation.qrs_onsets, delineation.p_onsets
    reference = float(np.percentile(dominant_rr, 25))
    pauses = [k for k in np.flatnonzero(rr > 1.6 * reference) if dominant[k] and dominant[k + 1]]
    if not pauses:
        return False
    velocity = _low_frequency_velocity(low, fs)
    t_end = _t_end_s(low, delineation, dominant)
    for k in pauses:
        # after the T wave of beat k, before the P wave (or QRS) of beat k + 1
        start = delineation.qrs_offsets[k] + int(0.35 * fs)
        if np.isfinite(t_end):  # the measured T-wave end when it comes earlier
            start = min(start, onsets[k] + int((t_end + 0.04) * fs))
        # the next beat's own P wave (where the median PR puts it when not found) is not in the window
        anchor = p_on[k + 1] if p_on[k + 1] >= 0 else onsets[k + 1] - int(pr_ms * fs / 1000)
        if find_p_wave(low, velocity, start, anchor - int(0.04 * fs), fs) is not None:
            return True
    return False
