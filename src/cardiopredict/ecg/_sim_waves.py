"""The waves of the simulated heart vector: the bump type and the QRS, T and P builders of each conduction
pattern (normal, LBBB, RBBB, IVCD, LAFB, biventricular pacing, PVC, fragmentation). Re-exported by
:mod:`cardiopredict.ecg.simulate`, which draws phenotypes from them and renders the 12 leads."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from cardiopredict.errors import InputError


class Wave(NamedTuple):
    """One smooth bump of the heart vector.

    Parameters
    ----------
    centre_ms : float
        Centre, in ms from the start of its wave (P onset for P waves, QRS onset for QRS and T).
    half_width_ms : float
        The bump is non-zero on ``centre ± half_width``.
    x_mv, y_mv, z_mv : float
        Peak vector (Frank axes: X left, Y inferior, Z posterior), mV.
    """

    centre_ms: float
    half_width_ms: float
    x_mv: float
    y_mv: float
    z_mv: float


def extent_ms(waves: tuple[Wave, ...]) -> tuple[float, float]:
    """First start and last end (ms) of a set of bumps."""
    return (
        min(w.centre_ms - w.half_width_ms for w in waves),
        max(w.centre_ms + w.half_width_ms for w in waves),
    )


# --- waves ---------------------------------------------------------------------------------------
def scaled_waves(waves: tuple[Wave, ...], *, time: float = 1.0, amplitude: float = 1.0) -> tuple[Wave, ...]:
    return tuple(
        Wave(
            w.centre_ms * time,
            w.half_width_ms * time,
            w.x_mv * amplitude,
            w.y_mv * amplitude,
            w.z_mv * amplitude,
        )
        for w in waves
    )


def unit_vector(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def net_vector(waves: tuple[Wave, ...]) -> np.ndarray:
    """Area-weighted mean QRS vector (direction of the net QRS force)."""
    return np.sum([np.array(w[2:]) * w.half_width_ms for w in waves], axis=0)


def t_waves(
    qrs_end_ms: float, direction: np.ndarray, amplitude_mv: float, *, st_ms: float = 60.0, t_ms: float = 180.0
) -> tuple[Wave, ...]:
    """An asymmetric T wave (slow rise, faster fall) starting ``st_ms`` after the QRS end.

    Parameters
    ----------
    qrs_end_ms : float
        End of the QRS from QRS onset.
    direction : ndarray of shape (3,)
        T axis (normalised here).
    amplitude_mv : float
        Peak spatial amplitude.
    """
    d = unit_vector(np.asarray(direction, dtype=float)) * amplitude_mv
    start = qrs_end_ms + st_ms
    first = Wave(start + 0.45 * t_ms, 0.45 * t_ms, *(0.55 * d))
    second = Wave(start + 0.68 * t_ms, 0.32 * t_ms, *(0.6 * d))
    return (first, second)


def p_waves(*, amplitude_mv: float = 0.15, duration_ms: float = 100.0) -> tuple[Wave, ...]:
    """Right- then left-atrial bumps (P axis ~60°), ``duration_ms`` long."""
    h = duration_ms / 3.0
    right = Wave(h, h, 0.15 * amplitude_mv, 0.9 * amplitude_mv, -0.35 * amplitude_mv)
    left = Wave(2 * h, h, 0.7 * amplitude_mv, 0.45 * amplitude_mv, 0.45 * amplitude_mv)
    return (right, left)


# Normal QRS at 90 ms: septal (right, anterior), LV free wall (left, inferior, posterior), basal (terminal).
_NORMAL_QRS = (
    Wave(12.0, 12.0, -0.18, 0.05, -0.22),
    Wave(40.0, 26.0, 1.05, 0.75, 0.3),
    Wave(64.0, 26.0, -0.15, -0.2, 0.3),
)


def normal_qrs(*, qrs_ms: float = 90.0, amplitude: float = 1.0, axis_deg: float = 50.0) -> tuple[Wave, ...]:
    """Normal conduction: septal q, main LV force, terminal basal force; frontal axis ``axis_deg``."""
    waves = scaled_waves(_NORMAL_QRS, time=qrs_ms / 90.0, amplitude=amplitude)
    return _rotate_frontal(waves, axis_deg - 50.0)


def _rotate_frontal(waves: tuple[Wave, ...], degrees: float) -> tuple[Wave, ...]:
    """Rotate the frontal (X, Y) part of every bump by ``degrees`` (positive: towards inferior/right)."""
    if degrees == 0:
        return waves
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    return tuple(
        Wave(w.centre_ms, w.half_width_ms, c * w.x_mv - s * w.y_mv, s * w.x_mv + c * w.y_mv, w.z_mv)
        for w in waves
    )


def lbbb_qrs(
    *,
    qrs_ms: float = 160.0,
    notch_fraction: float = 0.62,
    notch_depth: float = 1.0,
    amplitude: float = 1.0,
    lateral_amplitude: float = 1.0,
) -> tuple[Wave, ...]:
    """Left bundle branch block: right-to-left septum, then a slow LV with a late lateral-wall force.

    Parameters
    ----------
    qrs_ms : float
        Total QRS duration.
    notch_fraction : float
        Centre of the lateral-wall bump as a fraction of the QRS (later = more dyssynchrony).
    notch_depth : float
        0 merges the two LV bumps into one broad R (no notch: non-strict), 1 separates them (notch).
    lateral_amplitude : float
        Relative size of the lateral-wall force (scar there makes it smaller).
    """
    q = qrs_ms
    lateral_centre = notch_fraction * q
    lateral_half = max(q - 8.0 - lateral_centre, 0.12 * q)
    # septal/anterior LV bump: centred earlier and narrower when the notch is deep. It is smaller and more
    # posterior than the lateral-wall force: the leftward force grows as the slow trans-septal wavefront
    # reaches the lateral wall, so the R in V5/V6 peaks late (R-peak time > 60 ms, AHA 2009), also when the
    # QRS rises slowly out of the baseline (QRS_EDGE_RAMP in simulate.py; issue 16)
    first_centre = 0.26 * q + (1 - notch_depth) * 0.1 * q
    first_half = min(first_centre - 4.0, 0.2 * q + (1 - notch_depth) * 0.2 * q)
    waves = (
        Wave(0.08 * q, 0.08 * q, 0.22, 0.04, -0.02),  # septum activated from the right: leftward, no q
        Wave(first_centre, first_half, 0.5 * amplitude, 0.15 * amplitude, 0.8 * amplitude),
        Wave(
            lateral_centre,
            lateral_half,
            0.9 * amplitude * lateral_amplitude,
            -0.15 * amplitude,
            0.85 * amplitude * lateral_amplitude,
        ),
        Wave(q - 8.0, 8.0, 0.12 * amplitude, -0.05, 0.1),
    )
    return waves


def rbbb_qrs(*, qrs_ms: float = 140.0, amplitude: float = 1.0, r_prime_mv: float = 0.6) -> tuple[Wave, ...]:
    """Right bundle branch block: normal septum and LV, then a late rightward-anterior RV force (R')."""
    normal = scaled_waves(_NORMAL_QRS[:2], time=0.9, amplitude=amplitude)
    late_start = 70.0
    late_half = (qrs_ms - late_start) / 2.0
    return (*normal, Wave(late_start + late_half, late_half, -0.7 * r_prime_mv, 0.05, -0.9 * r_prime_mv))


def ivcd_qrs(*, qrs_ms: float = 130.0, amplitude: float = 1.0) -> tuple[Wave, ...]:
    """Non-specific intraventricular conduction delay: normal sequence (septal q kept), slowed and slurred."""
    waves = scaled_waves(_NORMAL_QRS, time=qrs_ms / 90.0, amplitude=amplitude)
    slur = Wave(0.5 * qrs_ms, 0.3 * qrs_ms, 0.15 * amplitude, -0.1 * amplitude, 0.15 * amplitude)
    return (*waves, slur)


def lafb_qrs(*, qrs_ms: float = 105.0, amplitude: float = 1.0) -> tuple[Wave, ...]:
    """Left anterior fascicular block: initial inferior-rightward, then superior-leftward force (≈ -60°)."""
    s = qrs_ms / 105.0
    return (
        Wave(16 * s, 16 * s, -0.12, 0.3, -0.15),
        Wave(52 * s, 36 * s, 0.85 * amplitude, -1.0 * amplitude, 0.3 * amplitude),
        Wave(78 * s, 27 * s, 0.3 * amplitude, -0.35 * amplitude, 0.2 * amplitude),
    )


def paced_biv_qrs(
    *, qrs_ms: float = 140.0, amplitude: float = 1.0, lv_fraction: float = 0.6
) -> tuple[Wave, ...]:
    """Biventricular paced QRS: LV lateral wall activated first (rightward force, dominant R in V1), RV apex
    (superior force); ``lv_fraction`` weights the LV-paced part. Starts 4 ms after the stimulus."""
    q = qrs_ms - 4.0
    lv, rv = lv_fraction, 1.0 - lv_fraction
    return (
        Wave(4 + 0.36 * q, 0.36 * q, -0.9 * lv * amplitude, -0.4 * amplitude, -0.9 * lv * amplitude),
        Wave(4 + 0.6 * q, 0.4 * q, 0.5 * rv * amplitude, -0.8 * amplitude, -0.2 * amplitude),
    )


def pvc_qrs(*, qrs_ms: float = 160.0, amplitude: float = 1.6, origin: str = "rvot") -> tuple[Wave, ...]:
    """A wide ventricular ectopic beat: ``origin`` "rvot" (LBBB-like, inferior axis) or "lv" (RBBB-like)."""
    if origin == "rvot":
        vector = np.array([0.6, 1.0, 0.7])
    elif origin == "lv":
        vector = np.array([-0.7, -0.5, -0.7])
    else:
        raise InputError(f"PVC origin {origin!r}: use 'rvot' or 'lv'.")
    v = unit_vector(vector) * amplitude
    return (
        Wave(0.3 * qrs_ms, 0.3 * qrs_ms, *(0.6 * v)),
        Wave(0.62 * qrs_ms, 0.38 * qrs_ms, *v),
    )


def fragmentation(
    qrs: tuple[Wave, ...],
    *,
    territory: str,
    n_notches: int = 3,
    amplitude_mv: float = 0.2,
    notch_half_width_ms: float = 7.5,
) -> tuple[Wave, ...]:
    """Add ``n_notches`` narrow alternating bumps in the direction of a territory (scar-related fQRS).

    ``notch_half_width_ms`` is in designed time: the edge ramp of :mod:`cardiopredict.ecg.simulate`
    (``QRS_EDGE_RAMP = 0.35``) runs the middle of the QRS 1 / (1 - 0.35) times faster, so 7.5 ms renders
    a notch about 5 ms wide on each side of its centre, as the 5 ms bumps rendered before the ramp (issue 16).
    """
    directions = {
        "anterior": np.array([0.2, 0.0, -1.0]),
        "lateral": np.array([1.0, -0.3, 0.2]),
        "inferior": np.array([0.1, 1.0, 0.1]),
    }
    if territory not in directions:
        raise InputError(f"territory {territory!r}: use one of {sorted(directions)}.")
    start, end = extent_ms(qrs)
    d = directions[territory] * amplitude_mv
    positions = np.linspace(start + 0.3 * (end - start), start + 0.75 * (end - start), n_notches)
    notches = tuple(
        Wave(float(c), notch_half_width_ms, *(d * (1 if k % 2 == 0 else -1))) for k, c in enumerate(positions)
    )
    return (*qrs, *notches)


T_INVERSION_DIRECTIONS = {
    "anterior": np.array([0.3, 0.4, 1.0]),
    "lateral": np.array([-1.0, 0.6, 0.1]),
    "inferior": np.array([0.6, -1.0, 0.0]),
}
