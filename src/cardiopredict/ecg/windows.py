"""Fixed-length model inputs cut around the delineated QRS: QRS window and RR-extended window.

Both windows are cut from the baseline-corrected signal (0.5 Hz zero-phase high-pass) of every lead, from
the *valid* beats of a :class:`~cardiopredict.ecg.delineation.QRSDelineation`, and the per-ECG
representative beat is the sample-wise median across beats (robust to an ectopic beat or a noisy one).
A sample missing (NaN) in some beats is the median of the others. A sample missing in every beat makes the
window refuse the ECG (:class:`~cardiopredict.errors.SignalQualityError` naming the leads), so non-finite
values never reach a model; ``missing="keep"`` returns it as NaN instead (``measure`` uses that, and marks
the measurements of those leads not assessable). ±inf in the record is always refused.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import signal as sps

from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.filters import remove_baseline
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import DelineationError, InputError, SignalQualityError

__all__ = ["RR_FEATURE_NAMES", "RRWindow", "normalize_window", "qrs_window", "rr_window"]

RR_FEATURE_NAMES: tuple[str, ...] = ("rr_mean_ms", "rr_sd_ms", "rr_min_ms", "rr_max_ms")
WINDOW_FS_HZ = 1000.0
PRE_ONSET_MS = 40.0
RR_BEFORE_FRACTION = 0.35

Normalize = Literal["none", "zscore", "maxabs"]
Missing = Literal["raise", "keep"]


@dataclass(frozen=True)
class RRWindow:
    """RR-extended input of one ECG.

    Parameters
    ----------
    window : ndarray of shape (n_leads, n_samples), float32, mV (unless normalised)
        Median cardiac cycle (see :func:`rr_window`).
    rr_features : ndarray of shape (4,), float32
        Mean, SD, min and max RR interval in ms (:data:`RR_FEATURE_NAMES`).
    """

    window: np.ndarray
    rr_features: np.ndarray

    def features_dict(self) -> dict[str, float]:
        """``{"rr_mean_ms": ..., ...}``."""
        return {name: float(v) for name, v in zip(RR_FEATURE_NAMES, self.rr_features, strict=True)}


def normalize_window(window: np.ndarray, normalize: str) -> np.ndarray:
    """Normalise a window of shape (..., n_leads, n_samples).

    ``"none"`` keeps mV; ``"zscore"`` centres and scales each lead to unit SD (flat leads stay 0);
    ``"maxabs"`` divides the whole ECG by its largest absolute sample (over all leads).
    """
    if normalize == "none":
        return window
    if normalize == "zscore":
        mean = np.nanmean(window, axis=-1, keepdims=True)
        sd = np.nanstd(window, axis=-1, keepdims=True)
        return np.where(sd > 1e-9, (window - mean) / np.where(sd > 1e-9, sd, 1.0), 0.0)
    if normalize == "maxabs":
        peak = np.nanmax(np.abs(window), axis=(-2, -1), keepdims=True)
        return np.where(peak > 1e-9, window / np.where(peak > 1e-9, peak, 1.0), 0.0)
    raise InputError(f"normalize={normalize!r}: choose 'none', 'zscore' or 'maxabs'.")


def _check_pair(record: ECGRecord, delineation: QRSDelineation, *, missing: str = "raise") -> None:
    if missing not in ("raise", "keep"):
        raise InputError(f"missing={missing!r}: choose 'raise' or 'keep'.")
    infinite = np.isinf(record.signal).any(axis=1)
    if infinite.any():
        leads = [lead for lead, bad in zip(record.leads, infinite, strict=True) if bad]
        raise SignalQualityError(
            f"{record.record_id or 'record'}: lead(s) {', '.join(leads)} hold ±inf samples. Read files with "
            "cardiopredict.read_ecg (it makes them missing and flags the lead), or set them to NaN."
        )
    if abs(record.fs - delineation.fs) > 1e-6:
        raise InputError(
            f"{record.record_id or 'record'}: delineation was made at {delineation.fs:g} Hz but the "
            f"record is at {record.fs:g} Hz; delineate this record (delineate(record)) before windowing it."
        )
    if len(delineation.qrs_onsets) and delineation.qrs_offsets.max() > record.n_samples:
        raise InputError(
            f"{record.record_id or 'record'}: delineation reaches sample "
            f"{int(delineation.qrs_offsets.max())} but the record has {record.n_samples}; "
            "it belongs to another record."
        )


def _refuse_missing(record: ECGRecord, window: np.ndarray, what: str, missing: str) -> np.ndarray:
    """``window`` (..., n_leads, n_samples) if finite or ``missing="keep"``; else the leads are named."""
    if missing == "keep" or np.isfinite(window).all():
        return window
    gaps = ~np.isfinite(window).reshape(-1, *window.shape[-2:]).all(axis=(0, 2))
    quality = record.meta.get("quality", {})
    named = [
        lead + (f" ({', '.join(quality[lead])})" if quality.get(lead) else "")
        for lead, gap in zip(record.leads, gaps, strict=True)
        if gap
    ]
    name = record.record_id or record.meta.get("source") or "record"
    raise SignalQualityError(
        f"{name}: the {what} of lead(s) {', '.join(named)} "
        "is missing in every beat, so it cannot be a model input. Re-export the ECG or repair those leads "
        "(docs/RELIABILITY.md)."
    )


_LAST_CORRECTED: tuple[float, bytes, tuple[int, ...], np.dtype, np.ndarray] | None = None
"""(fs, signal bytes, shape, dtype, baseline-corrected signal) of the last record windowed."""


def _baseline_corrected(record: ECGRecord) -> np.ndarray:
    """``remove_baseline`` of the record's signal, read-only; the last result is reused when the signal
    is the same, bit for bit (one ECG is cut into a QRS window, an RR window and the measurements'
    representative beat in a row, and the 0.5 Hz filter is the largest cost they share)."""
    global _LAST_CORRECTED
    signal = record.signal
    content = signal.tobytes()
    last = _LAST_CORRECTED  # one read: another thread may replace it meanwhile
    if last is not None and last[:4] == (record.fs, content, signal.shape, signal.dtype):
        return last[4]
    corrected = remove_baseline(signal, record.fs)
    corrected.flags.writeable = False
    _LAST_CORRECTED = (record.fs, content, signal.shape, signal.dtype, corrected)
    return corrected


def _resample_segment(segment: np.ndarray, n_samples: int) -> np.ndarray:
    """Resample (n_leads, m) to (n_leads, n_samples) by linear interpolation (NaN-preserving)."""
    m = segment.shape[1]
    source = np.linspace(0.0, 1.0, m)
    target = np.linspace(0.0, 1.0, n_samples)
    return _interp_rows(target, source, segment)


def _interp_rows(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, row)`` for every row of ``fp`` (..., m) at once, float64, bit for bit.

    ``x`` (n,) or one row of points per leading index of ``fp`` (..., 1, n); ``xp`` (m,) increasing.
    The same arithmetic as numpy's loop: slope (right - left) / (xp[j+1] - xp[j]) times the offset
    plus the left value, the node's value where a point falls on a node, the end values held
    outside; a NaN neighbour gives NaN. One vectorised pass instead of one call per lead and beat.
    """
    fp = np.asarray(fp, dtype=np.float64)
    xp = np.asarray(xp, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    last = len(xp) - 1
    j = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, last)
    on_node = (x == xp[j]) | (j == last) | (x < xp[0])
    after = np.minimum(j + 1, last)
    shape = (*fp.shape[:-1], x.shape[-1])
    left = np.take_along_axis(fp, np.broadcast_to(j, shape), axis=-1)
    right = np.take_along_axis(fp, np.broadcast_to(after, shape), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):  # nodes: 0 / 0, replaced below
        value = (right - left) / (xp[after] - xp[j]) * (x - xp[j]) + left
    return np.where(on_node, left, value)


