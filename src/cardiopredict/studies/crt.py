"""CRT-response study (paper section 2.1, Table 1) as a :class:`~cardiopredict.studies.engine.StudySpec`.

Cohort → QRS windows of the pre- and post-implant ECGs → patient-level stratified k-fold → ECGNet on
``pre``, ECGNet on ``post``, ECGCompositeNet on ``combined`` → the guideline rule (QRS >= 150 ms + LBBB),
a logistic regression on clinical covariates and an FPCA + logistic model on the same folds.

When ``post`` or ``combined`` is requested, a patient without a usable post-implant ECG is excluded
from the whole run, so every model and baseline is scored on the same patients and folds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.config import CRT_INPUTS, ECGWindowConfig, StudyProfile
from cardiopredict.errors import ConfigError
from cardiopredict.evaluation.baselines import cv_fpca_logistic, cv_logistic, guideline_rule_scores
from cardiopredict.features import FEATURE_VERSION, CohortInputs, build_ecg_inputs
from cardiopredict.plots import (
    plot_extreme_waveforms,
    plot_reliability,
    plot_roc,
    plot_saliency,
    plot_training_curves,
)
from cardiopredict.studies.engine import ModelSpec, StudySpec, Task, TrainedModel, read_oracle, run_study

__all__ = ["RULE", "crt_spec", "run_crt_study"]

RULE = "qrs150_lbbb"
_MODE_FILES = {"pre": ("ecg_pre",), "post": ("ecg_post",), "combined": ("ecg_pre", "ecg_post")}


def model_spec(mode: str, window: ECGWindowConfig) -> ModelSpec:
    """The network of one CRT input mode; ``inputs_spec`` tells ``predict`` how to rebuild its input."""
    if mode == "combined":
        inputs = {"pre": "ecg_pre.qrs", "post": "ecg_post.qrs"}
        kwargs: dict[str, Any] = {"input_keys": ("pre", "post"), "n_samples": window.qrs_samples}
        network = "ecgcomposite"
    else:
        inputs = {"ecg": f"{_MODE_FILES[mode][0]}.qrs"}
        kwargs, network = {"input_key": "ecg", "n_samples": window.qrs_samples}, "ecgnet"
    spec = {
        key: dict(zip(("column", "feature"), array.split("."), strict=True)) for key, array in inputs.items()
    }
    return ModelSpec(mode, network, kwargs, inputs, spec)


def _column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table:
        return np.full(len(table), np.nan)
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)


def _sex_male(table: pd.DataFrame) -> np.ndarray:
    if "sex" not in table:
        return np.full(len(table), np.nan)
    sex = table["sex"].astype(str).str.upper()
    return np.where(sex == "M", 1.0, np.where(sex == "F", 0.0, np.nan))


def rule_inputs(
    table: pd.DataFrame, measured: dict[str, dict[str, Any]]
) -> tuple[np.ndarray, np.ndarray, str]:
    """QRS duration and LBBB for the guideline rule: the cohort's covariates when every patient has
    them (as a clinician would read them), else measured from the pre-implant ECG. Returns which."""
    qrs, lbbb = _column(table, "qrs_duration_ms"), _column(table, "lbbb")
    if np.isfinite(qrs).all() and np.isfinite(lbbb).all():
        return qrs, lbbb, "manifest covariates (qrs_duration_ms, lbbb)"
    pids = table["patient_id"].astype(str)
    qrs_measured = np.array([_as_float(measured[pid].get("qrs_duration_ms")) for pid in pids])
    lbbb_measured = np.array(
        [_as_float(measured[pid].get("lbbb_aha")) for pid in pids]
    )  # None: not assessable
    qrs = np.where(np.isfinite(qrs), qrs, qrs_measured)
    lbbb = np.where(np.isfinite(lbbb), lbbb, lbbb_measured)
    return qrs, lbbb, "measured from the pre-implant ECG where the manifest lacks it (AHA/ACC/HRS LBBB)"


def _as_float(value: Any) -> float:
    """A measurement as a number; ``None`` (not assessable) becomes NaN."""
    return np.nan if value is None else float(value)


def _unassessable(cohort: CohortInputs, qrs: np.ndarray, lbbb: np.ndarray) -> dict[str, str]:
    """Patients the guideline rule cannot be applied to (QRS or LBBB unknown), with the reason."""
    reasons = {}
    for pid, q, block in zip(cohort.patient_ids, qrs, lbbb, strict=True):
        if np.isfinite(q) and np.isfinite(block):
            continue
        why = cohort.extras["measurements"]["ecg_pre"][pid].get("not_assessable") or {}
        detail = "; ".join(f"{k}: {v}" for k, v in why.items() if k in ("qrs_duration_ms", "lbbb_aha"))
        reasons[str(pid)] = (
            "ecg_pre: the guideline rule cannot be applied (QRS duration or LBBB not in the manifest and not "
            f"assessable on the ECG{': ' + detail if detail else ''})"
        )
    return reasons


def _build(columns: Sequence[str], window: ECGWindowConfig, cache_dir: Path | None):
    def build(table: pd.DataFrame, out: Path, progress: bool) -> CohortInputs:
        cohort = build_ecg_inputs(
            table, columns, window=window, cache_dir=cache_dir or out / "cache", progress=progress
        )
        measured = cohort.extras["measurements"]["ecg_pre"]
        qrs, lbbb, source = rule_inputs(cohort.table, measured)
        cohort.exclude(_unassessable(cohort, qrs, lbbb))
        qrs, lbbb, source = rule_inputs(cohort.table, measured)
        cohort.extras["rule"] = (qrs, lbbb)
        cohort.config["run_facts"] = {"baseline_inputs": {RULE: source, "clinical_logistic": source}}
        for pid in cohort.derived:
            m = measured[pid]
            cohort.derived[pid].update(
                {
                    "qrs_duration_ms_measured": m.get("qrs_duration_ms"),
                    "lbbb_aha_measured": m.get("lbbb_aha"),
                    "lbbb_strauss_measured": m.get("lbbb_strauss"),
                }
            )
        return cohort

    return build


def _tasks(cohort: CohortInputs) -> list[Task]:
    y = cohort.table["response"].astype(int).to_numpy()
    rows = np.arange(len(y))
    return [Task("response", (0, 1), rows, y, positive=1, class_names=("non-responder", "responder"))]


def _baselines(task: Task, cohort: CohortInputs, folds: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    qrs, lbbb = cohort.extras["rule"]
    clinical = np.column_stack([qrs, lbbb, _sex_male(cohort.table), _column(cohort.table, "lvef")])
    return {
        RULE: guideline_rule_scores(qrs, lbbb),
        "clinical_logistic": cv_logistic(clinical, task.y, folds, seed=seed),
        "fpca_logistic": cv_fpca_logistic(cohort.arrays["ecg_pre.qrs"], task.y, folds, seed=seed),
    }


def _oracle(task: Task, cohort: CohortInputs) -> dict[str, np.ndarray]:
    """True response probabilities of a synthetic cohort (scoring only, never a model input)."""
    oracle = read_oracle(cohort.config["manifest"], cohort.patient_ids)
    if oracle is None or "p_response" not in oracle:
        return {}
    return {"oracle": oracle["p_response"].to_numpy(dtype=float)[task.rows]}


def _figures(out: Path, predictions: pd.DataFrame, cohort: CohortInputs, trained: list[TrainedModel]) -> None:
    figures = out / "figures"
    pids = predictions["patient_id"].tolist()
    y = predictions["y_true"].to_numpy()
    for model in trained:
        mode, scores = model.spec.name, predictions[f"score_{model.spec.name}"].to_numpy()
        for column in _MODE_FILES[mode]:
            phase = column.removeprefix("ecg_")
            folder = figures / f"waveforms_{mode}_{phase}"
            windows = cohort.arrays[f"{column}.qrs"]
            plot_extreme_waveforms(windows, scores, pids, k=3, out_dir=folder, prefix=f"{mode}_{phase}")
        plot_training_curves(model.result.curves, figures / f"curves_{mode}.png")
        inputs = {key: cohort.arrays[array] for key, array in model.spec.inputs.items()}
        plot_saliency(out / "models" / mode, inputs, y, figures / f"saliency_{mode}.png")
    score_columns = [c for c in predictions.columns if c.startswith("score_")]
    plot_roc(predictions, score_columns, figures / "roc.png")
    modes = [model.spec.name for model in trained]
    best = "combined" if "combined" in modes else modes[0]
    plot_reliability(predictions, f"score_{best}", figures / f"reliability_{best}.png")


def crt_spec(
    *,
    inputs: Sequence[str] = CRT_INPUTS,
    window: ECGWindowConfig | None = None,
    cache_dir: str | Path | None = None,
) -> StudySpec:
    """The CRT study's spec for the input modes ``inputs`` (pre, post, combined)."""
    inputs = tuple(inputs)
    unknown = [mode for mode in inputs if mode not in CRT_INPUTS]
    if unknown or not inputs:
        raise ConfigError(f"inputs={list(inputs)}: choose one or more of {', '.join(CRT_INPUTS)}.")
    window = window or ECGWindowConfig()
    columns = tuple(sorted({column for mode in inputs for column in _MODE_FILES[mode]}))
    return StudySpec(
        name="crt",
        label="response",
        label_values=(0, 1),
        file_columns=("ecg_pre",),
        optional_file_columns=("ecg_post",),
        build_inputs=_build(columns, window, Path(cache_dir) if cache_dir else None),
        tasks=_tasks,
        models=lambda task: [model_spec(mode, window) for mode in inputs],
        baselines=_baselines,
        rules=(RULE,),
        references=(RULE, "clinical_logistic"),
        oracle=_oracle,
        figures=_figures,
        model_json={"window": window.to_dict(), "feature_version": FEATURE_VERSION},
        selection={"inputs": list(inputs)},
        input_version=f"features-v{FEATURE_VERSION}",
    )


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
    """Run the CRT-response study and write its run directory (see :func:`run_study`).

    Parameters
    ----------
    manifest_path : path
        Cohort manifest with ``patient_id``, ``response`` (0/1), ``ecg_pre``, ``ecg_post`` and
        optional covariates ``qrs_duration_ms``, ``lbbb``, ``lvef``, ``sex``, ``age``.
    out_dir : path
        Run directory.
    inputs : sequence of {"pre", "post", "combined"}
    profile : StudyProfile, optional
        Training protocol; default the paper's.
    window : ECGWindowConfig, optional
        QRS window definition; default 250 samples, fixed 250 ms, no normalisation.
    cache_dir : path, optional
        Feature cache; default ``<out_dir>/cache``.
    progress, figures, resume
        As in :func:`~cardiopredict.studies.engine.run_study`.

    Returns
    -------
    dict
        The content of ``metrics.json``: ``models``, ``baselines``, ``delong``, ``oracle_auc``, run facts.
    """
    spec = crt_spec(inputs=inputs, window=window, cache_dir=cache_dir)
    return run_study(
        spec, manifest_path, out_dir, profile=profile, progress=progress, figures=figures, resume=resume
    )
