"""Synthetic CRT and cardiomyopathy cohorts with known true outcome probabilities (the oracle).

Each patient has latent traits drawn from a documented generative model; the traits shape the ECG
morphology and rhythm (:mod:`cardiopredict.ecg.simulate`) and set the true outcome probability. The
label is drawn from that probability, so no model can beat the oracle AUC in expectation, and a model
is judged against it rather than against chance.

CRT (one patient = a pre-implant ECG and a post-implant biventricular-paced ECG)
    * ``sex`` (30 % F), ``age``, ``ischaemic`` (55 % of men, 30 % of women), ``lvef`` 15–35 %.
    * Conduction: LBBB 72 %, non-specific IVCD 16 %, RBBB 12 %.
    * ``dyssynchrony`` d ~ N(0.4, 1) in LBBB, N(-0.6, 1) otherwise: timing of the lateral-wall
      activation (the notch of the broad R, later with larger d), depth of the notch, and part of the
      QRS duration.
    * ``scar`` s in [0, 1] (Beta(2.5, 4) ischaemic, Beta(1, 9) otherwise) in one territory: fragmented
      QRS (notches whose amplitude grows with s), a smaller lateral-wall force when the scar is lateral,
      lower voltage, a wider QRS.
    * ``dilation`` g ~ N(0, 1): wider and taller QRS, no effect on response (a confounder of QRS width).
    * ``lead_position`` q ~ N(0, 1): how well the LV lead captures the late lateral wall; the paced QRS
      is narrower and more LV-led (dominant R in V1) with larger q, and with larger d, smaller s.
    * True response probability ``sigmoid(b0 + 1.6 d - 4.5 s + 1.0 q + 0.4 [F] + 0.3 [non-ischaemic])``
      (b0 sets ~65 % responders). ``lvef`` and ``age`` do not enter.
    * Manifest covariates as a clinical database records them: ``qrs_duration_ms`` as the ECG machine
      reports it (designed duration, 6 ms SD reading error, 2 ms steps; see :func:`machine_qrs_ms`),
      ``lbbb`` from the report (the true conduction type, 4 % of reports wrong), ``lvef``, ``sex``, ``age``.

Cardiomyopathy (GEN genetic, MYO myocarditis, SARC cardiac sarcoidosis; priors 0.40 / 0.30 / 0.30)
    Class-conditional latent traits, independent given the class, so the posterior is exact (Bayes):
    heart rate, AV conduction (PR, then 2nd/3rd-degree block above thresholds), ventricular ectopy
    (PVC rate), conduction pattern (normal, RBBB, LBBB, LAFB), QRS voltage, fragmentation, T-wave
    inversion territory, QRS width, LVEF, age and sex (tables :data:`CM_GAUSSIANS`, :data:`CM_CATEGORICALS`).
    SARC and GEN share AV disease and ectopy (hard to separate); MYO is faster, with few conduction
    problems and lateral/inferior T inversion (easier to tell from GEN).
    Two oracles: ``p_GEN, p_MYO, p_SARC`` from every trait, and the ECG oracle ``p_ecg_*``
    (:func:`cardiomyopathy_ecg_posterior`) from what the rendered ECG shows — LVEF, age and sex left
    out, the latent ectopy seen only through the PVCs of the strip. The ECG oracle bounds an ECG model.

Files: one ECG file per recording under ``ecg/`` (``xlsx`` by default, the paper's export; ``csv`` or
``wfdb``), ``manifest.csv`` (paths relative to it) and ``oracle.csv`` (true probabilities: for scoring,
never a model input). The whole folder is built in a temporary sibling and renamed into place. The same
seed gives byte-identical files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._atomic import publish
from cardiopredict.ecg import simulate as sim
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import InputError, InsufficientDataError

__all__ = [
    "CM_CATEGORICALS",
    "CM_CLASSES",
    "CM_GAUSSIANS",
    "CM_PRIORS",
    "FORMATS",
    "draw_cardiomyopathy_patients",
    "draw_crt_cohort",
    "draw_crt_patients",
    "machine_qrs_ms",
    "oracle_auc",
    "simulate_cardiomyopathy_cohort",
    "simulate_crt_cohort",
    "simulate_crt_ecgs",
    "write_xlsx_fast",
]

FORMATS: tuple[str, ...] = ("xlsx", "csv", "wfdb")
MIN_PATIENTS = 10
FS_HZ = 500.0
DURATION_S = 10.0
_SUFFIX = {"xlsx": ".xlsx", "csv": ".csv", "wfdb": ".hea"}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# --- CRT -----------------------------------------------------------------------------------------
CRT_CONDUCTION = {"LBBB": 0.72, "IVCD": 0.16, "RBBB": 0.12}
CRT_LOGIT = {
    "intercept": 1.6,
    "dyssynchrony": 1.6,
    "scar": -4.5,
    "lead_position": 1.0,
    "female": 0.4,
    "non_ischaemic": 0.3,
}
SCAR_TERRITORIES = ("anterior", "lateral", "inferior")


def draw_crt_patients(n: int, *, rng: np.random.Generator) -> pd.DataFrame:
    """Latent traits, covariates and true response probability of ``n`` CRT candidates.

    Returns
    -------
    DataFrame
        One row per patient: ``sex``, ``age``, ``ischaemic``, ``lvef``, ``conduction``, ``dyssynchrony``,
        ``scar``, ``scar_territory``, ``dilation``, ``lead_position``, ``p_response``, ``response``.
    """
    female = rng.random(n) < 0.30
    age = np.clip(rng.normal(67, 10, n), 35, 90).round()
    ischaemic = rng.random(n) < np.where(female, 0.30, 0.55)
    lvef = np.clip(rng.normal(26, 5, n), 15, 35).round()
    conduction = rng.choice(list(CRT_CONDUCTION), size=n, p=list(CRT_CONDUCTION.values()))
    dyssynchrony = rng.normal(np.where(conduction == "LBBB", 0.4, -0.6), 1.0)
    scar = np.where(ischaemic, rng.beta(2.5, 4.0, n), rng.beta(1.0, 9.0, n))
    territory = rng.choice(SCAR_TERRITORIES, size=n)
    dilation = rng.normal(0, 1, n)
    lead_position = rng.normal(0, 1, n)
    c = CRT_LOGIT
    logit = (
        c["intercept"]
        + c["dyssynchrony"] * dyssynchrony
        + c["scar"] * scar
        + c["lead_position"] * lead_position
        + c["female"] * female
        + c["non_ischaemic"] * ~ischaemic
    )
    p = _sigmoid(logit)
    response = (rng.random(n) < p).astype(int)
    return pd.DataFrame(
        {
            "sex": np.where(female, "F", "M"),
            "age": age.astype(int),
            "ischaemic": ischaemic.astype(int),
            "lvef": lvef.astype(int),
            "conduction": conduction,
            "dyssynchrony": dyssynchrony,
            "scar": scar,
            "scar_territory": territory,
            "dilation": dilation,
            "lead_position": lead_position,
            "p_response": p,
            "response": response,
        }
    )


def _crt_pre_params(row: Any, rng: np.random.Generator) -> sim.ECGParams:
    d, s, g = float(row.dyssynchrony), float(row.scar), float(row.dilation)
    amplitude = float(np.exp(0.15 * g - 0.5 * s + rng.normal(0, 0.1)))
    if row.conduction == "LBBB":
        qrs_ms = float(np.clip(146 + 14 * d + 7 * g + 15 * s + rng.normal(0, 6), 122, 205))
        qrs = sim.lbbb_qrs(
            qrs_ms=qrs_ms,
            notch_fraction=float(np.clip(0.58 + 0.05 * d, 0.48, 0.7)),
            notch_depth=float(np.clip(0.5 + 0.4 * d, 0.0, 1.0)),
            amplitude=1.5 * amplitude,
            lateral_amplitude=1.0 - (0.7 * s if row.scar_territory == "lateral" else 0.2 * s),
        )
    elif row.conduction == "RBBB":
        qrs = sim.rbbb_qrs(
            qrs_ms=float(np.clip(138 + 6 * g + 20 * s + rng.normal(0, 8), 122, 185)), amplitude=amplitude
        )
    else:
        qrs = sim.ivcd_qrs(
            qrs_ms=float(np.clip(128 + 6 * d + 6 * g + 20 * s + rng.normal(0, 6), 118, 180)),
            amplitude=amplitude,
        )
    if s > 0.2:
        qrs = sim.fragmentation(
            qrs, territory=str(row.scar_territory), n_notches=2 + int(s > 0.45), amplitude_mv=0.05 + 0.3 * s
        )
    _, end = sim.extent_ms(qrs)
    t_direction = -sim.net_vector(qrs if row.conduction != "RBBB" else qrs[-1:])
    t = sim.t_waves(end, t_direction, float(rng.uniform(0.3, 0.55)), st_ms=float(rng.uniform(30, 50)))
    return sim.ECGParams(
        qrs=qrs,
        t=t,
        p=sim.p_waves(amplitude_mv=float(rng.uniform(0.08, 0.16)), duration_ms=float(rng.uniform(100, 125))),
        heart_rate_bpm=float(rng.uniform(58, 88)),
        pr_ms=float(rng.uniform(160, 230)),
        av_block=0,
        pvc_probability=0.0,
        phenotype=f"crt_pre_{str(row.conduction).lower()}",
        extra={"conduction": str(row.conduction)},
        **_noise_levels(rng),
    )


def _crt_post_params(row: Any, pre: sim.ECGParams, rng: np.random.Generator) -> sim.ECGParams:
    d, s, q = float(row.dyssynchrony), float(row.scar), float(row.lead_position)
    paced_ms = float(np.clip(148 - 10 * q - 7 * d + 45 * s + rng.normal(0, 5), 112, 200))
    lv_fraction = float(np.clip(0.55 + 0.15 * q - 0.2 * s, 0.15, 0.9))
    amplitude = float(np.exp(-0.5 * s))
    qrs = sim.paced_biv_qrs(qrs_ms=paced_ms, amplitude=1.3 * amplitude, lv_fraction=lv_fraction)
    if s > 0.2:
        qrs = sim.fragmentation(
            qrs, territory=str(row.scar_territory), n_notches=2, amplitude_mv=0.05 + 0.2 * s
        )
    _, end = sim.extent_ms(qrs)
    t_mv = float(rng.uniform(0.25, 0.4)) * amplitude
    t = sim.t_waves(end, -sim.net_vector(qrs), t_mv, st_ms=float(rng.uniform(60, 80)), t_ms=160.0)
    return replace(
        pre,
        qrs=qrs,
        t=t,
        pr_ms=float(rng.uniform(100, 130)),  # programmed sensed AV delay
        paced=True,
        vv_delay_ms=float(rng.choice([0.0, 10.0, 20.0])),
        phenotype="crt_post_biv_paced",
        extra={"lv_fraction": round(lv_fraction, 3)},
        **_noise_levels(rng),
    )


def _noise_levels(rng: np.random.Generator) -> dict[str, float]:
    return {
        "baseline_mv": float(rng.uniform(0.02, 0.1)),
        "powerline_mv": float(rng.uniform(0.0, 0.02)),
        "muscle_mv": float(rng.uniform(0.003, 0.012)),
    }


# --- cardiomyopathy --------------------------------------------------------------------------------
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

    def gaussian(name: str) -> tuple[np.ndarray, float]:
        means, sd = CM_GAUSSIANS[name]
        return np.asarray(means)[None, :], sd

    def observed(values: np.ndarray, name: str) -> np.ndarray:
        mu, sd = gaussian(name)
        return -0.5 * ((values[:, None] - mu) / sd) ** 2

    def below(bound: np.ndarray, name: str) -> np.ndarray:  # log P(trait <= bound | class)
        mu, sd = gaussian(name)
        return norm.logcdf((np.asarray(bound, dtype=float)[:, None] - mu) / sd)

    def above(bound: float, name: str) -> np.ndarray:
        mu, sd = gaussian(name)
        return norm.logsf((bound - mu) / sd) * np.ones((n, 1))

    def pick(mask: np.ndarray, value: np.ndarray) -> np.ndarray:
        return np.where(mask[:, None], value, 0.0)

    rate = patients["heart_rate_bpm"].to_numpy(float)
    low, high = CM_HEART_RATE_RANGE
    log_lik += pick((rate > low) & (rate < high), observed(rate, "heart_rate_bpm"))
    log_lik += pick(rate <= low, below(np.full(n, low), "heart_rate_bpm"))
    log_lik += pick(rate >= high, above(high, "heart_rate_bpm"))

    av = patients["av_disease"].to_numpy(float)
    block2, block3 = CM_AV_BLOCK_AT
    pr_floor = (CM_PR_MS[2] - CM_PR_MS[0]) / CM_PR_MS[1]  # av_disease below this renders PR = 120 ms
    mu, sd = gaussian("av_disease")
    in_block2 = np.log(np.clip(norm.cdf((block3 - mu) / sd) - norm.cdf((block2 - mu) / sd), 1e-300, None))
    log_lik += pick((av > pr_floor) & (av <= block2), observed(av, "av_disease"))
    log_lik += pick(av <= pr_floor, below(np.full(n, pr_floor), "av_disease"))
    log_lik += pick((av > block2) & (av <= block3), np.broadcast_to(in_block2, (n, len(CM_CLASSES))))
    log_lik += pick(av > block3, above(block3, "av_disease"))

    extra = patients["qrs_extra_ms"].to_numpy(float)
    floor = patients["conduction"].map(CM_QRS_EXTRA_FLOOR_MS).to_numpy(float)
    log_lik += pick(extra > floor, observed(extra, "qrs_extra_ms"))
    log_lik += pick(extra <= floor, below(floor, "qrs_extra_ms"))

    log_lik += _ectopy_log_likelihood(pvc_patterns, av > block3)
    return _softmax(log_lik)


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
    p = _sigmoid(np.asarray(ectopy, dtype=float) - offset)
    return np.where(p > floor, np.minimum(p, ceiling), 0.0)


def _cm_params(row: Any, rng: np.random.Generator) -> sim.ECGParams:
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
        **_noise_levels(rng),
    )


# --- writing ---------------------------------------------------------------------------------------
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_COLUMNS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _text_cell(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def write_xlsx_fast(record: ECGRecord, path: Path, *, sheet_name: str) -> Path:
    """Write one ECG as a one-sheet xlsx in the layout :func:`cardiopredict.ecg.io.write_ecg` uses.

    Layout: ``sampling_rate_hz | fs``, ``units | mV``, the lead-name row, then one row per sample with
    values rounded to 0.001 mV (1 µV). The sheet XML is formatted in one call, not cell by cell: 0.04 s
    per 10-s 500-Hz ECG against 0.41 s for :func:`cardiopredict.ecg.io.write_ecg` (xlsxwriter, one Python
    call per cell; docs/BENCHMARKS.md). Deterministic: no
    timestamps (zip entries dated 2020-01-01), so the same record gives the same bytes.

    Parameters
    ----------
    record : ECGRecord
        At most 26 leads, no NaN.
    path : Path
        Target ``.xlsx``; written directly (callers write into a temporary folder).
    sheet_name : str
        1–31 characters of ``[A-Za-z0-9_-]``.
    """
    if not sheet_name or len(sheet_name) > 31 or not all(ch.isalnum() or ch in "_-" for ch in sheet_name):
        raise InputError(f"Sheet name {sheet_name!r}: use 1-31 letters, digits, '_' or '-'.")
    n_leads, n_samples = record.signal.shape
    if n_leads > len(_COLUMNS):
        raise InputError(f"{n_leads} leads: write_xlsx_fast writes at most {len(_COLUMNS)} columns.")
    if not np.isfinite(record.signal).all():
        raise InputError(
            f"Record {record.record_id!r} holds NaN samples; write it with cardiopredict.write_ecg."
        )
    columns = _COLUMNS[:n_leads]
    head = [
        f'<row r="1">{_text_cell("A1", "sampling_rate_hz")}<c r="B1"><v>{record.fs!r}</v></c></row>',
        f'<row r="2">{_text_cell("A2", "units")}{_text_cell("B2", "mV")}</row>',
        '<row r="3">'
        + "".join(_text_cell(f"{c}3", lead) for c, lead in zip(columns, record.leads, strict=True))
        + "</row>",
    ]
    row_format = '<row r="%d">' + "".join(f'<c r="{c}%d"><v>%.3f</v></c>' for c in columns) + "</row>"
    rows = np.arange(4, n_samples + 4)
    values = np.round(record.signal.astype(np.float64), 3).T  # (n_samples, n_leads)
    table = np.empty((n_samples, 1 + 2 * n_leads), dtype=object)
    table[:, 0] = rows
    table[:, 1::2] = rows[:, None]
    table[:, 2::2] = values
    body = (row_format * n_samples) % tuple(table.ravel().tolist())
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f'<dimension ref="A1:{columns[-1]}{n_samples + 3}"/><sheetData>'
        + "".join(head)
        + body
        + "</sheetData></worksheet>"
    )
    parts = (
        ("[Content_Types].xml", _CONTENT_TYPES),
        ("_rels/.rels", _ROOT_RELS),
        ("xl/workbook.xml", _WORKBOOK.format(name=sheet_name)),
        ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
        ("xl/styles.xml", _STYLES),
        ("xl/worksheets/sheet1.xml", sheet),
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"), compresslevel=1)
    return path


def _write_record(record: ECGRecord, folder: Path, name: str, fmt: str) -> str:
    """Write one ECG into ``folder / "ecg"`` and return its path relative to ``folder``."""
    relative = f"ecg/{name}{_SUFFIX[fmt]}"
    target = folder / relative
    if fmt == "xlsx":
        write_xlsx_fast(record, target, sheet_name=name)
    else:
        from cardiopredict.ecg.io import write_ecg

        write_ecg(record, target, format=fmt)
    return relative


def machine_qrs_ms(params: sim.ECGParams, rng: np.random.Generator) -> float:
    """QRS duration as the ECG machine's report gives it: the designed duration read with a 6-ms SD error,
    in 2-ms steps (500 Hz). Deliberately not the project's own delineator, so that the cohort (and its
    calibration) does not change when that delineator is improved; the study code measures ECGs itself."""
    return float(2 * round((params.qrs_duration_ms + rng.normal(0.0, 6.0)) / 2))


def _check_request(out_dir: Path, *, n: int, format: str, overwrite: bool) -> Path:
    out_dir = Path(out_dir)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < MIN_PATIENTS:
        raise InsufficientDataError(
            f"n={n!r} patients: a synthetic cohort needs at least {MIN_PATIENTS}; use a larger n."
        )
    if format not in FORMATS:
        raise InputError(f"format={format!r}: choose one of {', '.join(FORMATS)}.")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"Output {out_dir} exists and is not a folder; choose another --out.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(
            f"Output folder {out_dir} exists and is not empty; pass overwrite=True (--overwrite) "
            "to replace it, "
            "or choose another folder."
        )
    return out_dir


def _write_cohort(out_dir: Path, build: Callable[[Path], None], *, overwrite: bool) -> Path:
    """Build the cohort in a temporary sibling folder, then move it into place in one rename."""
    out_dir = Path(out_dir).absolute()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        (staging / "ecg").mkdir()
        build(staging)
        if out_dir.exists():
            if any(out_dir.iterdir()) and not overwrite:  # appeared while we were writing
                raise InputError(
                    f"Output folder {out_dir} was filled while the cohort was written; not replaced."
                )
            trash = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
            os.replace(out_dir, trash / "old")
            publish(staging, out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            publish(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir / "manifest.csv"


def _progress(items: range, label: str, enabled: bool) -> Any:
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description=label, transient=True)


def draw_crt_cohort(n: int, *, seed: int) -> tuple[pd.DataFrame, list[np.random.Generator]]:
    """The patients of the CRT cohort of this ``n`` and ``seed``, and one random stream per patient.

    :func:`simulate_crt_cohort` writes exactly these patients; benchmarks use it to study the same
    patients without writing files.
    """
    root = np.random.default_rng([int(seed), 1])
    patients = draw_crt_patients(n, rng=root)
    return patients, root.spawn(n)


def simulate_crt_ecgs(
    row: Any, rng: np.random.Generator, *, patient_id: str
) -> tuple[sim.ECGParams, ECGRecord, ECGRecord]:
    """Pre-implant parameters, pre-implant ECG and post-implant (paced) ECG of one CRT patient."""
    pre_params = _crt_pre_params(row, rng)
    post_params = _crt_post_params(row, pre_params, rng)
    pre = sim.simulate_ecg(
        pre_params, rng=rng, fs=FS_HZ, duration_s=DURATION_S, record_id=f"{patient_id}_pre"
    )
    post = sim.simulate_ecg(
        post_params, rng=rng, fs=FS_HZ, duration_s=DURATION_S, record_id=f"{patient_id}_post"
    )
    return pre_params, pre, post


def simulate_crt_cohort(
    out_dir: str | os.PathLike[str],
    *,
    n: int = 196,
    seed: int = 0,
    format: str = "xlsx",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a synthetic CRT cohort: pre- and post-implant ECGs, manifest and oracle.

    Parameters
    ----------
    out_dir : path
        Folder to create (must be absent or empty unless ``overwrite``).
    n : int
        Patients (>= 10; the paper's cohort has 196).
    seed : int
        Same seed, same bytes.
    format : {"xlsx", "csv", "wfdb"}
        ECG file format.
    overwrite : bool
        Replace a non-empty ``out_dir``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir/manifest.csv``: ``patient_id, response, ecg_pre, ecg_post, qrs_duration_ms, lbbb, lvef,
        sex, age``; ``oracle.csv`` beside it: ``patient_id, p_response``.
    """
    out_dir = _check_request(Path(out_dir), n=n, format=format, overwrite=overwrite)
    patients, streams = draw_crt_cohort(n, seed=seed)
    if patients["response"].nunique() < 2:
        raise InsufficientDataError(
            f"CRT cohort with n={n}, seed={seed} drew only one response class; "
            "use a larger n or another seed."
        )
    ids = [f"crt{k + 1:04d}" for k in range(n)]

    def build(folder: Path) -> None:
        rows = []
        for k in _progress(range(n), "simulating CRT cohort", progress):
            row = patients.iloc[k]
            rng = streams[k]
            pre_params, pre, post = simulate_crt_ecgs(row, rng, patient_id=ids[k])
            lbbb_reported = (row.conduction == "LBBB") != (rng.random() < 0.04)
            rows.append(
                {
                    "patient_id": ids[k],
                    "response": int(row.response),
                    "ecg_pre": _write_record(pre, folder, f"{ids[k]}_pre", format),
                    "ecg_post": _write_record(post, folder, f"{ids[k]}_post", format),
                    "qrs_duration_ms": machine_qrs_ms(pre_params, rng),
                    "lbbb": int(lbbb_reported),
                    "lvef": int(row.lvef),
                    "sex": row.sex,
                    "age": int(row.age),
                }
            )
        manifest = pd.DataFrame(rows)
        oracle = pd.DataFrame({"patient_id": ids, "p_response": patients["p_response"].round(6)})
        manifest.to_csv(folder / "manifest.csv", index=False)
        oracle.to_csv(folder / "oracle.csv", index=False)

    return _write_cohort(out_dir, build, overwrite=overwrite)


