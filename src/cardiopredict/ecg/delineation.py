"""Multi-lead QRS detection and delineation from the spatial velocity of the 12-lead ECG.

Method (one pass, no per-record tuning):

1. Leads: the eight independent leads (I, II, V1–V6) when present — III, aVR, aVL and aVF are linear
   combinations of I and II and would only weight the limb leads twice. Flat, mostly-NaN leads are dropped.
2. Band-pass 0.5–40 Hz (zero phase) and differentiate: the *spatial velocity*
   ``sv(t) = sqrt(sum_leads (dx/dt)^2)`` in mV/s is large wherever any lead moves fast, i.e. during the QRS.
3. Detection: a 80 ms moving average of ``sv`` has one peak per QRS; peaks above a fraction of the
   record's typical QRS peak (90th percentile of all candidate peaks), at least 250 ms apart, are beats. A
   candidate soon after a beat with less energy (within 360 ms, < half) or with far slower slopes (within
   450 ms, steepest slope < half, less energy) is that beat's T wave and is dropped — unless dropping it
   leaves a pause (previous to next beat > 1.5 × the median RR, a compensatory pause) at a lag that is not
   the record's recurring T-wave lag: then it is a wide premature (ectopic) beat and is kept
   (:func:`_ectopic_in_pauses`). Premature beats whose QRS differs from the dominant one are marked in
   ``QRSDelineation.ectopic``.
4. Delineation: around each beat, the QRS *core* is the run of ``sv`` above ``baseline + 0.1 * (peak -
   baseline)`` that contains the beat's maximum, dips shorter than ``gap_ms`` bridged (baseline: 10th
   percentile of ``sv`` in the 250 ms before/after the peak). Its edges are then moved outwards (at most
   60 ms) to where ``sv`` falls to ``baseline + 1 % (onset) / 1.5 % (offset)`` of the peak: the first and
   last moment any lead moves, i.e. the *global* onset and offset as measurement programs report them.
   These two fractions are the only values calibrated on data: chosen on LUDB records 1–75 against the
   cardiologists' earliest/latest marks, and checked on records 76–150 (docs/BENCHMARKS.md).
   Option ``edge_model=True`` replaces these two edges by a calibrated *edge model* (see
   :data:`ONSET_MODEL`): a linear combination of sturdier candidates — the spatial velocity's 0.5 % and 4 %
   crossings for the onset; its 0.5 % crossing and the median / third-latest per-lead offset (last sample
   above 10 % / 20 % of each of the 12 leads' own peak slope) for the offset — plus a constant, fitted on
   LUDB records 1–75 and checked on 76–150. It tracks the cardiologists' earliest/latest marks more
   closely (error SD onset 8–10 ms instead of 12–13 ms) but, like those marks, places the edges ~10 ms
   further out on clean signals, so it is not the default (docs/BENCHMARKS.md).
5. Pacing: stimuli (biphasic steps far steeper than any QRS slope, see :func:`pacing_spikes`) are bridged
   before filtering; a QRS that follows a stimulus within 50 ms, or whose run holds a stimulus before its
   steepest point more than 80 ms after the run's start (a P wave merged with a QRS paced at a short AV
   delay), starts at the (last) stimulus.
6. P waves: the largest low-frequency (0.5–15 Hz) deflection between the previous T wave and the QRS, if
   it stands out from the baseline; its onset is found on the low-frequency spatial velocity.

Beats that cannot be delineated (QRS run not closed inside its search window, implausible width, NaN or
clipped samples inside the QRS) stay in the arrays with ``valid=False`` and a reason in ``beat_flags``;
nothing is invented. A record without two detectable beats raises :class:`DelineationError`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg.filters import bandpass
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import DelineationError, SamplingRateError

__all__ = ["DelineationParams", "QRSDelineation", "delineate"]

INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class QRSDelineation:
    """QRS complexes of one record: one global value per beat, all leads considered.

    Parameters
    ----------
    r_peaks, qrs_onsets, qrs_offsets : ndarray of shape (n_beats,), int64
        Sample indices of the QRS peak (maximum spatial magnitude), global onset (earliest over leads)
        and global offset (latest over leads).
    fs : float
        Sampling rate in Hz of the record the indices refer to.
    valid : ndarray of shape (n_beats,), bool
        False for beats that could not be delineated reliably; see ``beat_flags``.
    per_lead_onsets, per_lead_offsets : ndarray of shape (n_leads, n_beats), int64, optional
        Per-lead onset/offset (record lead order), -1 where a lead shows no QRS or was unusable.
        Filled only with ``delineate(record, per_lead=True)``.
    p_onsets, p_peaks : ndarray of shape (n_beats,), int64, optional
        P-wave onset and peak preceding each QRS, -1 where no P wave was found.
    beat_flags : tuple of tuple of str
        Per beat, why it is not valid (``"unbounded"``, ``"edge"`` — within 40 ms of the recording's start or
        end —, ``"width"``, ``"nan"``, ``"clipped"``); empty when valid.
    leads_used : tuple of str
        Leads the global delineation was computed from.
    paced : ndarray of shape (n_beats,), bool, optional
        True where a pacing stimulus precedes the QRS (its onset is then the stimulus).
    pacing_spikes : ndarray of shape (n_spikes,), int64, optional
        Samples of the pacing stimuli found (atrial and ventricular); removed before delineation.
    ectopic : ndarray of shape (n_beats,), bool, optional
        True for a premature beat (RR before it < 85 % of the median RR, and either > 15 % shorter than
        the RR after it or followed by another short RR: an interpolated beat) whose QRS differs from the
        record's dominant QRS (width off by > 20 ms or shape correlation < 0.8): a ventricular ectopic
        (or aberrant) beat. Such beats stay ``valid`` (they are delineated); measurements of the dominant
        rhythm leave them out.
    """

    r_peaks: np.ndarray
    qrs_onsets: np.ndarray
    qrs_offsets: np.ndarray
    fs: float
    valid: np.ndarray
    per_lead_onsets: np.ndarray | None = None
    per_lead_offsets: np.ndarray | None = None
    p_onsets: np.ndarray | None = None
    p_peaks: np.ndarray | None = None
    beat_flags: tuple[tuple[str, ...], ...] = ()
    leads_used: tuple[str, ...] = ()
    paced: np.ndarray | None = None
    pacing_spikes: np.ndarray | None = None
    ectopic: np.ndarray | None = None

    @property
    def n_beats(self) -> int:
        """Number of detected beats (valid or not)."""
        return len(self.r_peaks)

    @property
    def qrs_durations_ms(self) -> np.ndarray:
        """QRS duration of every beat in ms, shape (n_beats,), float64."""
        return (self.qrs_offsets - self.qrs_onsets).astype(np.float64) * 1000.0 / self.fs

    @property
    def rr_intervals_ms(self) -> np.ndarray:
        """Intervals between consecutive R peaks in ms, shape (n_beats - 1,), float64."""
        return np.diff(self.r_peaks).astype(np.float64) * 1000.0 / self.fs

    def to_dict(self) -> dict:
        """Plain-JSON form (lists of ints, fs, valid flags)."""
        out = {
            "fs": self.fs,
            "r_peaks": self.r_peaks.tolist(),
            "qrs_onsets": self.qrs_onsets.tolist(),
            "qrs_offsets": self.qrs_offsets.tolist(),
            "qrs_durations_ms": [round(v, 1) for v in self.qrs_durations_ms.tolist()],
            "valid": self.valid.tolist(),
            "beat_flags": [list(flags) for flags in self.beat_flags],
            "leads_used": list(self.leads_used),
        }
        if self.p_onsets is not None:
            out["p_onsets"] = self.p_onsets.tolist()
        if self.paced is not None:
            out["paced"] = self.paced.tolist()
            out["pacing_spikes"] = self.pacing_spikes.tolist() if self.pacing_spikes is not None else []
        if self.ectopic is not None:
            out["ectopic"] = self.ectopic.tolist()
        return out


@dataclass(frozen=True)
class DelineationParams:
    """Parameters of :func:`delineate` (physiological, not fitted to any record).

    Parameters
    ----------
    leads : tuple of str
        Leads to use when present (default: the eight independent leads).
    band_hz : (float, float)
        Band-pass before differentiation.
    min_fs_hz : float
        Lowest sampling rate accepted.
    detection_fraction : float
        A beat's envelope peak must exceed this fraction of the record's typical QRS peak.
    t_slope_fraction : float
        A candidate within 450 ms of a beat, with less energy and a steepest slope below this fraction of
        the beat's, is taken as its T wave (an ectopic beat has more energy than the beat before it).
    core_fraction : float
        Threshold between local baseline (0) and beat peak (1) of the spatial velocity that bounds the QRS
        core (robust to noise).
    onset_fraction, offset_fraction : float
        Lower threshold the onset/offset are moved out to from the core's edges (searching at most
        ``onset_search_ms`` / ``offset_search_ms``; the quietest sample there when it is not reached).
    onset_search_ms, offset_search_ms : float
        How far before/after the core the onset/offset may lie.
    gap_ms : float
        Dips of the spatial velocity shorter than this do not split a QRS.
    min_qrs_ms, max_qrs_ms : float
        Plausible global QRS width; beats outside are flagged ``"width"``.
    per_lead : bool
        Also delineate each lead separately (slower).
    powerline_hz : float or None
        Notch this frequency (50 or 60) before delineation.
    pacing : bool
        Find pacing stimuli, remove them before filtering, and start paced QRS complexes at the stimulus.
    paced_lead_in_ms : float
        A stimulus inside a QRS run, before its steepest point, more than this after the run's start
        makes the stimulus the onset (the run began with a P wave merged with a paced QRS). 80 ms leaves
        LUDB's paced beats as they were; 0 also moves LUDB paced onsets that start 30-80 ms before
        their stimulus (onset error SD 12.6 -> 11.3 ms, but mean 3.5 -> 4.0 ms; 2026-11-24).
    pause_factor, min_coupling_s, t_lag_tolerance_s : float
        A candidate dropped as a T wave is restored as an ectopic beat when, without it, the interval
        between its neighbours exceeds ``pause_factor`` × the median RR, it comes >= ``min_coupling_s``
        after the previous beat, and its lag differs by more than ``t_lag_tolerance_s`` from the lag of the
        record's recurring T waves.
    edge_model : bool
        Place onset and offset with the calibrated edge model (:data:`ONSET_MODEL`, :data:`OFFSET_MODEL`)
        instead of the ``onset_fraction``/``offset_fraction`` thresholds. Closer to LUDB's
        earliest/latest-of-12-leads marks beat by beat; QRS about 20 ms longer on noise-free signals.
    """

    leads: tuple[str, ...] = INDEPENDENT_LEADS
    band_hz: tuple[float, float] = (0.5, 40.0)
    min_fs_hz: float = 200.0
    detection_fraction: float = 0.3
    t_slope_fraction: float = 0.5
    core_fraction: float = 0.1
    onset_fraction: float = 0.01
    offset_fraction: float = 0.015
    onset_search_ms: float = 60.0
    offset_search_ms: float = 60.0
    gap_ms: float = 20.0
    min_qrs_ms: float = 40.0
    max_qrs_ms: float = 300.0
    per_lead: bool = False
    powerline_hz: float | None = None
    pacing: bool = True
    edge_model: bool = False
    paced_lead_in_ms: float = 80.0
    pause_factor: float = 1.5
    min_coupling_s: float = 0.3
    t_lag_tolerance_s: float = 0.05

    def __post_init__(self) -> None:
        for name in ("detection_fraction", "core_fraction", "onset_fraction", "offset_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise DelineationError(f"{name}={value!r} must lie strictly between 0 and 1.")


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    width = max(int(width), 1)
    if width == 1:
        return x
    kernel = np.ones(width) / width
    return np.convolve(x, kernel, mode="same")


def _usable_rows(record: ECGRecord, params: DelineationParams) -> tuple[list[int], list[str]]:
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


def _clipped_mask(signal: np.ndarray, fs: float) -> np.ndarray:
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


def _p10(x: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """10th percentile along ``axis`` (linear interpolation, as ``np.percentile``), via partial sort."""
    n = x.shape[axis]
    position = 0.1 * (n - 1)
    low = int(position)
    high = min(low + 1, n - 1)
    part = np.partition(x, (low, high) if high > low else low, axis=axis)
    a, b = np.take(part, low, axis=axis), np.take(part, high, axis=axis)
    return a + (b - a) * (position - low)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start (inclusive) and end (exclusive) indices of True runs."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


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


def _qrs_run(
    sv: np.ndarray, lo: int, hi: int, centre: int, params: DelineationParams, fs: float
) -> tuple[int, int, int, bool]:
    """Global onset, offset (exclusive), index of max ``sv`` and whether both ends closed in [lo, hi)."""
    around = max(int(0.06 * fs), 1)
    a, b = max(lo, centre - around), min(hi, centre + around + 1)
    peak_at = a + int(np.argmax(sv[a:b]))
    peak = sv[peak_at]
    span = max(int(0.25 * fs), 1)
    base_on = _p10(sv[max(lo, peak_at - span) : peak_at + 1])
    base_off = _p10(sv[peak_at : min(hi, peak_at + span)])
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
    base_on = float(_p10(sv[max(0, peak_at - span) : peak_at + 1]))
    base_off = float(_p10(sv[peak_at : min(n, peak_at + span)]))
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
    lead_base = _p10(speed[:, peak_at : min(n, peak_at + span)], axis=1)
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


# Edge model (``edge_model=True``): global onset/offset in ms after the beat's spatial-velocity peak as
# (constant, weights...) applied to the candidates of :func:`_edge_features`. Fitted by Huber regression on
# the non-paced beats of LUDB records 1-75 against the earliest/latest of the cardiologists' 12 per-lead
# marks, then run unchanged on records 76-150 (docs/BENCHMARKS.md, 2026-11-24).
ONSET_MODEL: tuple[float, ...] = (-18.6, 0.15, 0.74)
OFFSET_MODEL: tuple[float, ...] = (18.7, 0.17, 0.61, 0.17)


def _lead_speed(gradient: np.ndarray, names: list[str], fs: float) -> np.ndarray:
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
    return np.stack([_moving_average(lead, width) for lead in slope])


def _model_edges(sv: np.ndarray, speed: np.ndarray, onset: int, offset: int, fs: float) -> tuple[int, int]:
    """Onset and offset from the edge model; the threshold edges when a candidate is missing."""
    found = _edge_features(sv, speed, onset, offset, fs)
    if found is None:
        return onset, offset
    on_features, off_features, peak_at = found
    on_ms = ONSET_MODEL[0] + float(np.dot(ONSET_MODEL[1:], on_features))
    off_ms = OFFSET_MODEL[0] + float(np.dot(OFFSET_MODEL[1:], off_features))
    new_on = peak_at + round(min(on_ms, 0.0) * fs / 1000)
    new_off = peak_at + round(max(off_ms, 0.0) * fs / 1000)
    return max(new_on, 0), min(new_off, len(sv))


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


def _remove_spikes(signal: np.ndarray, spikes: np.ndarray, fs: float) -> np.ndarray:
    """Bridge each stimulus (-2 ms to +8 ms) by a straight line in every lead."""
    out = np.array(signal, dtype=np.float64)
    before, after = max(int(0.002 * fs), 1), max(int(0.008 * fs), 2)
    for spike in spikes:
        a, b = max(int(spike) - before, 0), min(int(spike) + after, out.shape[1] - 1)
        if b - a < 2:
            continue
        ramp = np.linspace(0.0, 1.0, b - a + 1)
        out[:, a : b + 1] = out[:, a : a + 1] + (out[:, b : b + 1] - out[:, a : a + 1]) * ramp
    return out


def _detect(env: np.ndarray, velocity: np.ndarray, fs: float, params: DelineationParams) -> np.ndarray:
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


def _low_frequency_velocity(low: np.ndarray, fs: float) -> np.ndarray:
    velocity = np.sqrt((np.gradient(low, axis=1) ** 2).sum(axis=0)) * fs
    return _moving_average(velocity, int(0.02 * fs))


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


def _find_p_waves(
    low: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
    """P onset and peak before each QRS (-1 where none), from 0.5–15 Hz leads ``low`` (n_leads, n)."""
    n_beats = len(onsets)
    p_onsets = np.full(n_beats, -1, dtype=np.int64)
    p_peaks = np.full(n_beats, -1, dtype=np.int64)
    velocity = _low_frequency_velocity(low, fs)
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


def _per_lead(
    filtered: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, fs: float
) -> tuple[np.ndarray, np.ndarray]:
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


def delineate(record: ECGRecord, **options: object) -> QRSDelineation:
    """Detect and delineate every QRS complex of a 12-lead ECG.

    Parameters
    ----------
    record : ECGRecord
        Any length >= 1.5 s, any fs >= 200 Hz (accuracy is validated at 500 Hz on LUDB).
    **options
        Fields of :class:`DelineationParams`, e.g. ``per_lead=True``, ``powerline_hz=50``.

    Returns
    -------
    QRSDelineation

    Raises
    ------
    SamplingRateError
        If ``record.fs`` is below ``min_fs_hz``.
    DelineationError
        If every lead is flat or NaN, the record is shorter than 1.5 s, or fewer than two QRS complexes
        are found.

    Examples
    --------
    >>> d = delineate(record)                      # doctest: +SKIP
    >>> d.qrs_durations_ms[d.valid].mean()         # doctest: +SKIP
    """
    known = {f.name for f in fields(DelineationParams)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise DelineationError(f"delineate: unknown option(s) {unknown}; choose from {sorted(known)}.")
    params = DelineationParams(**options)  # type: ignore[arg-type]
    fs = record.fs
    name = record.record_id or record.meta.get("source") or "record"
    if fs < params.min_fs_hz:
        raise SamplingRateError(
            f"{name}: sampling rate {fs:g} Hz is too low for QRS delineation "
            f"(needs >= {params.min_fs_hz:g} Hz, "
            "250 Hz or more recommended). Re-export the ECG at a higher rate."
        )
    if record.duration_s < 1.5:
        raise DelineationError(
            f"{name}: recording is {record.duration_s:.2f} s long; delineation needs >= 1.5 s (two beats). "
            "Use the full 10-s ECG."
        )
    rows, problems = _usable_rows(record, params)
    if not rows:
        raise DelineationError(
            f"{name}: no usable lead for delineation ({'; '.join(problems)}). "
            "The ECG is flat or missing; check the export and the units."
        )
    raw = record.signal[rows]
    spikes = pacing_spikes(raw, fs) if params.pacing else np.zeros(0, dtype=np.int64)
    if len(spikes):
        raw = _remove_spikes(raw, spikes, fs)
    filtered = raw
    if params.powerline_hz is not None:
        from cardiopredict.ecg.filters import notch

        filtered = notch(filtered, fs, freq_hz=params.powerline_hz)
    high = min(params.band_hz[1], 0.45 * fs)
    filtered = bandpass(filtered, fs, low_hz=params.band_hz[0], high_hz=high)
    nan_mask = np.isnan(filtered)
    work = np.where(nan_mask, 0.0, filtered)
    gradient = np.gradient(work, axis=1)
    velocity = np.sqrt((gradient**2).sum(axis=0)) * fs
    velocity = _moving_average(velocity, round(0.008 * fs))
    envelope = _moving_average(velocity, round(0.08 * fs))

    beats = _detect(envelope, velocity, fs, params)
    if len(beats) < 2:
        raise DelineationError(
            f"{name}: found {len(beats)} QRS complex(es) in {record.duration_s:.1f} s; "
            "at least 2 are needed. "
            "The ECG may be too short, too noisy or not an ECG (check units and leads)."
        )

    clipped = _clipped_mask(raw, fs).any(axis=0)
    nan_any = nan_mask.any(axis=0)
    speed = _lead_speed(gradient, [record.leads[row] for row in rows], fs) if params.edge_model else None
    half_window = int(0.25 * fs)
    edge = int(0.04 * fs)
    n = record.n_samples
    onsets, offsets, peaks, valid, flags, paced = [], [], [], [], [], []
    for k, centre in enumerate(beats):
        lo = max(centre - half_window, 0 if k == 0 else (beats[k - 1] + centre) // 2)
        hi = min(centre + half_window, n if k == len(beats) - 1 else (beats[k + 1] + centre) // 2)
        onset, offset, peak_at, closed = _qrs_run(velocity, lo, hi, int(centre), params, fs)
        if speed is not None:
            onset, offset = _model_edges(velocity, speed, onset, offset, fs)
        # a stimulus shortly before the onset, or inside the run before its steepest point when the run
        # starts > paced_lead_in_ms before it (a P wave merged with a QRS paced at a short AV delay):
        # the QRS starts at the last such stimulus
        near = (spikes >= onset - int(0.05 * fs)) & (spikes <= onset + int(0.03 * fs))
        inside = (spikes > onset + int(params.paced_lead_in_ms * fs / 1000)) & (spikes <= peak_at)
        paced_at = spikes[near | inside]
        if len(paced_at):  # a paced QRS starts at its stimulus
            onset = int(paced_at[-1])
        paced.append(bool(len(paced_at)))
        beat_flags = []
        if not closed:
            beat_flags.append("unbounded")
        if onset < edge or offset > n - edge:  # may be cut by the start or end of the recording
            beat_flags.append("edge")
        width_ms = (offset - onset) * 1000.0 / fs
        if not params.min_qrs_ms <= width_ms <= params.max_qrs_ms:
            beat_flags.append("width")
        if nan_any[onset:offset].any():
            beat_flags.append("nan")
        if clipped[onset:offset].any():
            beat_flags.append("clipped")
        magnitude = np.sqrt(((work[:, onset:offset] - work[:, onset : onset + 1]) ** 2).sum(axis=0))
        peaks.append(onset + int(np.argmax(magnitude)) if offset > onset else onset)
        onsets.append(onset)
        offsets.append(offset)
        valid.append(not beat_flags)
        flags.append(tuple(beat_flags))

    onsets_a = np.asarray(onsets, dtype=np.int64)
    offsets_a = np.asarray(offsets, dtype=np.int64)
    low = bandpass(raw, fs, low_hz=0.5, high_hz=min(15.0, 0.45 * fs))
    p_onsets, p_peaks = _find_p_waves(np.where(np.isnan(low), 0.0, low), onsets_a, offsets_a, fs)

    lead_on = lead_off = None
    if params.per_lead:
        every = bandpass(record.signal, fs, low_hz=params.band_hz[0], high_hz=high)
        lead_on, lead_off = _per_lead(every, onsets_a, offsets_a, fs)
    return QRSDelineation(
        r_peaks=np.asarray(peaks, dtype=np.int64),
        qrs_onsets=onsets_a,
        qrs_offsets=offsets_a,
        fs=fs,
        valid=np.asarray(valid, dtype=bool),
        per_lead_onsets=lead_on,
        per_lead_offsets=lead_off,
        p_onsets=p_onsets,
        p_peaks=p_peaks,
        beat_flags=tuple(flags),
        leads_used=tuple(record.leads[row] for row in rows),
        paced=np.asarray(paced, dtype=bool),
        pacing_spikes=spikes,
        ectopic=_ectopic_beats(
            work, onsets_a, offsets_a, np.asarray(peaks, dtype=np.int64), np.asarray(valid, dtype=bool), fs
        ),
    )


def _ectopic_beats(
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
