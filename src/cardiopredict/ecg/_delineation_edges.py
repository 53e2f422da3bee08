"""QRS edges of one beat from the spatial velocity: the threshold edges and the calibrated edge model."""

from __future__ import annotations

import numpy as np

from cardiopredict.ecg._delineation_common import DelineationParams, moving_average, p10


def _walk(above: np.ndarray, start: int, step: int, gap: int) -> tuple[int, bool]:
    """From ``start`` walk by ``step`` while ``above`` (dips shorter than ``gap`` bridged).

    Returns the last index above threshold and whether a quiet stretch of ``gap`` samples was reached.
    """
    last, below, i = start, 0, start
    while 0 <= i + step < len(above):
        i += step
        if above[i]:
            last, below = i, 0
        else:
            below += 1
            if below >= gap:
                return last, True
    return last, False


def _refine(sv: np.ndarray, edge: int, threshold: float, limit: int, step: int) -> int:
    """Move a QRS edge outwards (``step`` -1: onset, +1: offset) to where ``sv`` reaches ``threshold``."""
    stop = max(0, min(len(sv) - 1, edge + step * limit))
    window = sv[min(edge, stop) : max(edge, stop) + 1]
    if step < 0:
        window = window[::-1]
    quiet = np.flatnonzero(window <= threshold)
    offset = int(quiet[0]) if len(quiet) else int(np.argmin(window))
    return edge + step * offset


def qrs_run(
    sv: np.ndarray, lo: int, hi: int, centre: int, params: DelineationParams, fs: float
) -> tuple[int, int, int, bool]:
    """Threshold edges of the beat near ``centre`` in the spatial velocity ``sv`` (mV/s), within [lo, hi).

    Returns the global onset, offset (exclusive), index of max ``sv`` and whether both ends of the QRS
    core closed inside the window.
    """
    around = max(int(0.06 * fs), 1)
    a, b = max(lo, centre - around), min(hi, centre + around + 1)
    peak_at = a + int(np.argmax(sv[a:b]))
    peak = sv[peak_at]
    span = max(int(0.25 * fs), 1)
    base_on = p10(sv[max(lo, peak_at - span) : peak_at + 1])
    base_off = p10(sv[peak_at : min(hi, peak_at + span)])
    gap = max(round(params.gap_ms * fs / 1000), 1)
    segment = sv[lo:hi]
    rel = peak_at - lo
    # 1) the QRS core: sv above a robust fraction of the beat's peak, short dips bridged
    start, closed_on = _walk(segment > base_on + params.core_fraction * (peak - base_on), rel, -1, gap)
    end, closed_off = _walk(segment > base_off + params.core_fraction * (peak - base_off), rel, +1, gap)
    # 2) the edges: walk out to where sv is back at its local baseline level
    limit_on = max(int(params.onset_search_ms * fs / 1000), 1)
    limit_off = max(int(params.offset_search_ms * fs / 1000), 1)
    thr_on = base_on + params.onset_fraction * (peak - base_on)
    thr_off = base_off + params.offset_fraction * (peak - base_off)
    onset = _refine(segment, start, thr_on, limit_on, -1)
    offset = _refine(segment, end, thr_off, limit_off, +1)
    return lo + onset, lo + offset + 1, peak_at, bool(closed_on and closed_off)


