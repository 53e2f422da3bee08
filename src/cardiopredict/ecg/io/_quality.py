"""Per-lead quality flags, record-level warnings, and the record-level checks that make a record unusable.

The flags (:data:`QUALITY_FLAGS`) are computed by :func:`lead_flags` from the signal alone, so a record
built in memory is judged like one read from a file; :func:`quality_issues` is what downstream code
(``measure``, the studies' exclusion policy, the CLI) reads. ``docs/RELIABILITY.md`` lists who reads what.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import SignalQualityError, UnitError

FLAT_PTP_MV = 0.01
"""A lead whose peak-to-peak amplitude is below this (10 µV) carries no ECG: flagged ``"flat"``."""
HIGH_PTP_MV = 20.0
"""Peak-to-peak above this is implausible for surface ECG (pacing spikes aside): flagged ``"amplitude"``."""
UNIT_SUSPECT_PTP_MV = 50.0
"""Median peak-to-peak over leads above this means the values are not in the stated unit."""
MIN_DURATION_S = 0.25
"""Shorter records cannot hold a 250 ms QRS window."""

HUGE_MV = 1000.0
"""A sample beyond ±1 V is no electrode potential (a sentinel value or a corrupt cell): it is made missing
(NaN) and its lead flagged ``"huge"``."""
CLIP_RUN_MS = 20.0
"""A run of at least this long (and >= 4 samples) of one identical value at the lead's maximum or minimum,
far from its median, is amplifier saturation or a clipped export: flagged ``"clipped"``."""
RR_PLAUSIBLE_MS = (250.0, 2000.0)
"""Median RR interval (simple R detection at the stated rate) outside this range: ``fs_implausible``."""

QUALITY_FLAGS = ("all_nan", "nan_run", "non_finite", "huge", "flat", "clipped", "amplitude")
"""Per-lead flags. ``non_finite`` (±inf in the file) and ``huge`` samples are already NaN in the signal."""
DEGRADING_FLAGS = frozenset(("all_nan", "nan_run", "non_finite", "huge", "flat", "clipped"))
"""Flags that make a lead's morphology unusable for a criterion (``amplitude`` alone does not)."""
RECORD_FLAGS = ("fs_implausible",)
"""Record-level flags, under the key ``"record"`` of :func:`quality_issues`."""


