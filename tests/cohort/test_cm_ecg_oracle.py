"""The cardiomyopathy ECG oracle: the exact posterior given what the simulated ECG shows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cardiopredict.cohort import oracle_auc, simulate_crt_cohort
from cardiopredict.cohort.synthetic import (
    CM_CLASSES,
    cardiomyopathy_ecg_posterior,
    draw_cardiomyopathy_patients,
    pvc_pattern_log_likelihood,
)
from cardiopredict.errors import InputError


def _brute_force_likelihood(first_index: int, pattern: list[int], p: float) -> float:
    """P(pattern) by enumerating every draw sequence, with the simulator's PVC rule written out."""
    n = len(pattern)
    total = 0.0
    for previous, *draws in itertools.product((0, 1), repeat=n + 1):
        weight = np.prod([p if b else 1 - p for b in (previous, *draws)])
        before = previous
        ok = True
        for k, (b, seen) in enumerate(zip(draws, pattern, strict=True), start=first_index):
            is_pvc = False if k == 0 else bool(b) if k == 1 else bool(b and not before)
            if seen != -1 and is_pvc != bool(seen):
                ok = False
                break
            before = b
        total += weight if ok else 0.0
    return total


@pytest.mark.parametrize("first_index", [0, 1, 4])
@pytest.mark.parametrize(
    "pattern", [[-1, 0, 1, 0, 0, -1], [-1, 1, 0, 1, -1], [0, 0, 0, 0, 0, 0, 0], [-1, 1, 1]]
)
def test_pvc_pattern_likelihood_matches_enumeration(first_index, pattern):
    p = np.array([0.0, 0.05, 0.2, 0.3])
    got = np.exp(pvc_pattern_log_likelihood(first_index, np.array(pattern), p))
    want = [_brute_force_likelihood(first_index, pattern, q) for q in p]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)


def _patterns(n: int, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    return [(int(rng.integers(0, 3)), rng.choice([-1, 0, 0, 0, 1], size=14)) for _ in range(n)]


def test_ecg_posterior_ignores_what_the_ecg_cannot_show():
    rng = np.random.default_rng(0)
    patients = draw_cardiomyopathy_patients(300, rng=rng)
    patterns = _patterns(300, rng)
    posterior = cardiomyopathy_ecg_posterior(patients, patterns)
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0)
    # LVEF, age, sex and the latent ectopy (seen only through the PVC pattern) do not move it
    changed = patients.copy()
    changed["lvef"] = rng.permutation(changed["lvef"].to_numpy())
    changed["age"] = 90.0
    changed["sex"] = "F"
    changed["ectopy"] = rng.normal(size=len(changed))
    np.testing.assert_allclose(cardiomyopathy_ecg_posterior(changed, patterns), posterior)
    # what the ECG does show moves it
    changed["heart_rate_bpm"] += 15.0
    assert np.abs(cardiomyopathy_ecg_posterior(changed, patterns) - posterior).max() > 0.05


def test_ecg_posterior_is_calibrated_and_below_the_full_oracle():
    """On 20,000 patients (PVC patterns drawn as the simulator draws them) the ECG posterior is
    calibrated and carries less information than the posterior from every trait."""
    from sklearn.metrics import log_loss

    from cardiopredict.cohort.synthetic import pvc_probability

    rng = np.random.default_rng(1)
    n = 20_000
    patients = draw_cardiomyopathy_patients(n, rng=rng)
    patterns = []
    for ectopy in patients["ectopy"]:
        draws = rng.random(13) < pvc_probability(ectopy)
        pvc = draws & ~np.concatenate(([False, False], draws[1:-1]))  # the simulator's rule
        pvc[0] = False
        patterns.append((0, np.where(np.arange(13) < 2, -1, pvc.astype(int))))  # beats 0, 1 before the strip
    posterior = cardiomyopathy_ecg_posterior(patients, patterns)
    y = patients["diagnosis"].map({c: k for k, c in enumerate(CM_CLASSES)}).to_numpy()
    full = patients[[f"p_{c}" for c in CM_CLASSES]].to_numpy()
    for k in range(3):  # calibration: mean predicted probability = observed frequency, per class
        assert abs(posterior[:, k].mean() - (y == k).mean()) < 0.01
    prior = np.tile(np.bincount(y) / n, (n, 1))
    assert log_loss(y, full) < log_loss(y, posterior) < log_loss(y, prior)


def test_oracle_auc_source_is_checked(tmp_path):
    manifest = simulate_crt_cohort(tmp_path / "crt", n=12, seed=0, format="csv")
    with pytest.raises(InputError, match="no ECG oracle"):
        oracle_auc(manifest, source="ecg")
    with pytest.raises(InputError, match="choose 'all' or 'ecg'"):
        oracle_auc(manifest, source="trait")
