"""Per-lead quality flags and the record-level checks that make a record unusable."""

from __future__ import annotations

from typing import Any

import numpy as np

from cardiopredict.errors import SignalQualityError, UnitError

FLAT_PTP_MV = 0.01
"""A lead whose peak-to-peak amplitude is below this (10 µV) carries no ECG: flagged ``"flat"``."""
HIGH_PTP_MV = 20.0
"""Peak-to-peak above this is implausible for surface ECG (pacing spikes aside): flagged ``"amplitude"``."""
UNIT_SUSPECT_PTP_MV = 50.0
"""Median peak-to-peak over leads above this means the values are not in the stated unit."""
MIN_DURATION_S = 0.25
"""Shorter records cannot hold a 250 ms QRS window."""

QUALITY_FLAGS = ("all_nan", "nan_run", "flat", "amplitude")


def assess_quality(
    signal: np.ndarray, fs: float, leads: tuple[str, ...], *, source: str
) -> tuple[np.ndarray, dict[str, list[str]], dict[str, Any]]:
    """Trim empty edges, flag degraded leads, and refuse records that cannot be used.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), float32, mV
    fs : float
        Sampling rate in Hz.
    leads : tuple of str
        Canonical lead names of the rows.
    source : str
        File named in error messages.

    Returns
    -------
    signal : ndarray of shape (n_leads, n_kept), float32, mV
        Without the leading/trailing samples that are missing in every lead.
    quality : dict
        Lead name -> list of flags from :data:`QUALITY_FLAGS` (empty list = no problem found).
    info : dict
        ``trimmed_samples`` (leading, trailing) when edges were removed.

    Raises
    ------
    SignalQualityError
        Every value missing, a gap missing in every lead, no usable lead, or shorter than 0.25 s.
    UnitError
        Amplitudes far too large for the stated unit (typically µV read as mV).
    """
    missing = np.isnan(signal)
    missing_all = missing.all(axis=0)
    if missing_all.all():
        raise SignalQualityError(
            f"Every sample of {source} is missing (empty or NaN). Re-export the ECG with its waveform values."
        )
    present = np.flatnonzero(~missing_all)
    first, last = int(present[0]), int(present[-1])
    info: dict[str, Any] = {}
    if first > 0 or last < signal.shape[1] - 1:
        info["trimmed_samples"] = (first, signal.shape[1] - 1 - last)
    signal = signal[:, first : last + 1]
    missing = missing[:, first : last + 1]

    gap = _longest_run(missing.all(axis=0))
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

    quality: dict[str, list[str]] = {}
    ptps: list[float] = []
    for lead, row, row_missing in zip(leads, signal, missing, strict=True):
        flags: list[str] = []
        if row_missing.all():
            flags.append("all_nan")
        else:
            if row_missing.any():
                flags.append("nan_run")
            ptp = float(np.nanmax(row) - np.nanmin(row))
            if ptp < FLAT_PTP_MV:
                flags.append("flat")
            else:
                ptps.append(ptp)
                if ptp > HIGH_PTP_MV:
                    flags.append("amplitude")
        quality[lead] = flags

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
    return signal, quality, info


def _longest_run(mask: np.ndarray) -> tuple[int, int] | None:
    """(start, length) of the longest run of True in a 1-D boolean array, or None if there is none."""
    if not mask.any():
        return None
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest] - starts[longest])