def mask_invalid(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make ±inf and ``|value| > HUGE_MV`` samples missing (NaN), saying per row which were found.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV (float64, before any float32 cast: 1e300 would
        become inf there)

    Returns
    -------
    signal : ndarray of shape (n_leads, n_samples), float64, NaN where the value was not usable
    non_finite, huge : ndarray of shape (n_leads,), bool
        Rows that held ±inf, rows that held huge finite values.
    """
    signal = np.array(signal, dtype=np.float64)
    infinite = np.isinf(signal)
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(signal) & (np.abs(signal) > HUGE_MV)
    signal[infinite | huge] = np.nan
    return signal, infinite.any(axis=1), huge.any(axis=1)


def assess_quality(
    signal: np.ndarray,
    fs: float,
    leads: tuple[str, ...],
    *,
    source: str,
    masked: dict[str, list[str]] | None = None,
) -> tuple[np.ndarray, dict[str, list[str]], dict[str, Any]]:
    """Trim empty edges, flag degraded leads, warn about an implausible rate, refuse unusable records.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), float32, mV
        Finite or NaN (see :func:`mask_invalid`).
    fs : float
        Sampling rate in Hz.
    leads : tuple of str
        Canonical lead names of the rows.
    source : str
        File named in error messages.
    masked : dict, optional
        Lead -> flags found before this call (``non_finite``, ``huge`` from :func:`mask_invalid`).

    Returns
    -------
    signal : ndarray of shape (n_leads, n_kept), float32, mV
        Without the leading/trailing samples that are missing in every lead.
    quality : dict
        Lead name -> list of flags from :data:`QUALITY_FLAGS` (empty list = no problem found).
    info : dict
        ``trimmed_samples`` (leading, trailing) when edges were removed; ``record_flags`` and
        ``warnings`` (messages) when the sampling rate looks wrong for the signal.

    Raises
    ------
    SignalQualityError
        Every value missing, a gap missing in every lead, no usable lead, or shorter than 0.25 s.
    UnitError
        Amplitudes far too large for the stated unit (typically µV read as mV).
    """
    signal, info = _trim_and_check_gaps(signal, fs, source=source)
    flags = lead_flags(signal, fs, leads)
    quality = {
        lead: sorted(set(flags[lead]) | set((masked or {}).get(lead, [])), key=QUALITY_FLAGS.index)
        for lead in leads
    }
    ptps = [
        float(np.nanmax(row) - np.nanmin(row))
        for lead, row in zip(leads, signal, strict=True)
        if not {"all_nan", "flat"} & set(quality[lead])
    ]
    if not ptps:
        raise SignalQualityError(
            f"No usable lead in {source}: every lead is flat (peak-to-peak < {FLAT_PTP_MV * 1000:.0f} µV) or "
            "missing. Check the electrodes/export; a flat-line file cannot be analysed."
        )
    median_ptp = float(np.median(ptps))
    if median_ptp > UNIT_SUSPECT_PTP_MV:
        raise UnitError(
            f"{source}: median peak-to-peak amplitude is {median_ptp:.0f} mV after unit conversion, "
            "far above any surface ECG (a few mV). The values are probably in µV: "
            "pass units='uV' to read_ecg or fix the unit in the file."
        )
    warnings = rate_warnings(signal, fs)
    if warnings:
        info["record_flags"] = ["fs_implausible"]
        info["warnings"] = [f"{source}: {message}" for message in warnings]
    return signal, quality, info


def _trim_and_check_gaps(signal: np.ndarray, fs: float, *, source: str) -> tuple[np.ndarray, dict[str, Any]]:
    missing = np.isnan(signal)
    missing_all = missing.all(axis=0)
    if missing_all.all():
        raise SignalQualityError(
            f"Every sample of {source} is missing (empty, NaN, inf or beyond ±{HUGE_MV:g} mV). "
            "Re-export the ECG with its waveform values."
        )
    present = np.flatnonzero(~missing_all)
    first, last = int(present[0]), int(present[-1])
    info: dict[str, Any] = {}
    if first > 0 or last < signal.shape[1] - 1:
        info["trimmed_samples"] = (first, signal.shape[1] - 1 - last)
    signal = signal[:, first : last + 1]
    gap = _longest_run(missing_all[first : last + 1])
    if gap is not None:
        start, length = gap
        raise SignalQualityError(
            f"{source}: samples {start + first}-{start + first + length - 1} "
            f"({length / fs * 1000:.0f} ms from {(start + first) / fs:.3f} s) are missing in every lead, "
            "i.e. the recording has a gap. "
            "Re-export the ECG, or crop it to the part without the gap."
        )
    if signal.shape[1] / fs < MIN_DURATION_S:
        raise SignalQualityError(
            f"{source} holds {signal.shape[1]} samples ({signal.shape[1] / fs * 1000:.0f} ms at {fs:g} Hz); "
            f"at least {MIN_DURATION_S * 1000:.0f} ms are needed. "
            "Check the sampling rate or export the full ECG."
        )
    return signal, info


def lead_flags(signal: np.ndarray, fs: float, leads: tuple[str, ...]) -> dict[str, list[str]]:
    """Flags of each lead computed from the samples alone (no file needed).

    The reader, the features and the measurements each ask for the flags of the same record; the last
    answer is kept with a copy of its samples and given again (as a new dict) only when the samples,
    the rate and the leads are the same bit for bit, so a record changed in memory is judged anew.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    fs : float
        Sampling rate in Hz.
    leads : tuple of str

    Returns
    -------
    dict
        Lead -> flags among ``all_nan``, ``nan_run``, ``non_finite`` (±inf still in the signal), ``huge``,
        ``flat``, ``clipped``, ``amplitude``; an empty list for a clean lead.
    """
    global _LAST_FLAGS
    array = np.asarray(signal)
    last = _LAST_FLAGS  # one read: another thread may replace it meanwhile
    if last is not None and _same_samples(last, array, fs, leads):
        return {lead: list(flags) for lead, flags in last[3].items()}
    out = _compute_lead_flags(array, fs, leads)
    _LAST_FLAGS = (array.copy(), float(fs), tuple(leads), {lead: tuple(f) for lead, f in out.items()})
    return out


_LAST_FLAGS: tuple[np.ndarray, float, tuple[str, ...], dict[str, tuple[str, ...]]] | None = None


def _same_samples(last: tuple, array: np.ndarray, fs: float, leads: tuple[str, ...]) -> bool:
    samples, rate, names, _ = last
    return (
        rate == float(fs)
        and names == tuple(leads)
        and samples.dtype == array.dtype
        and samples.shape == array.shape
        and np.array_equal(samples, array, equal_nan=array.dtype.kind == "f")
    )


def _compute_lead_flags(signal: np.ndarray, fs: float, leads: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lead, row in zip(leads, np.asarray(signal, dtype=np.float64), strict=True):
        finite = np.isfinite(row)
        flags: list[str] = []
        if not finite.any():
            out[lead] = ["all_nan"] if np.isnan(row).all() else ["non_finite"]
            continue
        if np.isnan(row).any():
            flags.append("nan_run")
        if np.isinf(row).any():
            flags.append("non_finite")
        values = row[finite]
        if np.abs(values).max() > HUGE_MV:
            flags.append("huge")
            values = values[np.abs(values) <= HUGE_MV]
        ptp = float(values.max() - values.min()) if values.size else 0.0
        if ptp < FLAT_PTP_MV:
            flags.append("flat")
        else:
            if _clipped(np.where(finite, row, np.nan), fs):
                flags.append("clipped")
            if ptp > HIGH_PTP_MV:
                flags.append("amplitude")
        out[lead] = flags
    return out


def _clipped(row: np.ndarray, fs: float) -> bool:
    """A run of one identical value at the lead's max or min, far from its median (see CLIP_RUN_MS)."""
    high, low, centre = float(np.nanmax(row)), float(np.nanmin(row)), float(np.nanmedian(row))
    min_run = max(4, round(CLIP_RUN_MS * fs / 1000.0))
    for extreme in (high, low):
        if abs(extreme - centre) < 0.5 * (high - low):
            continue  # the baseline itself (a monophasic lead), not a rail
        run = _longest_run(row == extreme)
        if run is not None and run[1] >= min_run:
            return True
    return False


