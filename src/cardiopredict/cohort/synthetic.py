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

Code: the CRT model in ``_crt_model``, the cardiomyopathy model and its posteriors in
``_cardiomyopathy_model``, request checks and file writing in ``_cohort_writer`` (xlsx through
:func:`cardiopredict.ecg.io.write_xlsx_sheets`); this module draws and writes the cohorts and scores
their oracle.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cardiopredict.cohort._cardiomyopathy_model import (
    CM_CATEGORICALS,
    CM_CLASSES,
    CM_EXACT_ECG_TRAITS,
    CM_GAUSSIANS,
    CM_PRIORS,
    cardiomyopathy_ecg_posterior,
    cardiomyopathy_params,
    cardiomyopathy_trait_log_likelihood,
    draw_cardiomyopathy_patients,
    pvc_pattern,
    pvc_pattern_log_likelihood,
    pvc_probability,
)
from cardiopredict.cohort._cohort_writer import (
    FORMATS,
    MIN_PATIENTS,
    check_request,
    progress_over,
    write_cohort,
    write_record,
)
from cardiopredict.cohort._crt_model import (
    CRT_CONDUCTION,
    CRT_LOGIT,
    draw_crt_cohort,
    draw_crt_patients,
    simulate_crt_ecgs,
)
from cardiopredict.cohort._synthetic_common import DURATION_S, FS_HZ, SCAR_TERRITORIES, machine_qrs_ms
from cardiopredict.ecg import simulate as sim
from cardiopredict.errors import InputError, InsufficientDataError

__all__ = [
    "CM_CATEGORICALS",
    "CM_CLASSES",
    "CM_EXACT_ECG_TRAITS",
    "CM_GAUSSIANS",
    "CM_PRIORS",
    "CRT_CONDUCTION",
    "CRT_LOGIT",
    "FORMATS",
    "MIN_PATIENTS",
    "SCAR_TERRITORIES",
    "cardiomyopathy_ecg_posterior",
    "cardiomyopathy_trait_log_likelihood",
    "draw_cardiomyopathy_patients",
    "draw_crt_cohort",
    "draw_crt_patients",
    "machine_qrs_ms",
    "oracle_auc",
    "pvc_pattern",
    "pvc_pattern_log_likelihood",
    "pvc_probability",
    "simulate_cardiomyopathy_cohort",
    "simulate_crt_cohort",
    "simulate_crt_ecgs",
]


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
    out_dir = check_request(Path(out_dir), n=n, format=format, overwrite=overwrite)
    patients, streams = draw_crt_cohort(n, seed=seed)
    if patients["response"].nunique() < 2:
        raise InsufficientDataError(
            f"CRT cohort with n={n}, seed={seed} drew only one response class; "
            "use a larger n or another seed."
        )
    ids = [f"crt{k + 1:04d}" for k in range(n)]

    def build(folder: Path) -> None:
        rows = []
        for k in progress_over(range(n), "simulating CRT cohort", progress):
            row = patients.iloc[k]
            rng = streams[k]
            pre_params, pre, post = simulate_crt_ecgs(row, rng, patient_id=ids[k])
            lbbb_reported = (row.conduction == "LBBB") != (rng.random() < 0.04)
            rows.append(
                {
                    "patient_id": ids[k],
                    "response": int(row.response),
                    "ecg_pre": write_record(pre, folder, f"{ids[k]}_pre", format),
                    "ecg_post": write_record(post, folder, f"{ids[k]}_post", format),
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

    return write_cohort(out_dir, build, overwrite=overwrite)


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
    out_dir = check_request(Path(out_dir), n=n, format=format, overwrite=overwrite)
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
        for k in progress_over(range(n), "simulating cardiomyopathy cohort", progress):
            row = patients.iloc[k]
            rng = streams[k]
            params = cardiomyopathy_params(row, rng)
            record = sim.simulate_ecg(params, rng=rng, fs=FS_HZ, duration_s=DURATION_S, record_id=ids[k])
            patterns.append(pvc_pattern(record.meta["events"], record.n_samples))
            rows.append(
                {
                    "patient_id": ids[k],
                    "diagnosis": row.diagnosis,
                    "ecg": write_record(record, folder, ids[k], format),
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

    return write_cohort(out_dir, build, overwrite=overwrite)


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
        CRT: ``{"response": auc}``. VA: ``{"va_event": auc}``. Cardiomyopathy: ``{"gen-vs-myo",
        "gen-vs-sarc", "myo-vs-sarc"}`` (score ``p_a / (p_a + p_b)`` on the patients of the two
        classes) and ``"3class"`` (macro one-vs-rest AUC).
    """
    manifest_path = Path(manifest_path)
    oracle_path = manifest_path.parent / "oracle.csv"
    manifest, oracle = _read_oracle(manifest_path, oracle_path)
    if source not in ("all", "ecg"):
        raise InputError(f"source={source!r}: choose 'all' or 'ecg'.")
    if "response" in manifest and "p_response" in oracle and source == "all":
        return {"response": _auc(manifest["response"].to_numpy(int), oracle["p_response"].to_numpy(float))}
    if "va_event" in manifest and "p_va_event" in oracle and source == "all":
        return {"va_event": _auc(manifest["va_event"].to_numpy(int), oracle["p_va_event"].to_numpy(float))}
    prefix = "p_ecg_" if source == "ecg" else "p_"
    if "diagnosis" in manifest and {f"{prefix}{c}" for c in CM_CLASSES} <= set(oracle.columns):
        return _cardiomyopathy_oracle_aucs(manifest["diagnosis"].to_numpy(str), oracle, prefix)
    if source == "ecg":
        raise InputError(
            f"{oracle_path}: no ECG oracle (p_ecg_GEN, p_ecg_MYO, p_ecg_SARC); only cardiomyopathy cohorts "
            "written by this version of cardiopredict simulate carry one."
        )
    raise InputError(
        f"{manifest_path}: neither a CRT cohort (response + p_response) nor a cardiomyopathy cohort "
        "(diagnosis + p_GEN/p_MYO/p_SARC)."
    )


def _read_oracle(manifest_path: Path, oracle_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The manifest and its ``oracle.csv`` in manifest order; InputError when one is missing or incomplete."""
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
    probabilities = [c for c in oracle.columns if c.startswith("p_")]
    if oracle[probabilities].isna().any().any():
        raise InputError(f"{oracle_path} lacks probabilities for some patients of {manifest_path}.")
    return manifest, oracle


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of ``score`` for the 0/1 labels ``y``; NaN unless both classes are present."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def _cardiomyopathy_oracle_aucs(diagnosis: np.ndarray, oracle: pd.DataFrame, prefix: str) -> dict[str, float]:
    """Pairwise AUCs of ``p_a / (p_a + p_b)`` and the macro one-vs-rest AUC (``"3class"``) of the oracle."""
    result: dict[str, float] = {}
    for a, b in (("GEN", "MYO"), ("GEN", "SARC"), ("MYO", "SARC")):
        pick = np.isin(diagnosis, (a, b))
        pa = oracle[f"{prefix}{a}"].to_numpy(float)[pick]
        pb = oracle[f"{prefix}{b}"].to_numpy(float)[pick]
        result[f"{a.lower()}-vs-{b.lower()}"] = _auc((diagnosis[pick] == a).astype(int), pa / (pa + pb))
    ovr = [_auc((diagnosis == c).astype(int), oracle[f"{prefix}{c}"].to_numpy(float)) for c in CM_CLASSES]
    result["3class"] = float(np.nanmean(ovr))
    return result