def _no_beats_error(record: ECGRecord, what: str, n_valid: int, n_total: int) -> DelineationError:
    return DelineationError(
        f"{record.record_id or record.meta.get('source') or 'record'}: no beat fits a {what} "
        f"({n_valid} valid of {n_total} detected beats, the others are flagged or too close to the record's "
        "ends). The ECG is too short or too noisy for this input."
    )


def qrs_window(
    record: ECGRecord,
    delineation: QRSDelineation,
    *,
    n_samples: int = 250,
    mode: Literal["fixed", "stretch"] = "fixed",
    beats: Literal["median", "all"] = "median",
    normalize: Normalize = "none",
    missing: Missing = "raise",
) -> np.ndarray:
    """Fixed-length QRS window of every lead (the paper's 250-sample input).

    Parameters
    ----------
    record : ECGRecord
    delineation : QRSDelineation
        From :func:`cardiopredict.ecg.delineate` on the same record.
    n_samples : int
        Window length.
    mode : {"fixed", "stretch"}
        ``"fixed"``: the signal resampled to 1000 Hz, ``n_samples`` ms starting 40 ms before the global
        QRS onset (QRS width stays visible). ``"stretch"``: onset→offset of each beat resampled to
        ``n_samples`` points (width removed, Feeny-style).
    beats : {"median", "all"}
        Median beat across valid beats (aligned on QRS onset), or every valid beat that fits.
    normalize : {"none", "zscore", "maxabs"}
        See :func:`normalize_window`; applied to the representative beat (or to each beat).
    missing : {"raise", "keep"}
        What to do with a sample missing in every beat: refuse the ECG, or return it as NaN.

    Returns
    -------
    ndarray of shape (n_leads, n_samples) — or (n_beats, n_leads, n_samples) with ``beats="all"`` —
    float32, mV unless normalised.

    Raises
    ------
    DelineationError
        If no valid beat fits inside the record.
    SignalQualityError
        ±inf in the record, or (``missing="raise"``) a lead missing in every beat.
    """
    _check_pair(record, delineation, missing=missing)
    if mode not in ("fixed", "stretch"):
        raise InputError(f"mode={mode!r}: choose 'fixed' or 'stretch'.")
    if beats not in ("median", "all"):
        raise InputError(f"beats={beats!r}: choose 'median' or 'all'.")
    if n_samples < 8:
        raise InputError(f"n_samples={n_samples}: a QRS window needs at least 8 samples (paper: 250).")
    signal = _baseline_corrected(record)
    fs = record.fs
    cut = []
    valid_idx = np.flatnonzero(delineation.valid)
    if mode == "fixed":
        cut = _fixed_cuts(signal, fs, delineation.qrs_onsets[valid_idx], n_samples)
    else:
        for k in valid_idx:
            a, b = int(delineation.qrs_onsets[k]), int(delineation.qrs_offsets[k])
            if a < 0 or b > record.n_samples or b - a < 2:
                continue
            cut.append(_resample_segment(signal[:, a:b], n_samples))
    if not cut:
        raise _no_beats_error(record, f"{mode} QRS window", len(valid_idx), delineation.n_beats)
    stack = np.stack(cut)
    out = _median_beat(stack) if beats == "median" else stack
    out = _refuse_missing(record, out, f"{mode} QRS window", missing)
    return normalize_window(out, normalize).astype(np.float32)


