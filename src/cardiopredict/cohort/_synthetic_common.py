"""Shared pieces of the synthetic cohorts: recording format, noise levels, the machine's QRS reading."""

from __future__ import annotations

import numpy as np

from cardiopredict.ecg import simulate as sim

FS_HZ = 500.0
DURATION_S = 10.0
SCAR_TERRITORIES = ("anterior", "lateral", "inferior")


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


def noise_levels(rng: np.random.Generator) -> dict[str, float]:
    """Baseline wander, powerline and muscle noise amplitudes (mV) of one recording."""
    return {
        "baseline_mv": float(rng.uniform(0.02, 0.1)),
        "powerline_mv": float(rng.uniform(0.0, 0.02)),
        "muscle_mv": float(rng.uniform(0.003, 0.012)),
    }


def machine_qrs_ms(params: sim.ECGParams, rng: np.random.Generator) -> float:
    """QRS duration as the ECG machine's report gives it: the designed duration read with a 6-ms SD error,
    in 2-ms steps (500 Hz). Deliberately not the project's own delineator, so that the cohort (and its
    calibration) does not change when that delineator is improved; the study code measures ECGs itself."""
    return float(2 * round((params.qrs_duration_ms + rng.normal(0.0, 6.0)) / 2))
