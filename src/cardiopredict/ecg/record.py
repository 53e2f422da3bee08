"""ECGRecord: the one in-memory type every ECG reader returns and every ECG function takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import InputError, SamplingRateError

MIN_SAMPLING_RATE_HZ = 100.0


@dataclass(frozen=True, eq=False)
class ECGRecord:
    """A 12-lead ECG in canonical lead order.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), float32, mV
        NaN marks samples the file did not hold; see ``meta['quality']``.
    fs : float
        Sampling rate in Hz (>= 100).
    leads : tuple of str
        Lead names, canonical (``I II III aVR aVL aVF V1..V6``) once read by :func:`read_ecg`.
    patient_id, record_id : str, optional
        The cohort's own identifiers. Names and other identifiers found in file headers are never
        stored here; readers keep header identifiers out of ``meta`` too.
    meta : dict
        Format, source path, derived leads, ``quality`` (per-lead flags), and other non-identifying
        header facts.
    """

    signal: np.ndarray
    fs: float
    leads: tuple[str, ...] = CANONICAL_LEADS
    patient_id: str | None = None
    record_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        signal = np.asarray(self.signal)
        if signal.ndim != 2:
            raise InputError(
                f"ECGRecord.signal must have shape (n_leads, n_samples); got shape {signal.shape}."
            )
        if signal.shape[0] != len(self.leads):
            raise InputError(
                f"ECGRecord has {signal.shape[0]} signal rows but {len(self.leads)} lead names "
                f"{list(self.leads)}; give one name per row."
            )
        if signal.dtype != np.float32:
            signal = signal.astype(np.float32)
        object.__setattr__(self, "signal", signal)
        object.__setattr__(self, "leads", tuple(self.leads))
        try:
            fs = float(self.fs)
        except (TypeError, ValueError):
            raise SamplingRateError(
                f"Sampling rate {self.fs!r} is not a number; give it in Hz, e.g. fs=500."
            ) from None
        if not np.isfinite(fs) or fs < MIN_SAMPLING_RATE_HZ:
            raise SamplingRateError(
                f"Sampling rate {self.fs!r} Hz is below {MIN_SAMPLING_RATE_HZ:g} Hz or not finite; "
                "a 12-lead QRS analysis needs >= 100 Hz (250 Hz or more recommended). "
                "Check the fs hint or the file's header."
            )
        object.__setattr__(self, "fs", fs)

    @property
    def n_samples(self) -> int:
        """Number of samples per lead."""
        return int(self.signal.shape[1])

    @property
    def duration_s(self) -> float:
        """Recording length in seconds."""
        return self.n_samples / self.fs

    def lead(self, name: str) -> np.ndarray:
        """Return one lead, shape (n_samples,), mV, by canonical name."""
        try:
            return self.signal[self.leads.index(name)]
        except ValueError:
            raise InputError(
                f"Record {self.record_id or ''} has no lead {name!r}; leads are {list(self.leads)}."
            ) from None

    def replace(self, **changes: Any) -> ECGRecord:
        """Return a copy with some fields changed (signal, fs, meta, ...)."""
        fields = {
            "signal": self.signal,
            "fs": self.fs,
            "leads": self.leads,
            "patient_id": self.patient_id,
            "record_id": self.record_id,
            "meta": dict(self.meta),
        }
        fields.update(changes)
        return ECGRecord(**fields)