def _edge_features(
    sv: np.ndarray, speed: np.ndarray, onset: int, offset: int, fs: float
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Edge candidates of one beat for the edge model, in ms relative to its spatial-velocity peak.

    ``sv`` is the spatial velocity, ``speed`` (n_leads, n_samples) every lead's absolute slope in mV/s,
    ``onset``/``offset`` the threshold edges of :func:`_qrs_run`. From the peak of ``sv`` in between, the
    core (``sv`` above 10 % of the peak over its local baseline, dips < 6 ms bridged) is walked out to
    where ``sv`` falls to 0.5 % and 4 % (onset) / 0.5 % (offset) of the peak. Per lead, the last sample
    above 10 % and 20 % of that lead's peak slope (from 60 ms before ``onset`` to 60 ms after ``offset``)
    is its offset; the median over leads (10 %) and the third-latest (20 %) are kept.

    Returns
    -------
    (onset_features (2,), offset_features (3,), peak sample) or None when no lead shows the QRS.
    """
    if offset <= onset:
        return None
    n = len(sv)
    peak_at = onset + int(np.argmax(sv[onset:offset]))
    peak = sv[peak_at]
    span = max(int(0.25 * fs), 1)
    base_on = float(p10(sv[max(0, peak_at - span) : peak_at + 1]))
    base_off = float(p10(sv[peak_at : min(n, peak_at + span)]))
    gap = max(round(0.006 * fs), 1)
    core_on = _walk(sv > base_on + 0.1 * (peak - base_on), peak_at, -1, gap)[0]
    core_off = _walk(sv > base_off + 0.1 * (peak - base_off), peak_at, +1, gap)[0]
    limit = max(int(0.06 * fs), 1)
    on_fine = _refine(sv, core_on, base_on + 0.005 * (peak - base_on), limit, -1)
    on_coarse = _refine(sv, core_on, base_on + 0.04 * (peak - base_on), limit, -1)
    off_fine = _refine(sv, core_off, base_off + 0.005 * (peak - base_off), limit, +1) + 1
    a, b = max(onset - limit, 0), min(offset + limit, n)
    window = speed[:, a:b]
    lead_peak = speed[:, onset:offset].max(axis=1)
    lead_base = p10(speed[:, peak_at : min(n, peak_at + span)], axis=1)
    moving = lead_peak >= 1.0  # mV/s: the lead shows this QRS
    if not moving.any():
        return None
    ends = []
    for fraction in (0.1, 0.2):
        level = lead_base + fraction * (lead_peak - lead_base)
        above = window > level[:, None]
        has = above.any(axis=1) & moving
        last = window.shape[1] - np.argmax(above[:, ::-1], axis=1)
        ends.append(np.sort(a + last[has])[::-1])
    if not len(ends[0]) or not len(ends[1]):
        return None
    scale = 1000.0 / fs
    on_features = np.array([on_fine - peak_at, on_coarse - peak_at]) * scale
    off_features = (
        np.array(
            [off_fine - peak_at, np.median(ends[0]) - peak_at, ends[1][min(2, len(ends[1]) - 1)] - peak_at]
        )
        * scale
    )
    return on_features, off_features, peak_at


def lead_speed(gradient: np.ndarray, names: list[str], fs: float) -> np.ndarray:
    """Absolute slope of every lead in mV/s, shape (n_leads, n_samples), smoothed over 8 ms.

    ``gradient`` (n_used, n_samples) is the per-sample slope of the filtered leads ``names``; when I and II
    are among them the four derived limb leads (III, aVR, aVL, aVF) are added, so the per-lead candidates
    see all 12 leads a cardiologist marks.
    """
    rows = [gradient]
    if "I" in names and "II" in names:
        lead_i, lead_ii = gradient[names.index("I")], gradient[names.index("II")]
        rows.append(
            np.stack([lead_ii - lead_i, -(lead_i + lead_ii) / 2, lead_i - lead_ii / 2, lead_ii - lead_i / 2])
        )
    slope = np.abs(np.concatenate(rows)) * fs
    width = round(0.008 * fs)
    return np.stack([moving_average(lead, width) for lead in slope])


def model_edges(
    sv: np.ndarray, speed: np.ndarray, onset: int, offset: int, fs: float, params: DelineationParams
) -> tuple[int, int]:
    """Onset and offset from the edge model (``params.onset_model``/``offset_model``); the threshold
    edges ``onset``/``offset`` when a candidate is missing."""
    found = _edge_features(sv, speed, onset, offset, fs)
    if found is None:
        return onset, offset
    on_features, off_features, peak_at = found
    on_ms = params.onset_model[0] + float(np.dot(params.onset_model[1:], on_features))
    off_ms = params.offset_model[0] + float(np.dot(params.offset_model[1:], off_features))
    new_on = peak_at + round(min(on_ms, 0.0) * fs / 1000)
    new_off = peak_at + round(max(off_ms, 0.0) * fs / 1000)
    return max(new_on, 0), min(new_off, len(sv))


def per_lead_edges(
    filtered: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-lead onset/offset of every beat, shape (n_leads, n_beats) each, int64, -1 where a lead is quiet.

    ``filtered`` is the band-passed record (n_leads, n_samples, mV). Within the global edges +- 20 ms, a
    lead's QRS spans the samples where its absolute slope exceeds 10 % of its maximum (>= 1 mV/s).
    """
    n_leads, n_beats = filtered.shape[0], len(onsets)
    lead_on = np.full((n_leads, n_beats), -1, dtype=np.int64)
    lead_off = np.full((n_leads, n_beats), -1, dtype=np.int64)
    speed = np.abs(np.gradient(filtered, axis=1)) * fs
    pad = int(0.02 * fs)
    for k in range(n_beats):
        a, b = max(int(onsets[k]) - pad, 0), min(int(offsets[k]) + pad, filtered.shape[1])
        for lead in range(n_leads):
            s = speed[lead, a:b]
            if not np.isfinite(s).all() or s.max() < 1.0:  # < 1 mV/s: no QRS in this lead
                continue
            above = np.flatnonzero(s > 0.1 * s.max())
            lead_on[lead, k], lead_off[lead, k] = a + above[0], a + above[-1] + 1
    return lead_on, lead_off
