"""CRT-response study (paper section 2.1, Table 1).

Cohort → QRS windows of the pre- and post-implant ECGs → patient-level stratified k-fold → ECGNet on
``pre``, ECGNet on ``post``, ECGCompositeNet on ``combined`` → the guideline rule (QRS >= 150 ms + LBBB),
a logistic regression on clinical covariates and an FPCA + logistic model on the same folds →
``predictions.csv`` → metrics, DeLong tests, figures, ``report.html``.

Every patient of the manifest appears in ``cohort.csv``; those that could not be used carry the reason.
When ``post`` or ``combined`` is requested, a patient without a usable post-implant ECG is excluded
from the whole run, so every model and baseline is scored on the same patients and folds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.config import CRT_INPUTS, ECGWindowConfig, StudyProfile
from cardiopredict.errors import ConfigError, InsufficientDataError
from cardiopredict.studies._common import (
    FEATURE_VERSION,
    FeatureCache,
    atomic_write_csv,
    atomic_write_json,
    cohort_features,
    cohort_table,
    cross_validate,
    is_synthetic_cohort,
    write_run_config,
)

RULE = "qrs150_lbbb"
BASELINES = (RULE, "clinical_logistic", "fpca_logistic")
CLINICAL_COVARIATES = ("qrs_duration_ms", "lbbb", "sex_male", "lvef")
_MODE_FILES = {"pre": ("ecg_pre",), "post": ("ecg_post",), "combined": ("ecg_pre", "ecg_post")}


def model_spec(mode: str, window: ECGWindowConfig) -> tuple[str, dict[str, Any], dict[str, dict[str, str]]]:
    """Network, its keyword arguments and its input spec for one CRT input mode.

    The input spec maps each model input key to the manifest file column and the feature it is
    built from; it is stored in ``model.json`` so prediction rebuilds exactly the same input.
    """
    if mode == "combined":
        spec = {
            "pre": {"column": "ecg_pre", "feature": "qrs"},
            "post": {"column": "ecg_post", "feature": "qrs"},
        }
        return "ecgcomposite", {"input_keys": ("pre", "post"), "n_samples": window.qrs_samples}, spec
    column = _MODE_FILES[mode][0]
    spec = {"ecg": {"column": column, "feature": "qrs"}}
    return "ecgnet", {"input_key": "ecg", "n_samples": window.qrs_samples}, spec


def run_crt_study(
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    inputs: Sequence[str] = CRT_INPUTS,
    profile: StudyProfile | None = None,
    window: ECGWindowConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    figures: bool = True,
    resume: bool = True,
) -> dict[str, Any]:
    """Run the CRT-response study and write its run directory.

    Parameters
    ----------
    manifest_path : path
        Cohort manifest with ``patient_id``, ``response`` (0/1), ``ecg_pre``, ``ecg_post`` and
        optional covariates ``qrs_duration_ms``, ``lbbb``, ``lvef``, ``sex``, ``age``.
    out_dir : path
        Run directory (created; existing outputs are replaced atomically).
    inputs : sequence of {"pre", "post", "combined"}
    profile : StudyProfile, optional
        Training protocol; default the paper's (:meth:`StudyProfile.paper`).
    window : ECGWindowConfig, optional
        QRS window definition; default 250 samples, fixed 250 ms, no normalisation.
    cache_dir : path, optional
        Feature cache; default ``<out_dir>/cache``.
    progress : bool
        Show progress bars.
    figures : bool
        Draw the figures and the report (tests may skip them).
    resume : bool
        Reuse a model whose training already finished in ``out_dir`` on exactly the same inputs,
        labels, folds and settings (a re-run after a kill retrains only what is missing); ``False``
        retrains everything.

    Returns
    -------
    dict
        The content of ``metrics.json``.
    """
    from cardiopredict.cohort.manifest import read_manifest
    from cardiopredict.evaluation.baselines import cv_fpca_logistic, cv_logistic, guideline_rule_scores
    from cardiopredict.training.crossval import make_folds

    started = time.perf_counter()
    inputs = tuple(inputs)
    unknown = [mode for mode in inputs if mode not in CRT_INPUTS]
    if unknown or not inputs:
        raise ConfigError(f"inputs={list(inputs)}: choose one or more of {', '.join(CRT_INPUTS)}.")
    profile = profile or StudyProfile.paper()
    window = window or ECGWindowConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    manifest = read_manifest(
        manifest_path,
        label_column="response",
        label_values=(0, 1),
        file_columns=("ecg_pre",),
        optional_file_columns=("ecg_post",),
    )
    table = manifest.table
    needed = sorted({column for mode in inputs for column in _MODE_FILES[mode]})
    cache = FeatureCache(Path(cache_dir) if cache_dir else out / "cache", window)
    features, exclusions = cohort_features(table, needed, cache, progress=progress)
    included = table[~table["patient_id"].astype(str).isin(list(exclusions))].reset_index(drop=True)
    patient_ids = included["patient_id"].astype(str).to_numpy()
    y = included["response"].astype(int).to_numpy()
    _check_enough(y, exclusions, profile.training.n_folds)

    folds = make_folds(y, patient_ids, n_folds=profile.training.n_folds, seed=profile.training.seed)
    windows = {column: np.stack([features[column][pid].qrs for pid in patient_ids]) for column in needed}
    predictions = pd.DataFrame({"patient_id": patient_ids, "fold": folds, "y_true": y})
    curves: dict[str, pd.DataFrame] = {}
    early_stopping = profile.training.early_stopping
    reused: list[str] = []
    for mode in inputs:
        name, kwargs, spec = model_spec(mode, window)
        model_inputs = {key: windows[item["column"]] for key, item in spec.items()}
        result = cross_validate(
            out,
            mode,
            model_inputs,
            y,
            folds,
            patient_ids=list(patient_ids),
            model=name,
            model_kwargs=kwargs,
            training=profile.training,
            resume=resume,
            progress=progress,
            model_json_extra={
                "study": "crt",
                "mode": mode,
                "inputs_spec": spec,
                "window": window.to_dict(),
                "feature_version": FEATURE_VERSION,
                "label": "response",
                "classes": [0, 1],
                "profile": profile.name,
            },
        )
        predictions[f"score_{mode}"] = result.oof_scores
        curves[mode] = result.curves
        early_stopping = result.early_stopping
        reused.extend([mode] if result.reused else [])

    measured = {pid: features["ecg_pre"][pid].measurements for pid in patient_ids}
    qrs_ms, lbbb, rule_source = _rule_inputs(included, measured)
    predictions[f"score_{RULE}"] = guideline_rule_scores(qrs_ms, lbbb)
    clinical = np.column_stack([qrs_ms, lbbb, _sex_male(included), _column(included, "lvef")])
    predictions["score_clinical_logistic"] = cv_logistic(clinical, y, folds, seed=profile.training.seed)
    predictions["score_fpca_logistic"] = cv_fpca_logistic(
        windows["ecg_pre"], y, folds, seed=profile.training.seed
    )
    atomic_write_csv(out / "predictions.csv", predictions)

    oracle = _oracle(Path(manifest_path), patient_ids)
    metrics = crt_metrics(
        predictions, models=inputs, oracle=oracle, n_boot=profile.bootstrap, seed=profile.training.seed
    )
    metrics.update(
        {
            "runtime_s": round(time.perf_counter() - started, 2),
            "profile": profile.name,
            "early_stopping": early_stopping,
            "baseline_inputs": {RULE: rule_source, "clinical_logistic": rule_source},
            "n_patients": len(y),
            "n_excluded": len(exclusions),
            "reused_trainings": reused,
            "synthetic": is_synthetic_cohort(Path(manifest_path)),
        }
    )
    atomic_write_json(out / "metrics.json", metrics)
    derived = {
        pid: {
            "qrs_duration_ms_measured": m.get("qrs_duration_ms"),
            "lbbb_aha_measured": m.get("lbbb_aha"),
            "lbbb_strauss_measured": m.get("lbbb_strauss"),
        }
        for pid, m in measured.items()
    }
    atomic_write_csv(out / "cohort.csv", cohort_table(table, exclusions, derived=derived))
    write_run_config(
        out,
        study="crt",
        manifest_path=Path(manifest_path),
        synthetic=metrics["synthetic"],
        profile=profile,
        window=window,
        cache=cache,
        inputs=list(inputs),
    )
    if figures:
        _figures(out, predictions, windows, curves, inputs, window)
        from cardiopredict.report import write_report

        write_report(out)
    return metrics


def crt_metrics(
    predictions: pd.DataFrame,
    *,
    models: Sequence[str],
    oracle: np.ndarray | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Metrics of a CRT run from ``predictions.csv`` alone (so they can be audited without retraining).

    Returns the ``metrics.json`` block: per model and baseline the per-fold AUC and accuracy, mean,
    SD, pooled AUC with bootstrap 95 % CI and Brier score; DeLong p of each model vs the guideline
    rule and vs the clinical logistic model; the oracle AUC when the true probabilities are known.
    """
    from cardiopredict.evaluation.metrics import auc_score, delong_test, summarize

    def block(column: str, *, probability: bool) -> dict[str, Any]:
        return summarize(
            predictions, column, threshold=0.5 if probability else None, seed=seed, n_boot=n_boot
        )

    y = predictions["y_true"].to_numpy()
    result: dict[str, Any] = {
        "models": {mode: block(f"score_{mode}", probability=True) for mode in models},
        "baselines": {
            name: block(f"score_{name}", probability=name != RULE)
            for name in BASELINES
            if f"score_{name}" in predictions
        },
        "delong": {},
    }
    for mode in models:
        for baseline in (RULE, "clinical_logistic"):
            if f"score_{baseline}" in predictions:
                result["delong"][f"{mode}_vs_{baseline}"] = delong_test(
                    y, predictions[f"score_{mode}"].to_numpy(), predictions[f"score_{baseline}"].to_numpy()
                )
    result["oracle_auc"] = auc_score(y, oracle) if oracle is not None else None
    return result


