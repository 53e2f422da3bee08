"""Genetic cardiomyopathy (GEN) vs myocarditis (MYO) vs cardiac sarcoidosis (SARC) (paper Table 3).

Each pairwise task is its own binary problem on the patients of its two classes, with its own
patient-level stratified folds; the first-named class is the positive one (``gen-vs-myo``: GEN = 1).
``3class`` trains one softmax model on all patients.

Inputs:

``qrs``
    ECGNet on the 250-sample median-beat QRS window.
``rr``
    ECGCompositeNet with two trunks — the QRS window and the RR-extended window (a whole cardiac cycle,
    :func:`cardiopredict.ecg.windows.rr_window`) — and the four RR-interval features (mean, SD, min,
    max, standardised on the training folds) joined at the fully connected head. The paper does not
    say how the extended window was combined; keeping the QRS trunk lets ``rr`` add rhythm and
    repolarisation information to, rather than replace, the QRS morphology.

Baseline on the same folds: logistic regression on what a clinician reads from the ECG — QRS
duration, PR interval, heart rate, AV-block degree, RBBB, fragmented QRS, low voltage — all measured
by :func:`cardiopredict.ecg.measurements.measure`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.config import CARDIOMYOPATHY_INPUTS, CARDIOMYOPATHY_TASKS, ECGWindowConfig, StudyProfile
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

CLASSES = ("GEN", "MYO", "SARC")
BASELINE = "clinical_logistic"
BASELINE_FEATURES = (
    "qrs_duration_ms",
    "pr_interval_ms",
    "heart_rate_bpm",
    "av_block",
    "rbbb",
    "fragmented_qrs",
    "low_voltage",
)


def task_classes(task: str) -> tuple[str, ...]:
    """Classes of a task: ``"gen-vs-sarc"`` → ``("GEN", "SARC")``; ``"3class"`` → all three."""
    if task == "3class":
        return CLASSES
    return tuple(part.upper() for part in task.split("-vs-"))


def model_spec(
    input_name: str, window: ECGWindowConfig, *, n_outputs: int = 1
) -> tuple[str, dict[str, Any], dict[str, dict[str, str]]]:
    """Network, keyword arguments and input spec (stored in ``model.json``) for ``qrs`` or ``rr``."""
    if input_name == "qrs":
        spec = {"ecg": {"column": "ecg", "feature": "qrs"}}
        kwargs = {"input_key": "ecg", "n_samples": window.qrs_samples, "n_outputs": n_outputs}
        return "ecgnet", kwargs, spec
    spec = {
        "qrs": {"column": "ecg", "feature": "qrs"},
        "rr": {"column": "ecg", "feature": "rr"},
        "scalars": {"column": "ecg", "feature": "rr_features"},
    }
    kwargs = {
        "input_keys": ("qrs", "rr"),
        "n_samples": (window.qrs_samples, window.rr_samples),
        "n_scalars": 4,
        "scalars_key": "scalars",
        "n_outputs": n_outputs,
    }
    return "ecgcomposite", kwargs, spec


def run_cardiomyopathy_study(
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    tasks: Sequence[str] = CARDIOMYOPATHY_TASKS,
    inputs: Sequence[str] = CARDIOMYOPATHY_INPUTS,
    profile: StudyProfile | None = None,
    window: ECGWindowConfig | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    figures: bool = True,
    resume: bool = True,
) -> dict[str, Any]:
    """Run the cardiomyopathy study and write its run directory.

    Parameters
    ----------
    manifest_path : path
        Manifest with ``patient_id``, ``diagnosis`` (GEN/MYO/SARC), ``ecg`` and optional covariates.
    out_dir : path
        Run directory.
    tasks : sequence of {"gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc", "3class"}
    inputs : sequence of {"qrs", "rr"}
    profile, window, cache_dir, progress, figures, resume
        As in :func:`cardiopredict.studies.crt.run_crt_study`.

    Returns
    -------
    dict
        The content of ``metrics.json``: ``table3[task][input]`` summary blocks, ``baselines[task]``,
        ``delong[task]``, ``oracle_auc[task]`` (every trait), ``oracle_ecg_auc[task]`` (what the ECG
        shows: the bound for these ECG models), ``multiclass[input]``.
    """
    from cardiopredict.cohort.manifest import read_manifest

    started = time.perf_counter()
    tasks, inputs = tuple(tasks), tuple(inputs)
    bad = [t for t in tasks if t not in CARDIOMYOPATHY_TASKS] + [
        i for i in inputs if i not in CARDIOMYOPATHY_INPUTS
    ]
    if bad or not tasks or not inputs:
        raise ConfigError(
            f"tasks={list(tasks)}, inputs={list(inputs)}: choose tasks from "
            f"{', '.join(CARDIOMYOPATHY_TASKS)} and inputs from {', '.join(CARDIOMYOPATHY_INPUTS)}."
        )
    profile = profile or StudyProfile.paper()
    window = window or ECGWindowConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    manifest = read_manifest(
        manifest_path, label_column="diagnosis", label_values=CLASSES, file_columns=("ecg",)
    )
    table = manifest.table
    cache = FeatureCache(Path(cache_dir) if cache_dir else out / "cache", window)
    features, exclusions = cohort_features(table, ["ecg"], cache, progress=progress)
    included = table[~table["patient_id"].astype(str).isin(list(exclusions))].reset_index(drop=True)
    pids = included["patient_id"].astype(str).to_numpy()
    diagnosis = included["diagnosis"].astype(str).str.upper().to_numpy()
    ecg = [features["ecg"][pid] for pid in pids]
    arrays = {
        "qrs": np.stack([f.qrs for f in ecg]),
        "rr": np.stack([f.rr for f in ecg]),
        "rr_features": np.stack([f.rr_features for f in ecg]),
    }
    clinical = np.array(
        [[_as_float(f.measurements.get(name)) for name in BASELINE_FEATURES] for f in ecg], dtype=float
    )
    oracle = _oracle(Path(manifest_path), pids)

    pairwise_rows: list[pd.DataFrame] = []
    multiclass_rows: list[pd.DataFrame] = []
    curves: dict[str, pd.DataFrame] = {}
    early_stopping = profile.training.early_stopping
    for task in tasks:
        classes = task_classes(task)
        rows = np.flatnonzero(np.isin(diagnosis, classes))
        if task == "3class":
            y = np.array([classes.index(d) for d in diagnosis[rows]])
        else:
            y = (diagnosis[rows] == classes[0]).astype(int)
        frame, task_curves, early_stopping = _run_task(
            task, classes, rows, y, pids, arrays, clinical, profile, window, inputs, out, progress, resume
        )
        curves.update(task_curves)
        (multiclass_rows if task == "3class" else pairwise_rows).append(frame)

    predictions = pd.concat(pairwise_rows, ignore_index=True) if pairwise_rows else pd.DataFrame()
    predictions_3class = pd.concat(multiclass_rows, ignore_index=True) if multiclass_rows else None
    if not predictions.empty:
        atomic_write_csv(out / "predictions.csv", predictions)
    if predictions_3class is not None:
        atomic_write_csv(out / "predictions_3class.csv", predictions_3class)

    metrics = cardiomyopathy_metrics(
        predictions,
        predictions_3class,
        inputs=inputs,
        oracle=pd.DataFrame(oracle, index=pids) if oracle is not None else None,
        n_boot=profile.bootstrap,
        seed=profile.training.seed,
    )
    synthetic = is_synthetic_cohort(Path(manifest_path))
    metrics.update(
        {
            "runtime_s": round(time.perf_counter() - started, 2),
            "profile": profile.name,
            "early_stopping": early_stopping,
            "n_patients": len(pids),
            "n_excluded": len(exclusions),
            "class_counts": {c: int((diagnosis == c).sum()) for c in CLASSES},
            "synthetic": synthetic,
        }
    )
    atomic_write_json(out / "metrics.json", metrics)
    derived = {
        pid: {f"{name}_measured": f.measurements.get(name) for name in BASELINE_FEATURES}
        for pid, f in zip(pids, ecg, strict=True)
    }
    atomic_write_csv(out / "cohort.csv", cohort_table(table, exclusions, derived=derived))
    write_run_config(
        out,
        study="cardiomyopathy",
        manifest_path=Path(manifest_path),
        synthetic=synthetic,
        profile=profile,
        window=window,
        cache=cache,
        tasks=list(tasks),
        inputs=list(inputs),
    )
    if figures:
        _figures(out, predictions, arrays, pids, curves, inputs)
        from cardiopredict.report import write_report

        write_report(out)
    return metrics


def _run_task(
    task: str,
    classes: tuple[str, ...],
    rows: np.ndarray,
    y: np.ndarray,
    pids: np.ndarray,
    arrays: dict[str, np.ndarray],
    clinical: np.ndarray,
    profile: StudyProfile,
    window: ECGWindowConfig,
    inputs: Sequence[str],
    out: Path,
    progress: bool,
    resume: bool,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], str]:
    from cardiopredict.evaluation.baselines import cv_logistic
    from cardiopredict.training.crossval import make_folds

    counts = np.bincount(y, minlength=len(classes))
    if counts.min() < profile.training.n_folds:
        raise InsufficientDataError(
            f"Task {task}: class counts {dict(zip(classes, counts.tolist(), strict=True))}; "
            f"{profile.training.n_folds}-fold cross-validation needs at least "
            f"{profile.training.n_folds} patients per class. Use fewer folds, fewer tasks or more patients."
        )
    task_pids = pids[rows]
    folds = make_folds(y, task_pids, n_folds=profile.training.n_folds, seed=profile.training.seed)
    frame = pd.DataFrame({"patient_id": task_pids, "task": task, "fold": folds, "y_true": y})
    n_outputs = 1 if len(classes) == 2 else len(classes)
    curves: dict[str, pd.DataFrame] = {}
    early_stopping = profile.training.early_stopping
    for input_name in inputs:
        name, kwargs, spec = model_spec(input_name, window, n_outputs=n_outputs)
        model_inputs = {key: arrays[item["feature"]][rows] for key, item in spec.items()}
        result = cross_validate(
            out,
            f"{task}_{input_name}",
            model_inputs,
            y,
            folds,
            patient_ids=list(task_pids),
            model=name,
            model_kwargs=kwargs,
            training=profile.training,
            n_classes=len(classes),
            resume=resume,
            progress=progress,
            model_json_extra={
                "study": "cardiomyopathy",
                "task": task,
                "input": input_name,
                "inputs_spec": spec,
                "window": window.to_dict(),
                "feature_version": FEATURE_VERSION,
                "label": "diagnosis",
                "classes": list(classes),
                "positive_class": classes[0] if len(classes) == 2 else None,
                "profile": profile.name,
            },
        )
        early_stopping = result.early_stopping
        if n_outputs == 1:
            frame[f"score_{input_name}"] = result.oof_scores
        else:
            for k, cls in enumerate(classes):
                frame[f"score_{input_name}_{cls}"] = result.oof_scores[:, k]
        curves[f"{task}_{input_name}"] = result.curves
    if n_outputs == 1:
        frame[f"score_{BASELINE}"] = cv_logistic(clinical[rows], y, folds, seed=profile.training.seed)
    else:
        proba = _cv_multinomial_logistic(clinical[rows], y, folds, seed=profile.training.seed)
        for k, cls in enumerate(classes):
            frame[f"score_{BASELINE}_{cls}"] = proba[:, k]
    return frame, curves, early_stopping


def _cv_multinomial_logistic(X: np.ndarray, y: np.ndarray, folds: np.ndarray, *, seed: int) -> np.ndarray:
    """Out-of-fold multinomial logistic regression (imputer + scaler fitted on training folds only)."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    proba = np.zeros((len(y), int(y.max()) + 1))
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(max_iter=2000, random_state=seed),
        )
        model.fit(X[train], y[train])
        proba[np.ix_(test, model.classes_)] = model.predict_proba(X[test])
    return proba