def simulate_cardiomyopathy_cohort(
    out_dir: str | os.PathLike[str],
    *,
    n: int = 500,
    seed: int = 0,
    format: str = "xlsx",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a synthetic cardiomyopathy cohort (GEN / MYO / SARC): one ECG per patient, manifest, oracle.

    Parameters
    ----------
    out_dir, n, seed, format, overwrite, progress
        As in :func:`simulate_crt_cohort`.

    Returns
    -------
    Path
        ``out_dir/manifest.csv``: ``patient_id, diagnosis, ecg, qrs_duration_ms, lvef, sex, age``;
        ``oracle.csv``: ``patient_id, p_GEN, p_MYO, p_SARC`` (the true posterior, from every trait) and
        ``p_ecg_GEN, p_ecg_MYO, p_ecg_SARC`` (:func:`cardiomyopathy_ecg_posterior`: from what the ECG
        shows; the bound for an ECG-only model).
    """
    out_dir = _check_request(Path(out_dir), n=n, format=format, overwrite=overwrite)
    root = np.random.default_rng([int(seed), 2])
    patients = draw_cardiomyopathy_patients(n, rng=root)
    missing = [name for name in CM_CLASSES if not (patients["diagnosis"] == name).any()]
    if missing:
        raise InsufficientDataError(
            f"Cardiomyopathy cohort with n={n}, seed={seed} drew no patient of class(es) {missing}; "
            "use a larger n or another seed."
        )
    streams = root.spawn(n)
    ids = [f"cm{k + 1:04d}" for k in range(n)]

    def build(folder: Path) -> None:
        rows, patterns = [], []
        for k in _progress(range(n), "simulating cardiomyopathy cohort", progress):
            row = patients.iloc[k]
            rng = streams[k]
            params = _cm_params(row, rng)
            record = sim.simulate_ecg(params, rng=rng, fs=FS_HZ, duration_s=DURATION_S, record_id=ids[k])
            patterns.append(pvc_pattern(record.meta["events"], record.n_samples))
            rows.append(
                {
                    "patient_id": ids[k],
                    "diagnosis": row.diagnosis,
                    "ecg": _write_record(record, folder, ids[k], format),
                    "qrs_duration_ms": machine_qrs_ms(params, rng),
                    "lvef": int(np.clip(round(row.lvef), 10, 75)),
                    "sex": row.sex,
                    "age": int(np.clip(round(row.age), 16, 90)),
                }
            )
        pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
        oracle = patients[[f"p_{name}" for name in CM_CLASSES]].round(6)
        ecg_posterior = cardiomyopathy_ecg_posterior(patients, patterns)
        for k, name in enumerate(CM_CLASSES):
            oracle[f"p_ecg_{name}"] = ecg_posterior[:, k].round(6)
        oracle.insert(0, "patient_id", ids)
        oracle.to_csv(folder / "oracle.csv", index=False)

    return _write_cohort(out_dir, build, overwrite=overwrite)


# --- oracle ------------------------------------------------------------------------------------------
def oracle_auc(manifest_path: str | os.PathLike[str], *, source: str = "all") -> dict[str, float]:
    """AUC of the true probabilities (``oracle.csv`` beside the manifest) for each task of the cohort.

    Parameters
    ----------
    manifest_path : path
        A synthetic cohort's ``manifest.csv``.
    source : {"all", "ecg"}
        Cardiomyopathy cohorts: ``"all"`` scores the posterior from every trait (``p_*``), ``"ecg"``
        the posterior from what the ECG shows (``p_ecg_*``, :func:`cardiomyopathy_ecg_posterior`).

    Returns
    -------
    dict
        CRT: ``{"response": auc}``. Cardiomyopathy: ``{"gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc"}`` (score
        ``p_a / (p_a + p_b)`` on the patients of the two classes) and ``"3class"`` (macro one-vs-rest AUC).
    """
    from sklearn.metrics import roc_auc_score

    manifest_path = Path(manifest_path)
    oracle_path = manifest_path.parent / "oracle.csv"
    if not manifest_path.is_file() or not oracle_path.is_file():
        raise InputError(
            f"oracle_auc needs {manifest_path} and oracle.csv beside it (a cohort written by "
            "cardiopredict simulate); one is missing."
        )
    manifest = pd.read_csv(manifest_path, dtype={"patient_id": str})
    oracle = (
        pd.read_csv(oracle_path, dtype={"patient_id": str})
        .set_index("patient_id")
        .reindex(manifest["patient_id"])
    )
    if oracle.isna().any().any():
        raise InputError(f"{oracle_path} lacks probabilities for some patients of {manifest_path}.")

    def auc(y: np.ndarray, score: np.ndarray) -> float:
        return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")

    if source not in ("all", "ecg"):
        raise InputError(f"source={source!r}: choose 'all' or 'ecg'.")
    if "response" in manifest and "p_response" in oracle and source == "all":
        return {"response": auc(manifest["response"].to_numpy(int), oracle["p_response"].to_numpy(float))}
    prefix = "p_ecg_" if source == "ecg" else "p_"
    if "diagnosis" in manifest and {f"{prefix}{c}" for c in CM_CLASSES} <= set(oracle.columns):
        result: dict[str, float] = {}
        diagnosis = manifest["diagnosis"].to_numpy(str)
        for a, b in (("GEN", "MYO"), ("GEN", "SARC"), ("MYO", "SARC")):
            pick = np.isin(diagnosis, (a, b))
            pa = oracle[f"{prefix}{a}"].to_numpy(float)[pick]
            pb = oracle[f"{prefix}{b}"].to_numpy(float)[pick]
            result[f"{a.lower()}-vs-{b.lower()}"] = auc((diagnosis[pick] == a).astype(int), pa / (pa + pb))
        ovr = [auc((diagnosis == c).astype(int), oracle[f"{prefix}{c}"].to_numpy(float)) for c in CM_CLASSES]
        result["3class"] = float(np.nanmean(ovr))
        return result
    if source == "ecg":
        raise InputError(
            f"{oracle_path}: no ECG oracle (p_ecg_GEN, p_ecg_MYO, p_ecg_SARC); only cardiomyopathy cohorts "
            "written by this version of cardiopredict simulate carry one."
        )
    raise InputError(
        f"{manifest_path}: neither a CRT cohort (response + p_response) nor a cardiomyopathy cohort "
        "(diagnosis + p_GEN/p_MYO/p_SARC)."
    )