def _check_enough(y: np.ndarray, exclusions: dict[str, str], n_folds: int) -> None:
    counts = np.bincount(y, minlength=2)
    if counts.min() < n_folds:
        raise InsufficientDataError(
            f"After {len(exclusions)} exclusion(s) the cohort has {counts[0]} non-responder(s) and "
            f"{counts[1]} responder(s); {n_folds}-fold cross-validation needs at least {n_folds} of "
            "each. Use fewer folds or a larger cohort (exclusions are listed in cohort.csv)."
        )


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)


def _sex_male(table: pd.DataFrame) -> np.ndarray:
    if "sex" not in table:
        return np.full(len(table), np.nan)
    sex = table["sex"].astype(str).str.upper()
    return np.where(sex == "M", 1.0, np.where(sex == "F", 0.0, np.nan))


def _rule_inputs(
    table: pd.DataFrame, measured: dict[str, dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, str]:
    """QRS duration and LBBB for the guideline rule: the cohort's covariates when every patient has
    them (as a clinician would read them), else measured from the pre-implant ECG. Returns which."""
    qrs = _column(table, "qrs_duration_ms")
    lbbb = _column(table, "lbbb")
    if np.isfinite(qrs).all() and np.isfinite(lbbb).all():
        return qrs, lbbb, "manifest covariates (qrs_duration_ms, lbbb)"
    pids = table["patient_id"].astype(str)
    qrs_measured = np.array([measured[pid].get("qrs_duration_ms", np.nan) for pid in pids], dtype=float)
    lbbb_measured = np.array([bool(measured[pid].get("lbbb_aha")) for pid in pids], dtype=float)
    qrs = np.where(np.isfinite(qrs), qrs, qrs_measured)
    lbbb = np.where(np.isfinite(lbbb), lbbb, lbbb_measured)
    return qrs, lbbb, "measured from the pre-implant ECG where the manifest lacks it (AHA/ACC/HRS LBBB)"


def _oracle(manifest_path: Path, patient_ids: np.ndarray) -> np.ndarray | None:
    """True response probabilities of a synthetic cohort (scoring only, never a model input)."""
    path = manifest_path.parent / "oracle.csv"
    if not path.is_file():
        return None
    oracle = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id")
    if "p_response" not in oracle:
        return None
    return oracle.reindex(list(patient_ids))["p_response"].to_numpy(dtype=float)


def _figures(
    out: Path,
    predictions: pd.DataFrame,
    windows: dict[str, np.ndarray],
    curves: dict[str, pd.DataFrame],
    inputs: Sequence[str],
    window: ECGWindowConfig,
) -> None:
    from cardiopredict.plots import (
        plot_extreme_waveforms,
        plot_reliability,
        plot_roc,
        plot_saliency,
        plot_training_curves,
    )

    figures = out / "figures"
    pids = predictions["patient_id"].tolist()
    y = predictions["y_true"].to_numpy()
    for mode in inputs:
        scores = predictions[f"score_{mode}"].to_numpy()
        for column in _MODE_FILES[mode]:
            phase = column.removeprefix("ecg_")
            plot_extreme_waveforms(
                windows[column], scores, pids, k=3, out_dir=figures / f"waveforms_{mode}_{phase}",
                prefix=f"{mode}_{phase}",
            )  # fmt: skip
        plot_training_curves(curves[mode], figures / f"curves_{mode}.png")
        _, _, spec = model_spec(mode, window)
        model_inputs = {key: windows[item["column"]] for key, item in spec.items()}
        plot_saliency(out / "models" / mode, model_inputs, y, figures / f"saliency_{mode}.png")
    score_columns = [c for c in predictions.columns if c.startswith("score_")]
    plot_roc(predictions, score_columns, figures / "roc.png")
    best = f"score_{'combined' if 'combined' in inputs else inputs[0]}"
    plot_reliability(predictions, best, figures / f"reliability_{best.removeprefix('score_')}.png")