def _fixed_cuts(signal: np.ndarray, fs: float, onsets: np.ndarray, n_samples: int) -> list[np.ndarray]:
    """``n_samples`` ms at 1000 Hz from 40 ms before each QRS onset (native samples) that fits.

    Each beat is cut at the native rate with a margin and resampled to 1000 Hz (polyphase,
    anti-aliased); the beats of one segment length go through the resampling together (the same
    filter, row by row, as one call per beat), then each is interpolated at its exact sub-sample start.
    """
    up, down = _ratio(fs)
    start_native = PRE_ONSET_MS / 1000.0 * fs
    length_native = n_samples / WINDOW_FS_HZ * fs
    margin = int(np.ceil(0.02 * fs))
    spans = []  # (onset, a, b) of every beat inside the record, in beat order
    for onset in onsets:
        a = int(np.floor(onset - start_native)) - margin
        b = int(np.ceil(onset - start_native + length_native)) + margin + 1
        if a >= 0 and b <= signal.shape[1]:
            spans.append((onset, a, b))
    cuts: dict[int, np.ndarray] = {}
    for length in sorted({b - a for _, a, b in spans}):  # one length, unless rounding makes two
        group = [k for k, (_, a, b) in enumerate(spans) if b - a == length]
        segments = np.stack([signal[:, spans[k][1] : spans[k][2]] for k in group])
        resampled = _polyphase(np.nan_to_num(segments), up, down)
        gaps = np.isnan(segments)
        if gaps.any():
            resampled[_resample_mask(gaps, resampled.shape[2])] = np.nan
        # exact sub-sample start: onset - 40 ms, relative to the segment start a
        starts = np.array([(spans[k][0] - start_native - spans[k][1]) / fs * WINDOW_FS_HZ for k in group])
        grids = starts[:, None, None] + np.arange(n_samples)
        interpolated = _interp_rows(grids, np.arange(resampled.shape[2]), resampled)
        cuts.update(zip(group, interpolated, strict=True))
    return [cuts[k] for k in range(len(spans))]


