"""The cardiomyopathy cohort's generative model (GEN / MYO / SARC) and its exact posteriors.

See :mod:`cardiopredict.cohort.synthetic` for the model in words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.cohort._synthetic_common import SCAR_TERRITORIES, noise_levels, sigmoid
from cardiopredict.ecg import simulate as sim

CM_CLASSES: tuple[str, ...] = ("GEN", "MYO", "SARC")
CM_PRIORS = np.array([0.40, 0.30, 0.30])
#: Gaussian traits: name -> (mean per class GEN, MYO, SARC; shared SD)
CM_GAUSSIANS: dict[str, tuple[tuple[float, float, float], float]] = {
    "heart_rate_bpm": ((68.0, 80.0, 70.0), 11.0),
    "av_disease": ((0.3, -0.4, 0.7), 1.0),
    "ectopy": ((0.6, -0.2, 0.8), 1.0),
    "log_voltage": ((-0.1, -0.25, 0.0), 0.3),
    "qrs_extra_ms": ((10.0, 2.0, 8.0), 10.0),
    "lvef": ((42.0, 46.0, 46.0), 9.0),
    "age": ((47.0, 40.0, 51.0), 13.0),
}
#: Categorical traits: name -> (levels, probabilities per class GEN, MYO, SARC)
CM_CATEGORICALS: dict[str, tuple[tuple[str, ...], tuple[tuple[float, ...], ...]]] = {
    "conduction": (
        ("normal", "rbbb", "lbbb", "lafb"),
        ((0.62, 0.08, 0.18, 0.12), (0.80, 0.07, 0.06, 0.07), (0.50, 0.26, 0.08, 0.16)),
    ),
    "fragmented": (("no", "yes"), ((0.65, 0.35), (0.78, 0.22), (0.55, 0.45))),
    "t_inversion": (
        ("none", "anterior", "lateral", "inferior"),
        ((0.45, 0.3, 0.15, 0.1), (0.45, 0.1, 0.27, 0.18), (0.55, 0.22, 0.13, 0.1)),
    ),
    "sex": (("M", "F"), ((0.58, 0.42), (0.72, 0.28), (0.62, 0.38))),
}


def draw_cardiomyopathy_patients(n: int, *, rng: np.random.Generator) -> pd.DataFrame:
    """Class, latent traits and exact class posterior (``p_GEN``, ``p_MYO``, ``p_SARC``) of ``n`` patients."""
    cls = rng.choice(len(CM_CLASSES), size=n, p=CM_PRIORS)
    table: dict[str, Any] = {"diagnosis": np.array(CM_CLASSES)[cls]}
    for name, (means, sd) in CM_GAUSSIANS.items():
        table[name] = rng.normal(np.asarray(means)[cls], sd)
    for name, (levels, probabilities) in CM_CATEGORICALS.items():
        cumulative = np.asarray(probabilities).cumsum(axis=1)[cls]  # (patient, level)
        level = (rng.random(n)[:, None] > cumulative).sum(axis=1)
        table[name] = np.array(levels)[np.minimum(level, len(levels) - 1)]
    patients = pd.DataFrame(table)
    posterior = _softmax(cardiomyopathy_trait_log_likelihood(patients, [*CM_GAUSSIANS, *CM_CATEGORICALS]))
    for k, name in enumerate(CM_CLASSES):
        patients[f"p_{name}"] = posterior[:, k]
    return patients


def cardiomyopathy_trait_log_likelihood(patients: pd.DataFrame, traits: Iterable[str]) -> np.ndarray:
    """log prior + log P(trait values | class) over ``traits`` (exact values), shape (n, 3).

    The traits are independent given the class, so any subset gives the exact Bayes posterior of what
    that subset shows (:func:`_softmax` of the result); additive constants shared by the classes are
    dropped.
    """
    log_lik = np.tile(np.log(CM_PRIORS), (len(patients), 1))
    traits = set(traits)
    for name, (means, sd) in CM_GAUSSIANS.items():
        if name in traits:
            values = patients[name].to_numpy(float)
            log_lik += -0.5 * ((values[:, None] - np.asarray(means)[None, :]) / sd) ** 2
    for name, (levels, probabilities) in CM_CATEGORICALS.items():
        if name in traits:
            level = patients[name].map({v: i for i, v in enumerate(levels)}).to_numpy()
            log_lik += np.log(np.asarray(probabilities)[:, level].T)
    return log_lik


def _softmax(log_lik: np.ndarray) -> np.ndarray:
    posterior = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    return posterior / posterior.sum(axis=1, keepdims=True)


#: Traits the simulated ECG shows exactly (the others it shows censored, or not at all: LVEF, age, sex).
CM_EXACT_ECG_TRAITS = ("log_voltage", "conduction", "fragmented", "t_inversion")


def cardiomyopathy_ecg_posterior(
    patients: pd.DataFrame, pvc_patterns: list[tuple[int, np.ndarray]]
) -> np.ndarray:
    """Exact class posterior given what the simulated ECG shows: the ECG oracle.

    The ECG depends on the class only through the rendered parameters — heart rate (clipped to
    :data:`CM_HEART_RATE_RANGE`), AV conduction (the PR interval up to 1st-degree block; above the
    thresholds only "2nd-degree" or "3rd-degree"), the PVC pattern of the strip (the latent ectopy is
    integrated out), conduction pattern, QRS voltage, QRS width (censored where the phenotype floors
    it), fragmentation and T-wave territory — never through LVEF, age or sex. This posterior is
    therefore the best any ECG model can do (up to the beat-to-beat noise, which only lowers what a
    model can read), whereas the ``p_*`` oracle also uses the traits the ECG does not show.

    Parameters
    ----------
    patients : DataFrame
        From :func:`draw_cardiomyopathy_patients`.
    pvc_patterns : list of (int, ndarray), one per patient
        :func:`pvc_pattern` of the patient's rendered ECG.

    Returns
    -------
    ndarray of shape (n, 3)
        Posterior over :data:`CM_CLASSES`.
    """
    from scipy.stats import norm

    n = len(patients)
    log_lik = cardiomyopathy_trait_log_likelihood(patients, CM_EXACT_ECG_TRAITS)

    rate = patients["heart_rate_bpm"].to_numpy(float)
    low, high = CM_HEART_RATE_RANGE
    log_lik += _on_rows((rate > low) & (rate < high), _log_density(rate, "heart_rate_bpm"))
    log_lik += _on_rows(rate <= low, _log_below(np.full(n, low), "heart_rate_bpm"))
    log_lik += _on_rows(rate >= high, _log_above(high, "heart_rate_bpm", n))

    av = patients["av_disease"].to_numpy(float)
    block2, block3 = CM_AV_BLOCK_AT
    pr_floor = (CM_PR_MS[2] - CM_PR_MS[0]) / CM_PR_MS[1]  # av_disease below this renders PR = 120 ms
    mu, sd = _trait_gaussian("av_disease")
    in_block2 = np.log(np.clip(norm.cdf((block3 - mu) / sd) - norm.cdf((block2 - mu) / sd), 1e-300, None))
    log_lik += _on_rows((av > pr_floor) & (av <= block2), _log_density(av, "av_disease"))
    log_lik += _on_rows(av <= pr_floor, _log_below(np.full(n, pr_floor), "av_disease"))
    log_lik += _on_rows((av > block2) & (av <= block3), np.broadcast_to(in_block2, (n, len(CM_CLASSES))))
    log_lik += _on_rows(av > block3, _log_above(block3, "av_disease", n))

    extra = patients["qrs_extra_ms"].to_numpy(float)
    floor = patients["conduction"].map(CM_QRS_EXTRA_FLOOR_MS).to_numpy(float)
    log_lik += _on_rows(extra > floor, _log_density(extra, "qrs_extra_ms"))
    log_lik += _on_rows(extra <= floor, _log_below(floor, "qrs_extra_ms"))

    log_lik += _ectopy_log_likelihood(pvc_patterns, av > block3)
    return _softmax(log_lik)


def _trait_gaussian(name: str) -> tuple[np.ndarray, float]:
    """Class means ``(1, 3)`` and shared SD of the Gaussian trait ``name``."""
    means, sd = CM_GAUSSIANS[name]
    return np.asarray(means)[None, :], sd


def _log_density(values: np.ndarray, name: str) -> np.ndarray:
    """log density of trait values seen exactly, ``(n, 3)`` (constants shared by the classes dropped)."""
    mu, sd = _trait_gaussian(name)
    return -0.5 * ((values[:, None] - mu) / sd) ** 2


def _log_below(bound: np.ndarray, name: str) -> np.ndarray:
    """log P(trait <= bound | class), ``(n, 3)``."""
    from scipy.stats import norm

    mu, sd = _trait_gaussian(name)
    return norm.logcdf((np.asarray(bound, dtype=float)[:, None] - mu) / sd)


def _log_above(bound: float, name: str, n: int) -> np.ndarray:
    """log P(trait > bound | class), the same for all ``n`` patients, ``(n, 3)``."""
    from scipy.stats import norm

    mu, sd = _trait_gaussian(name)
    return norm.logsf((bound - mu) / sd) * np.ones((n, 1))


def _on_rows(mask: np.ndarray, value: np.ndarray) -> np.ndarray:
    """``value`` on the rows where ``mask`` holds, 0 elsewhere."""
    return np.where(mask[:, None], value, 0.0)


def _ectopy_log_likelihood(
    pvc_patterns: list[tuple[int, np.ndarray]], no_pvc_process: np.ndarray
) -> np.ndarray:
    """log P(PVC pattern seen in the strip | class), the latent ectopy integrated on a grid.

    The simulator draws b_k ~ Bernoulli(p) for every scheduled QRS and makes beat k a PVC when
    ``b_k and not b_{k-1}`` (no couplets; beat 0 never, beat 1 whenever b_1). A two-state forward pass
    over b gives the exact probability of the pattern seen (beats outside the strip are summed over;
    a beat counts as seen by where it was rendered). A 3rd-degree block runs no PVC process: its
    pattern carries no information.
    """
    means, sd = CM_GAUSSIANS["ectopy"]
    grid = np.linspace(min(means) - 7 * sd, max(means) + 7 * sd, 561)
    weights = np.exp(-0.5 * ((grid[None, :] - np.asarray(means)[:, None]) / sd) ** 2)
    weights /= weights.sum(axis=1, keepdims=True)  # (class, grid)
    p = pvc_probability(grid)
    out = np.zeros((len(pvc_patterns), len(means)))
    for i, (first_index, pattern) in enumerate(pvc_patterns):
        if no_pvc_process[i] or len(pattern) == 0:
            continue
        log_pattern = pvc_pattern_log_likelihood(first_index, pattern, p)
        peak = log_pattern.max()
        out[i] = peak + np.log(np.clip(weights @ np.exp(log_pattern - peak), 1e-300, None))
    return out


def pvc_pattern_log_likelihood(first_index: int, pattern: np.ndarray, p: np.ndarray) -> np.ndarray:
    """log P(pattern | per-beat PVC draw probability ``p``), for an array of ``p``.

    ``pattern`` as from :func:`pvc_pattern` (1 PVC seen, 0 normal seen, -1 not seen), its first entry
    being schedule beat ``first_index``. State of the forward pass: the previous beat's draw b.
    """
    p = np.asarray(p, dtype=float)
    alpha0, alpha1 = 1.0 - p, p.copy()
    log_scale = np.zeros_like(p)
    for k, seen in enumerate(np.asarray(pattern), start=int(first_index)):
        normal_ok = 1.0 if seen in (-1, 0) else 0.0
        pvc_ok = 1.0 if seen in (-1, 1) else 0.0
        total = alpha0 + alpha1
        if k == 0:  # never a PVC
            alpha0, alpha1 = (1.0 - p) * total * normal_ok, p * total * normal_ok
        elif k == 1:  # a PVC whenever drawn
            alpha0, alpha1 = (1.0 - p) * total * normal_ok, p * total * pvc_ok
        else:
            alpha0, alpha1 = (1.0 - p) * total * normal_ok, p * (alpha0 * pvc_ok + alpha1 * normal_ok)
        scale = np.maximum(alpha0 + alpha1, 1e-300)
        alpha0, alpha1 = alpha0 / scale, alpha1 / scale
        log_scale += np.log(scale)
    return log_scale + np.log(np.maximum(alpha0 + alpha1, 1e-300))


def pvc_pattern(events: dict[str, Any], n_samples: int) -> tuple[int, np.ndarray]:
    """The :func:`cardiomyopathy_ecg_posterior` PVC pattern of one rendered ECG's ``meta["events"]``.

    Returns the schedule index of the first listed QRS and, per listed QRS, 1 (a PVC in the strip),
    0 (a normal beat in the strip) or -1 (outside the strip, not seen).
    """
    onsets = np.asarray(events["qrs"], dtype=np.int64)
    kinds = np.asarray(events["kind"], dtype=np.int64)
    seen = np.where((onsets >= 0) & (onsets < n_samples), (kinds == 1).astype(np.int64), -1)
    return int(np.asarray(events["first_index"]).ravel()[0]), seen


#: How the latent traits become the ECG (used by :func:`_cm_params` and :func:`cardiomyopathy_ecg_posterior`).
CM_HEART_RATE_RANGE = (45.0, 140.0)  # bpm; the rendered (atrial) rate is the trait clipped to this
CM_PR_MS = (160.0, 28.0, 120.0)  # PR = 160 + 28 * av_disease ms, at least 120 ms
CM_AV_BLOCK_AT = (2.0, 2.5)  # av_disease above these: 2nd-degree, 3rd-degree block (PR no longer shows it)
CM_ECTOPY = (2.8, 0.03, 0.3)  # PVC probability per beat: sigmoid(ectopy - 2.8), 0 below 0.03, at most 0.3
CM_QRS_EXTRA_FLOOR_MS = {"normal": -10.0, "lafb": -10.0, "rbbb": 0.0, "lbbb": 0.0}


def _av_state(av: float) -> tuple[int, float]:
    """AV-block degree and PR (ms) that an ``av_disease`` value renders (PR is NaN above 1st degree)."""
    base, slope, pr_min = CM_PR_MS
    if av > CM_AV_BLOCK_AT[1]:
        return 3, float("nan")
    if av > CM_AV_BLOCK_AT[0]:
        return 2, float("nan")
    pr = max(base + slope * av, pr_min)
    return (1 if pr > 200 else 0), pr


def pvc_probability(ectopy: np.ndarray | float) -> np.ndarray:
    """Per-beat PVC probability the simulator uses for a latent ``ectopy`` value."""
    offset, floor, ceiling = CM_ECTOPY
    p = sigmoid(np.asarray(ectopy, dtype=float) - offset)
    return np.where(p > floor, np.minimum(p, ceiling), 0.0)


def cardiomyopathy_params(row: Any, rng: np.random.Generator) -> sim.ECGParams:
    """Simulator parameters of one patient's ECG from its traits (a row of
    :func:`draw_cardiomyopathy_patients`); ``rng`` draws the patient's rendering details."""
    amplitude = float(np.exp(row.log_voltage))
    conduction = str(row.conduction)
    extra_ms = float(max(row.qrs_extra_ms, CM_QRS_EXTRA_FLOOR_MS[conduction]))
    if conduction == "rbbb":
        qrs = sim.rbbb_qrs(qrs_ms=132 + extra_ms, amplitude=amplitude)
    elif conduction == "lbbb":
        qrs = sim.lbbb_qrs(
            qrs_ms=140 + extra_ms,
            notch_fraction=float(rng.uniform(0.55, 0.66)),
            amplitude=1.4 * amplitude,
        )
    elif conduction == "lafb":
        qrs = sim.lafb_qrs(qrs_ms=100 + 0.5 * extra_ms, amplitude=amplitude)
    else:
        qrs = sim.normal_qrs(
            qrs_ms=90 + 0.8 * extra_ms, amplitude=amplitude, axis_deg=float(rng.uniform(10, 75))
        )
    if row.fragmented == "yes":
        qrs = sim.fragmentation(
            qrs, territory=str(rng.choice(SCAR_TERRITORIES)), amplitude_mv=0.15 + 0.1 * amplitude
        )
    _, end = sim.extent_ms(qrs)
    if row.t_inversion != "none":
        t = sim.t_waves(end, sim.T_INVERSION_DIRECTIONS[str(row.t_inversion)], 0.3 * amplitude + 0.05)
    elif conduction in ("rbbb", "lbbb"):
        t = sim.t_waves(end, -sim.net_vector(qrs if conduction == "lbbb" else qrs[-1:]), 0.4 * amplitude)
    else:
        t = sim.t_waves(end, np.array([0.9, 0.6, -0.3]), 0.4 * amplitude)
    av_block, pr_ms = _av_state(float(row.av_disease))
    return sim.ECGParams(
        qrs=qrs,
        t=t,
        p=sim.p_waves(amplitude_mv=float(rng.uniform(0.1, 0.16))),
        heart_rate_bpm=float(np.clip(row.heart_rate_bpm, *CM_HEART_RATE_RANGE)),
        pr_ms=pr_ms if av_block < 2 else float(rng.uniform(160, 200)),
        av_block=av_block,
        av_ratio=int(rng.choice([2, 3, 4])),
        escape_rate_bpm=float(rng.uniform(35, 50)),
        pvc_probability=float(pvc_probability(row.ectopy)),
        pvc_qrs=sim.pvc_qrs(origin=str(rng.choice(["rvot", "lv"])), qrs_ms=float(rng.uniform(140, 180))),
        pvc_t=(),
        phenotype=f"cm_{row.diagnosis.lower()}",
        extra={"conduction": conduction},
        **noise_levels(rng),
    )
