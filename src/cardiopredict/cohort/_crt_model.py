"""The CRT cohort's generative model: patients' latent traits, response probability and their ECGs.

See :mod:`cardiopredict.cohort.synthetic` for the model in words.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.cohort._synthetic_common import DURATION_S, FS_HZ, SCAR_TERRITORIES, noise_levels, sigmoid
from cardiopredict.ecg import simulate as sim
from cardiopredict.ecg.record import ECGRecord

CRT_CONDUCTION = {"LBBB": 0.72, "IVCD": 0.16, "RBBB": 0.12}
CRT_LOGIT = {
    "intercept": 1.6,
    "dyssynchrony": 1.6,
    "scar": -4.5,
    "lead_position": 1.0,
    "female": 0.4,
    "non_ischaemic": 0.3,
}


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
    p = sigmoid(logit)
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
    """Pre-implant ECG: the conduction pattern, widened by dyssynchrony, dilation and scar."""
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
        **noise_levels(rng),
    )


def _crt_post_params(row: Any, pre: sim.ECGParams, rng: np.random.Generator) -> sim.ECGParams:
    """Post-implant biventricular-paced ECG: narrower and more LV-led with a better lead position."""
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
        **noise_levels(rng),
    )


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