def cardiomyopathy_metrics(
    predictions: pd.DataFrame,
    predictions_3class: pd.DataFrame | None,
    *,
    inputs: Sequence[str],
    oracle: pd.DataFrame | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Table-3 metrics from the prediction tables alone (auditable without retraining).

    ``oracle`` is indexed by patient_id with columns p_GEN, p_MYO, p_SARC (and optionally the ECG
    oracle p_ecg_GEN, p_ecg_MYO, p_ecg_SARC, reported as ``oracle_ecg_auc``); the oracle score of a
    pairwise task is p_first / (p_first + p_second).
    """
    from cardiopredict.evaluation.metrics import auc_score, delong_test, multiclass_summary, summarize

    result: dict[str, Any] = {"table3": {}, "baselines": {}, "delong": {}, "oracle_auc": {}, "multiclass": {}}
    oracle_sources = [("oracle_auc", "p_")]
    if oracle is not None and {f"p_ecg_{c}" for c in CLASSES} <= set(oracle.columns):
        oracle_sources.append(("oracle_ecg_auc", "p_ecg_"))
        result["oracle_ecg_auc"] = {}
    for task, frame in predictions.groupby("task", sort=False) if not predictions.empty else []:
        frame = frame.reset_index(drop=True)
        y = frame["y_true"].to_numpy()
        result["table3"][task] = {
            name: summarize(frame, f"score_{name}", seed=seed, n_boot=n_boot) for name in inputs
        }
        result["baselines"][task] = summarize(frame, f"score_{BASELINE}", seed=seed, n_boot=n_boot)
        result["delong"][task] = {
            f"{name}_vs_{BASELINE}": delong_test(
                y, frame[f"score_{name}"].to_numpy(), frame[f"score_{BASELINE}"].to_numpy()
            )
            for name in inputs
        }
        if oracle is not None:
            first, second = task_classes(str(task))
            p = oracle.reindex(frame["patient_id"])
            for key, prefix in oracle_sources:
                score = p[f"{prefix}{first}"] / (p[f"{prefix}{first}"] + p[f"{prefix}{second}"])
                result[key][task] = auc_score(y, score.to_numpy())
    if predictions_3class is not None:
        y = predictions_3class["y_true"].to_numpy()
        for name in [*inputs, BASELINE]:
            proba = predictions_3class[[f"score_{name}_{c}" for c in CLASSES]].to_numpy()
            result["multiclass"][name] = multiclass_summary(y, proba, list(CLASSES))
        if oracle is not None:
            rows = oracle.reindex(predictions_3class["patient_id"])
            for key, prefix in oracle_sources:
                p = rows[[f"{prefix}{c}" for c in CLASSES]].to_numpy()
                name = "oracle" if key == "oracle_auc" else "oracle_ecg"
                result["multiclass"][name] = multiclass_summary(y, p, list(CLASSES))
    return result


def _as_float(value: Any) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _oracle(manifest_path: Path, pids: np.ndarray) -> dict[str, np.ndarray] | None:
    """The cohort's oracle columns (``p_*``, and ``p_ecg_*`` when present) for ``pids``, or None."""
    path = manifest_path.parent / "oracle.csv"
    if not path.is_file():
        return None
    table = pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id").reindex(list(pids))
    columns = [f"p_{c}" for c in CLASSES]
    if not set(columns) <= set(table.columns):
        return None
    columns += [f"p_ecg_{c}" for c in CLASSES if f"p_ecg_{c}" in table.columns]
    return {column: table[column].to_numpy(dtype=float) for column in columns}


def _figures(
    out: Path,
    predictions: pd.DataFrame,
    arrays: dict[str, np.ndarray],
    pids: np.ndarray,
    curves: dict[str, pd.DataFrame],
    inputs: Sequence[str],
) -> None:
    from cardiopredict.plots import plot_extreme_waveforms, plot_roc, plot_training_curves

    figures = out / "figures"
    index = {pid: i for i, pid in enumerate(pids)}
    for name, frame in curves.items():
        plot_training_curves(frame, figures / f"curves_{name}.png")
    if predictions.empty:
        return
    for task, frame in predictions.groupby("task", sort=False):
        rows = np.array([index[pid] for pid in frame["patient_id"]])
        for input_name in inputs:
            plot_extreme_waveforms(
                arrays["qrs"][rows],
                frame[f"score_{input_name}"].to_numpy(),
                frame["patient_id"].tolist(),
                k=3,
                out_dir=figures / f"waveforms_{task}_{input_name}",
                prefix=f"{task}_{input_name}",
            )
        score_columns = [c for c in frame.columns if c.startswith("score_")]
        plot_roc(frame.reset_index(drop=True), score_columns, figures / f"roc_{task}.png")