def rate_warnings(signal: np.ndarray, fs: float) -> list[str]:
    """Reasons to doubt the stated sampling rate, from the signal alone (empty list: none found).

    Two checks: the median RR interval of a simple R detection (energy of the 5-25 Hz band over all
    leads) outside :data:`RR_PLAUSIBLE_MS`, and a mains line at 25 or 30 Hz stronger than any at 50/60 Hz
    (mains has no sub-harmonic: the stated rate is then half the true one). A line at 100/120 Hz is not
    used: it is also the harmonic a 50/60 Hz notch filter leaves.
    """
    filled = np.where(np.isfinite(signal), signal, 0.0).astype(np.float64)
    out = []
    rr_ms = median_rr_ms(filled, fs)
    low, high = RR_PLAUSIBLE_MS
    if rr_ms is not None and not low <= rr_ms <= high:
        out.append(
            f"the median RR interval is {rr_ms:.0f} ms at the stated {fs:g} Hz (heart rate "
            f"{60000 / rr_ms:.0f} bpm), outside {low:.0f}-{high:.0f} ms: the sampling rate is probably "
            "wrong. Check it, or pass fs=<Hz> to read_ecg."
        )
    line = _mains_line_hz(filled, fs)
    if line is not None and line in (25.0, 30.0):
        out.append(
            f"a mains-interference line appears at {line:g} Hz, not at {2 * line:g} Hz: the signal was "
            f"probably sampled at {2 * fs:g} Hz, not the stated {fs:g} Hz. Check it, or pass fs=<Hz> to "
            "read_ecg."
        )
    return out


