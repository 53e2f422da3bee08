"""Parameters of the QRS delineator and the two small signal helpers its steps share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cardiopredict.errors import DelineationError

INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")


@dataclass(frozen=True)
class DelineationParams:
    """Parameters of :func:`cardiopredict.ecg.delineate` (physiological, apart from the calibrated edges).

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
        Calibrated on LUDB records 1-75 (docs/BENCHMARKS.md).
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
    edge_model : bool
        Place onset and offset with the calibrated edge model (``onset_model``, ``offset_model``; the
        default since 2026-12-01, issue 16) instead of the ``onset_fraction``/``offset_fraction``
        thresholds (:meth:`legacy`).
    onset_model, offset_model : tuple of float
        Edge model: global onset / offset in ms after the beat's spatial-velocity peak as (constant,
        weights...) applied to the candidates of the edge model (onset: the spatial velocity's 0.5 % and
        4 % crossings; offset: its 0.5 % crossing, the median per-lead offset at 10 % and the third-latest
        at 20 % of each lead's peak slope). Fitted by Huber regression on the non-paced beats of LUDB
        records 1-75 against the earliest/latest of the cardiologists' 12 per-lead marks, checked on
        76-150 (docs/BENCHMARKS.md, 2026-11-24).
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
    onset_model: tuple[float, ...] = (-18.6, 0.15, 0.74)
    offset_model: tuple[float, ...] = (18.7, 0.17, 0.61, 0.17)
    paced_lead_in_ms: float = 80.0
    pause_factor: float = 1.5
    min_coupling_s: float = 0.3
    t_lag_tolerance_s: float = 0.05

    def __post_init__(self) -> None:
        for name in (
            "detection_fraction",
            "t_slope_fraction",
            "core_fraction",
            "onset_fraction",
            "offset_fraction",
        ):
            _check(name, getattr(self, name), 0.0 < getattr(self, name) < 1.0, "lie strictly between 0 and 1")
        low, high = self.band_hz
        _check("band_hz", self.band_hz, 0.0 < low < high, "be (low_hz, high_hz) with 0 < low_hz < high_hz")
        for name in ("onset_search_ms", "offset_search_ms", "gap_ms", "min_fs_hz", "pause_factor"):
            _check(name, getattr(self, name), getattr(self, name) > 0, "be positive")
        for name in ("paced_lead_in_ms", "min_coupling_s", "t_lag_tolerance_s"):
            _check(name, getattr(self, name), getattr(self, name) >= 0, "be zero or positive")
        _check("min_qrs_ms", self.min_qrs_ms, 0 <= self.min_qrs_ms < self.max_qrs_ms, "lie below max_qrs_ms")
        _check("leads", self.leads, len(self.leads) > 0, "name at least one lead")
        _check("onset_model", self.onset_model, len(self.onset_model) == 3, "hold (constant, w_0.5%, w_4%)")
        _check(
            "offset_model", self.offset_model, len(self.offset_model) == 4, "hold a constant and 3 weights"
        )

    @classmethod
    def legacy(cls, **changes: object) -> DelineationParams:
        """Threshold edges (1 % / 1.5 % of the spatial-velocity peak): the default until 2026-12-01."""
        return cls(**{"edge_model": False, **changes})  # type: ignore[arg-type]

    @classmethod
    def calibrated(cls, **changes: object) -> DelineationParams:
        """The calibrated edge model (``edge_model=True``, the default), fitted on LUDB records 1-75."""
        return cls(**{"edge_model": True, **changes})  # type: ignore[arg-type]


def _check(name: str, value: object, ok: bool, requirement: str) -> None:
    if not ok:
        raise DelineationError(f"DelineationParams: {name}={value!r} must {requirement}.")


def moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average of a 1-D array over ``width`` samples (``x`` itself when width <= 1)."""
    width = max(int(width), 1)
    if width == 1:
        return x
    kernel = np.ones(width) / width
    return np.convolve(x, kernel, mode="same")


def p10(x: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """10th percentile along ``axis`` (linear interpolation, as ``np.percentile``), via partial sort."""
    n = x.shape[axis]
    position = 0.1 * (n - 1)
    low = int(position)
    high = min(low + 1, n - 1)
    part = np.partition(x, (low, high) if high > low else low, axis=axis)
    a, b = np.take(part, low, axis=axis), np.take(part, high, axis=axis)
    return a + (b - a) * (position - low)
