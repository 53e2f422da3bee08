"""What every format reader returns before units, lead names and quality are made uniform."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardiopredict.errors import SamplingRateError, UnitError

# Factor that turns a value in the given unit into millivolts.
_TO_MV = {
    "mv": 1.0,
    "millivolt": 1.0,
    "millivolts": 1.0,
    "uv": 1e-3,
    "µv": 1e-3,
    "μv": 1e-3,
    "microvolt": 1e-3,
    "microvolts": 1e-3,
    "v": 1e3,
    "volt": 1e3,
    "volts": 1e3,
    "nv": 1e-6,
    "nanovolt": 1e-6,
    "nanovolts": 1e-6,
}
UNIT_NAMES = ("mV", "uV", "V")


@dataclass
class RawECG:
    """Signal as the file holds it.

    Parameters
    ----------
    signal : ndarray of shape (n_leads, n_samples), float64, in ``units`` (NaN = sample absent)
    lead_names : list of str
        Labels as written in the file (mapped to canonical names later).
    fs : float or None
        Sampling rate in Hz if the file states it.
    units : list of (str or None)
        Unit of each row as written in the file; None when the file does not say.
    format : str
        Short format name stored in ``meta['format']``.
    meta : dict
        Non-identifying facts from the file header.
    """

    signal: np.ndarray
    lead_names: list[str]
    fs: float | None
    units: list[str | None]
    format: str
    meta: dict[str, Any] = field(default_factory=dict)


def mv_factor(unit: str, *, source: str, lead: str | None = None) -> float:
    """Multiplier converting ``unit`` to millivolts; :class:`UnitError` for anything unknown."""
    key = re.sub(r"\s+", "", str(unit)).lower()
    if key in _TO_MV:
        return _TO_MV[key]
    where = f" for lead {lead}" if lead else ""
    raise UnitError(
        f"Unknown signal unit {unit!r}{where} in {source}. Supported: mV, uV (µV), V. "
        "Fix the unit in the file, or pass units='mV' (or 'uV', 'V') to read_ecg."
    )


def parse_fs(value: Any, *, source: str, origin: str) -> float:
    """Parse a sampling rate such as ``500``, ``"500 Hz"``, ``"0.5 kHz"``; raise on anything else."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        fs = float(value)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?\d+)?)\s*(k?hz)?\s*", str(value), re.IGNORECASE)
        if match is None:
            raise SamplingRateError(
                f"Sampling rate {value!r} ({origin}) in {source} is not a number of Hz. "
                "Write it as e.g. 500 or '500 Hz', or pass fs=500 to read_ecg."
            )
        fs = float(match.group(1)) * (1000.0 if (match.group(2) or "").lower() == "khz" else 1.0)
    if not math.isfinite(fs) or fs <= 0:
        raise SamplingRateError(
            f"Sampling rate {value!r} ({origin}) in {source} is not a positive number of Hz; "
            "pass fs=<Hz> to read_ecg or fix the file."
        )
    return fs