def median_rr_ms(signal: np.ndarray, fs: float) -> float | None:
    """Median interval (ms) between R peaks of a simple detector; None with fewer than 3 peaks.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV, finite
    fs : float
        Sampling rate in Hz.
    """
    if signal.shape[1] < int(fs) or 0.45 * fs <= 25.0:
        return None
    sos = sps.butter(2, (5.0, 25.0), btype="bandpass", fs=fs, output="sos")
    energy = (sps.sosfilt(sos, signal, axis=1) ** 2).sum(axis=0)  # one pass: a phase lag keeps the RR
    width = max(1, int(0.1 * fs))  # one hump per QRS, even a wide notched one
    energy = np.convolve(energy, np.ones(width) / width, mode="same")
    top = float(np.percentile(energy, 99))
    if top <= 0:
        return None
    peaks, _ = sps.find_peaks(energy, height=0.3 * top, distance=max(1, int(0.2 * fs)))
    if len(peaks) < 3:
        return None
    return float(np.median(np.diff(peaks)) * 1000.0 / fs)


def _mains_line_hz(signal: np.ndarray, fs: float) -> float | None:
    """The strongest narrow spectral line among 25, 30, 50, 60 Hz (10x above its surroundings), or None."""
    n = signal.shape[1]
    if n < 2 * fs:
        return None
    freqs, power = sps.welch(signal, fs=fs, nperseg=int(min(n, 2 * fs)), axis=1)  # 0.5 Hz bins
    power = power.mean(axis=0)
    best, best_ratio = None, 10.0  # a line 10x above its neighbourhood
    for candidate in (25.0, 30.0, 50.0, 60.0):
        if candidate + 3 >= fs / 2:
            continue
        near = np.abs(freqs - candidate)
        at = float(power[near <= 0.5].max())
        around = power[(near > 1.0) & (near <= 4.0)]
        ratio = at / float(np.median(around)) if around.size and np.median(around) > 0 else 0.0
        if ratio > best_ratio:
            best, best_ratio = candidate, ratio
    return best


def quality_issues(record: ECGRecord) -> dict[str, list[str]]:
    """What is wrong with a record: lead -> flags, plus ``"record"`` -> record-level flags.

    Flags stored by the reader (``meta['quality']``, ``meta['record_flags']``) are merged with those
    :func:`lead_flags` finds in the samples now, so a record built or changed in memory is judged too.
    Only leads with a flag appear. Studies apply their exclusion policy on this (``docs/RELIABILITY.md``).

    Parameters
    ----------
    record : ECGRecord

    Returns
    -------
    dict
        E.g. ``{"V1": ["flat"], "II": ["clipped"], "record": ["fs_implausible"]}``; ``{}`` when clean.
    """
    stored = record.meta.get("quality", {}) or {}
    found = lead_flags(record.signal, record.fs, record.leads)
    issues: dict[str, list[str]] = {}
    for lead in record.leads:
        flags = set(found.get(lead, [])) | set(stored.get(lead, []))
        if flags:
            issues[lead] = sorted(flags, key=lambda f: QUALITY_FLAGS.index(f) if f in QUALITY_FLAGS else 99)
    record_flags = list(record.meta.get("record_flags", []) or [])
    if record_flags:
        issues["record"] = record_flags
    return issues


def degraded_leads(record: ECGRecord) -> dict[str, list[str]]:
    """Leads whose flags make their morphology unusable (:data:`DEGRADING_FLAGS`): lead -> those flags."""
    return {
        lead: [flag for flag in flags if flag in DEGRADING_FLAGS]
        for lead, flags in quality_issues(record).items()
        if lead != "record" and DEGRADING_FLAGS & set(flags)
    }


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """(start, length) of the longest run of True in a 1-D boolean array, or None if there is none."""
    if not mask.any():
        return None
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest] - starts[longest])