def _polyphase(segments: np.ndarray, up: int, down: int) -> np.ndarray:
    """``scipy.signal.resample_poly`` along the last axis with its default filter, designed once here
    instead of once per call (the same coefficients: Kaiser-windowed sinc, beta 5, half-length
    10 · max(up, down) taps)."""
    if up == down == 1:
        return segments.copy()
    half_length = 10 * max(up, down)
    window = sps.firwin(2 * half_length + 1, 1.0 / max(up, down), window=("kaiser", 5.0))
    return sps.resample_poly(segments, up, down, axis=-1, window=window.astype(segments.dtype))


def _median_beat(stack: np.ndarray) -> np.ndarray:
    """Sample-wise median over beats (axis 0), ignoring beats with a gap there; NaN where all have one."""
    if not np.isnan(stack).any():
        return np.median(stack, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN samples stay NaN on purpose
        return np.nanmedian(stack, axis=0)


def _ratio(fs: float) -> tuple[int, int]:
    from fractions import Fraction

    fraction = Fraction(WINDOW_FS_HZ / fs).limit_denominator(1000)
    return fraction.numerator, fraction.denominator


def _resample_mask(mask: np.ndarray, n: int) -> np.ndarray:
    """``mask`` (..., m) at ``n`` points along its last axis (nearest sample)."""
    index = np.linspace(0, mask.shape[-1] - 1, n).round().astype(int)
    return mask[..., index]


def rr_features_ms(delineation: QRSDelineation) -> np.ndarray:
    """Mean, SD (ddof=0), min and max of the RR intervals in ms, shape (4,), float32.

    Intervals are taken between consecutive detected beats (valid or not: a flagged beat is still a
    beat for the rhythm).
    """
    rr = delineation.rr_intervals_ms
    if len(rr) == 0:
        raise DelineationError("RR features need at least two beats; the delineation holds fewer.")
    return np.array([rr.mean(), rr.std(), rr.min(), rr.max()], dtype=np.float32)


def rr_window(
    record: ECGRecord,
    delineation: QRSDelineation,
    *,
    n_samples: int = 500,
    normalize: Normalize = "none",
    missing: Missing = "raise",
) -> RRWindow:
    """RR-extended window: one whole cardiac cycle around each QRS, resampled to a fixed length.

    Definition: for valid beat ``k`` with QRS onset ``o_k`` and R peaks ``r``, the cycle runs from
    ``o_k - 0.35 * RR_prev`` to ``o_k + 0.65 * RR_next`` (``RR_prev = r_k - r_{k-1}``,
    ``RR_next = r_{k+1} - r_k``; the first/last beat borrows its one neighbouring interval). It holds
    the P wave, the QRS and the T wave of beat ``k`` and is exactly one RR interval long on a regular
    rhythm. Each cycle is resampled to ``n_samples`` points (linear interpolation) and the window is the
    sample-wise median over the cycles that lie inside the record. Heart rate is removed from the
    waveform by the resampling and given back as the RR features.

    Parameters
    ----------
    record : ECGRecord
    delineation : QRSDelineation
    n_samples : int
        Points per cycle.
    normalize : {"none", "zscore", "maxabs"}
    missing : {"raise", "keep"}
        As for :func:`qrs_window`.

    Returns
    -------
    RRWindow
        ``window`` (n_leads, n_samples) float32 and ``rr_features`` (4,) float32, ms.

    Raises
    ------
    DelineationError
        Fewer than two beats, or no valid cycle inside the record.
    SignalQualityError
        As for :func:`qrs_window`.
    """
    _check_pair(record, delineation, missing=missing)
    if n_samples < 8:
        raise InputError(f"n_samples={n_samples}: an RR window needs at least 8 samples.")
    features = rr_features_ms(delineation)
    signal = _baseline_corrected(record)
    r = delineation.r_peaks
    cycles = []
    valid_idx = np.flatnonzero(delineation.valid)
    for k in valid_idx:
        rr_prev = r[k] - r[k - 1] if k > 0 else r[k + 1] - r[k]
        rr_next = r[k + 1] - r[k] if k < len(r) - 1 else r[k] - r[k - 1]
        a = round(delineation.qrs_onsets[k] - RR_BEFORE_FRACTION * rr_prev)
        b = round(delineation.qrs_onsets[k] + (1 - RR_BEFORE_FRACTION) * rr_next)
        if a < 0 or b > record.n_samples or b - a < 8:
            continue
        cycles.append(_resample_segment(signal[:, a:b], n_samples))
    if not cycles:
        raise _no_beats_error(record, "whole-cycle RR window", len(valid_idx), delineation.n_beats)
    window = _refuse_missing(record, _median_beat(np.stack(cycles)), "RR window", missing)
    window = normalize_window(window, normalize).astype(np.float32)
    return RRWindow(window=window, rr_features=features)
