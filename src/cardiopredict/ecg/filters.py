"""Zero-phase ECG filters: baseline-wander removal, powerline notch, band-pass.

Every function takes and returns an array of shape ``(n_leads, n_samples)`` in the same unit (mV), filters
forward and backward (no phase shift, so QRS onsets stay where they are) and leaves NaN samples as NaN:
gaps are bridged by linear interpolation for the filter's sake only.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import signal as sps

from cardiopredict.errors import InputError, SamplingRateError

__all__ = ["bandpass", "fill_nan", "notch", "remove_baseline"]


def _check(signal: np.ndarray, fs: float, *, name: str) -> np.ndarray:
    array = np.asarray(signal, dtype=np.float64)
    if array.ndim != 2:
        raise InputError(f"{name}: signal must have shape (n_leads, n_samples); got shape {array.shape}.")
    if not np.isfinite(fs) or fs <= 0:
        raise SamplingRateError(
            f"{name}: sampling rate fs={fs!r} Hz is not a positive number; give it in Hz."
        )
    return array


def fill_nan(signal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bridge NaN gaps by linear interpolation (all-NaN leads become zeros).

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples)

    Returns
    -------
    filled : ndarray of shape (n_leads, n_samples), float64
    missing : ndarray of shape (n_leads, n_samples), bool
        True where the input was not finite.
    """
    filled = np.array(signal, dtype=np.float64)
    missing = ~np.isfinite(filled)
    if not missing.any():
        return filled, missing
    index = np.arange(filled.shape[1])
    for row, gaps in zip(filled, missing, strict=True):
        if gaps.all():
            row[:] = 0.0
        elif gaps.any():
            row[gaps] = np.interp(index[gaps], index[~gaps], row[~gaps])
    return filled, missing


@lru_cache(maxsize=64)
def _butter(order: int, cutoff: float | tuple[float, float], btype: str, fs: float) -> np.ndarray:
    """Second-order sections of a Butterworth filter (designs are cached: the same few are reused)."""
    return sps.butter(order, cutoff, btype=btype, fs=fs, output="sos")


def _apply(sos: np.ndarray, signal: np.ndarray) -> np.ndarray:
    filled, missing = fill_nan(signal)
    padlen = min(3 * (2 * len(sos) + 1) * 4, filled.shape[1] - 1)
    out = sps.sosfiltfilt(sos, filled, axis=1, padlen=max(padlen, 0))
    out[missing] = np.nan
    return out


def _nyquist_check(cutoff_hz: float, fs: float, *, name: str, what: str) -> None:
    if not 0 < cutoff_hz < fs / 2:
        raise InputError(
            f"{name}: {what}={cutoff_hz!r} Hz must lie between 0 and the Nyquist frequency {fs / 2:g} Hz "
            f"(fs={fs:g} Hz); choose a cut-off inside that range."
        )


def remove_baseline(signal: np.ndarray, fs: float, *, cutoff_hz: float = 0.5, order: int = 2) -> np.ndarray:
    """Remove baseline wander with a zero-phase Butterworth high-pass.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    fs : float
        Sampling rate in Hz.
    cutoff_hz : float
        High-pass cut-off (0.5 Hz keeps ST segments nearly undistorted when applied forward-backward;
        AHA recommends <= 0.67 Hz).
    order : int
        Butterworth order of the one-way filter (the forward-backward pass doubles it).

    Returns
    -------
    ndarray of shape (n_leads, n_samples), float64, mV
    """
    array = _check(signal, fs, name="remove_baseline")
    _nyquist_check(cutoff_hz, fs, name="remove_baseline", what="cutoff_hz")
    sos = _butter(order, float(cutoff_hz), "highpass", float(fs))
    return _apply(sos, array)


def notch(signal: np.ndarray, fs: float, *, freq_hz: float = 50.0, quality: float = 30.0) -> np.ndarray:
    """Remove powerline interference (50 or 60 Hz) with a zero-phase IIR notch.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    fs : float
        Sampling rate in Hz.
    freq_hz : float
        Powerline frequency: 50 (Europe, Asia) or 60 (Americas).
    quality : float
        Quality factor; the notch is ``freq_hz / quality`` Hz wide at -3 dB.

    Returns
    -------
    ndarray of shape (n_leads, n_samples), float64, mV
    """
    array = _check(signal, fs, name="notch")
    _nyquist_check(freq_hz, fs, name="notch", what="freq_hz")
    b, a = sps.iirnotch(freq_hz, quality, fs=fs)
    return _apply(sps.tf2sos(b, a), array)


def bandpass(signal: np.ndarray, fs: float, *, low_hz: float, high_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-pass.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), mV
    fs : float
        Sampling rate in Hz.
    low_hz, high_hz : float
        Pass band in Hz, ``0 < low_hz < high_hz < fs / 2``.
    order : int
        Butterworth order of the one-way filter.

    Returns
    -------
    ndarray of shape (n_leads, n_samples), float64, mV
    """
    array = _check(signal, fs, name="bandpass")
    _nyquist_check(low_hz, fs, name="bandpass", what="low_hz")
    _nyquist_check(high_hz, fs, name="bandpass", what="high_hz")
    if low_hz >= high_hz:
        raise InputError(f"bandpass: low_hz={low_hz!r} must be below high_hz={high_hz!r}.")
    sos = _butter(order, (float(low_hz), float(high_hz)), "bandpass", float(fs))
    return _apply(sos, array)
