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
   (``_delineation_detect``). Premature beats whose QRS differs from the dominant one are marked in
   ``QRSDelineation.ectopic``.
4. Delineation: around each beat, the QRS *core* is the run of ``sv`` above ``baseline + 0.1 * (peak -
   baseline)`` that contains the beat's maximum, dips shorter than ``gap_ms`` bridged (baseline: 10th
   percentile of ``sv`` in the 250 ms before/after the peak). The edges are then placed by the calibrated
   *edge model* (the default since issue 16): a linear combination of sturdy candidates — the spatial
   velocity's 0.5 % and 4 % crossings for the onset; its 0.5 % crossing and the median / third-latest
   per-lead offset (last sample above 10 % / 20 % of each of the 12 leads' own peak slope) for the
   offset — plus a constant (``onset_model``, ``offset_model``), fitted on LUDB records 1–75 against the
   cardiologists' earliest/latest marks and checked on records 76–150 (docs/BENCHMARKS.md). Real QRS
   complexes rise slowly from the baseline (at the cardiologists' onset ``sv`` is ~1.5 % of its peak and
   takes ~10 ms to reach 4 %), so the model places the edges well outside the 4 % crossing; on complexes
   that start at their steepest slope (the simulator's, noise-free constructed ones) it reads the QRS
   20–45 ms wide. ``DelineationParams.legacy()`` moves the core's edges out to where ``sv`` falls to
   ``baseline + 1 % (onset) / 1.5 % (offset)`` of the peak instead (the default until 2026-12-01).
5. Pacing: stimuli (biphasic steps far steeper than any QRS slope, see :func:`pacing_spikes`) are bridged
   before filtering; a QRS that follows a stimulus within 50 ms, or whose run holds a stimulus before its
   steepest point more than 80 ms after the run's start (a P wave merged with a QRS paced at a short AV
   delay), starts at the (last) stimulus.
6. P waves: the largest low-frequency (0.5–15 Hz) deflection between the previous T wave and the QRS, if
   it stands out from the baseline; its onset is found on the low-frequency spatial velocity.

The steps live in private modules: ``_delineation_detect`` (leads, detection, ectopic beats),
``_delineation_edges`` (edges of one beat), ``_delineation_pacing`` and ``_delineation_pwaves``;
:func:`delineate` is a short driver over :func:`_delineate_beat`.

Beats that cannot be delineated (QRS run not closed inside its search window, implausible width, NaN or
clipped samples inside the QRS) stay in the arrays with ``valid=False`` and a reason in ``beat_flags``;
nothing is invented. A record without two detectable beats raises :class:`DelineationError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from cardiopredict.ecg._delineation_common import INDEPENDENT_LEADS, DelineationParams, moving_average
from cardiopredict.ecg._delineation_detect import clipped_mask, detect_beats, ectopic_beats, usable_rows
from cardiopredict.ecg._delineation_edges import (
    lead_speed,
    model_edges,
    per_lead_edges,
    qrs_run,
)
from cardiopredict.ecg._delineation_pacing import paced_onset, pacing_spikes, remove_spikes
from cardiopredict.ecg._delineation_pwaves import find_p_wave, find_p_waves
from cardiopredict.ecg._delineation_pwaves import (  # noqa: F401 - measurements reads P waves with it
    low_frequency_velocity as _low_frequency_velocity,
)
from cardiopredict.ecg.filters import bandpass, notch
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import DelineationError, SamplingRateError

__all__ = [
    "INDEPENDENT_LEADS",
    "DelineationParams",
    "QRSDelineation",
    "delineate",
    "find_p_wave",
    "pacing_spikes",
]


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
        Filled only with ``DelineationParams(per_lead=True)``.
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


class _Signals(NamedTuple):
    """What every beat is delineated from (leads used: ``rows`` of the record)."""

    rows: list[int]
    raw: np.ndarray  # (n_used, n_samples) mV, pacing stimuli bridged
    work: np.ndarray  # band-passed, NaN as 0
    velocity: np.ndarray  # spatial velocity, mV/s, smoothed over 8 ms
    envelope: np.ndarray  # its 80 ms moving average (one peak per QRS)
    speed: np.ndarray | None  # per-lead absolute slope (edge model only)
    spikes: np.ndarray  # pacing stimuli
    nan_any: np.ndarray  # (n_samples,) bool
    clipped: np.ndarray  # (n_samples,) bool


class _Beat(NamedTuple):
    onset: int
    offset: int
    peak: int
    paced: bool
    flags: tuple[str, ...]


def delineate(record: ECGRecord, *, params: DelineationParams | None = None) -> QRSDelineation:
    """Detect and delineate every QRS complex of a 12-lead ECG.

    Parameters
    ----------
    record : ECGRecord
        Any length >= 1.5 s, any fs >= ``params.min_fs_hz`` (accuracy is validated at 500 Hz on LUDB).
    params : DelineationParams, optional
        Options, e.g. ``DelineationParams(per_lead=True, powerline_hz=50)``; default ``DelineationParams()``.

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
    params = DelineationParams() if params is None else params
    if not isinstance(params, DelineationParams):
        raise DelineationError(
            f"delineate: params must be a DelineationParams, got {type(params).__name__}; "
            "build one with DelineationParams(...)."
        )
    name = record.record_id or record.meta.get("source") or "record"
    signals = _prepare(record, params, name)
    fs = record.fs
    beats = detect_beats(signals.envelope, signals.velocity, fs, params)
    if len(beats) < 2:
        raise DelineationError(
            f"{name}: found {len(beats)} QRS complex(es) in {record.duration_s:.1f} s; "
            "at least 2 are needed. "
            "The ECG may be too short, too noisy or not an ECG (check units and leads)."
        )
    found = [_delineate_beat(signals, beats, k, fs, params) for k in range(len(beats))]
    onsets = np.asarray([b.onset for b in found], dtype=np.int64)
    offsets = np.asarray([b.offset for b in found], dtype=np.int64)
    peaks = np.asarray([b.peak for b in found], dtype=np.int64)
    valid = np.asarray([not b.flags for b in found], dtype=bool)
    low = bandpass(signals.raw, fs, low_hz=0.5, high_hz=min(15.0, 0.45 * fs))
    p_onsets, p_peaks = find_p_waves(np.where(np.isnan(low), 0.0, low), onsets, offsets, fs)
    lead_on = lead_off = None
    if params.per_lead:
        every = bandpass(
            record.signal, fs, low_hz=params.band_hz[0], high_hz=min(params.band_hz[1], 0.45 * fs)
        )
        lead_on, lead_off = per_lead_edges(every, onsets, offsets, fs)
    return QRSDelineation(
        r_peaks=peaks,
        qrs_onsets=onsets,
        qrs_offsets=offsets,
        fs=fs,
        valid=valid,
        per_lead_onsets=lead_on,
        per_lead_offsets=lead_off,
        p_onsets=p_onsets,
        p_peaks=p_peaks,
        beat_flags=tuple(b.flags for b in found),
        leads_used=tuple(record.leads[row] for row in signals.rows),
        paced=np.asarray([b.paced for b in found], dtype=bool),
        pacing_spikes=signals.spikes,
        ectopic=ectopic_beats(signals.work, onsets, offsets, peaks, valid, fs),
    )


def _prepare(record: ECGRecord, params: DelineationParams, name: str) -> _Signals:
    """Check the record, pick the usable leads, bridge pacing stimuli, filter and differentiate."""
    fs = record.fs
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
    rows, problems = usable_rows(record, params)
    if not rows:
        raise DelineationError(
            f"{name}: no usable lead for delineation ({'; '.join(problems)}). "
            "The ECG is flat or missing; check the export and the units."
        )
    raw = record.signal[rows]
    spikes = pacing_spikes(raw, fs) if params.pacing else np.zeros(0, dtype=np.int64)
    if len(spikes):
        raw = remove_spikes(raw, spikes, fs)
    filtered = raw if params.powerline_hz is None else notch(raw, fs, freq_hz=params.powerline_hz)
    filtered = bandpass(filtered, fs, low_hz=params.band_hz[0], high_hz=min(params.band_hz[1], 0.45 * fs))
    nan_mask = np.isnan(filtered)
    work = np.where(nan_mask, 0.0, filtered)
    gradient = np.gradient(work, axis=1)
    velocity = moving_average(np.sqrt((gradient**2).sum(axis=0)) * fs, round(0.008 * fs))
    speed = lead_speed(gradient, [record.leads[row] for row in rows], fs) if params.edge_model else None
    return _Signals(
        rows=rows,
        raw=raw,
        work=work,
        velocity=velocity,
        envelope=moving_average(velocity, round(0.08 * fs)),
        speed=speed,
        spikes=spikes,
        nan_any=nan_mask.any(axis=0),
        clipped=clipped_mask(raw, fs).any(axis=0),
    )


def _delineate_beat(
    signals: _Signals, beats: np.ndarray, k: int, fs: float, params: DelineationParams
) -> _Beat:
    """Edges, R peak, pacing and flags of beat ``k`` (searched halfway to its neighbours, at most 250 ms)."""
    n = len(signals.velocity)
    half_window, edge = int(0.25 * fs), int(0.04 * fs)
    centre = int(beats[k])
    lo = max(centre - half_window, 0 if k == 0 else (beats[k - 1] + centre) // 2)
    hi = min(centre + half_window, n if k == len(beats) - 1 else (beats[k + 1] + centre) // 2)
    onset, offset, peak_at, closed = qrs_run(signals.velocity, lo, hi, centre, params, fs)
    if signals.speed is not None:
        onset, offset = model_edges(signals.velocity, signals.speed, onset, offset, fs, params)
    stimulus = paced_onset(signals.spikes, onset, peak_at, fs, lead_in_ms=params.paced_lead_in_ms)
    if stimulus is not None:
        onset = stimulus
    flags = []
    if not closed:
        flags.append("unbounded")
    if onset < edge or offset > n - edge:  # may be cut by the start or end of the recording
        flags.append("edge")
    if not params.min_qrs_ms <= (offset - onset) * 1000.0 / fs <= params.max_qrs_ms:
        flags.append("width")
    if signals.nan_any[onset:offset].any():
        flags.append("nan")
    if signals.clipped[onset:offset].any():
        flags.append("clipped")
    work = signals.work
    magnitude = np.sqrt(((work[:, onset:offset] - work[:, onset : onset + 1]) ** 2).sum(axis=0))
    peak = onset + int(np.argmax(magnitude)) if offset > onset else onset
    return _Beat(
        onset=int(onset), offset=int(offset), peak=peak, paced=stimulus is not None, flags=tuple(flags)
    )
