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

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.config import CARDIOMYOPATHY_INPUTS, CARDIOMYOPATHY_TASKS, ECGWindowConfig, StudyProfile
from cardiopredict.errors import ConfigError
from cardiopredict.evaluation.baselines import cv_logistic, cv_multinomial_logistic
from cardiopredict.features import FEATURE_VERSION, CohortInputs, build_ecg_inputs
from cardiopredict.plots import plot_extreme_waveforms, plot_roc, plot_training_curves
from cardiopredict.studies.engine import ModelSpec, StudySpec, Task, TrainedModel, read_oracle, run_study

__all__ = ["CLASSES", "cardiomyopathy_spec", "run_cardiomyopathy_study", "task_classes"]

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


def model_spec(input_name: str, window: ECGWindowConfig, *, n_outputs: int = 1) -> ModelSpec:
    """The network of input ``qrs`` or ``rr``; ``inputs_spec`` tells ``predict`` how to rebuild it."""
    if input_name == "qrs":
        inputs = {"ecg": "ecg.qrs"}
        kwargs: dict[str, Any] = {"input_key": "ecg", "n_samples": window.qrs_samples, "n_outputs": n_outputs}
        network = "ecgnet"
    else:
        inputs = {"qrs": "ecg.qrs", "rr": "ecg.rr", "scalars": "ecg.rr_features"}
        kwargs = {
            "input_keys": ("qrs", "rr"),
            "n_samples": (window.qrs_samples, window.rr_samples),
            "n_scalars": 4,
            "scalars_key": "scalars",
            "n_outputs": n_outputs,
        }
        network = "ecgcomposite"
    spec = {
        key: dict(zip(("column", "feature"), array.split("."), strict=True)) for key, array in inputs.items()
    }
    return ModelSpec(input_name, network, kwargs, inputs, spec)


def _as_float(value: Any) -> float:
    try:
        return float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def _build(window: ECGWindowConfig, cache_dir: Path | None):
    def build(table: pd.DataFrame, out: Path, progress: bool) -> CohortInputs:
        cohort = build_ecg_inputs(
            table, ["ecg"], window=window, cache_dir=cache_dir or out / "cache", progress=progress
        )
        measured = [cohort.extras["measurements"]["ecg"][pid] for pid in cohort.patient_ids]
        cohort.extras["clinical"] = np.array(
            [[_as_float(m.get(name)) for name in BASELINE_FEATURES] for m in measured], dtype=float
        )
        diagnosis = cohort.table["diagnosis"].astype(str).str.upper().to_numpy()
        cohort.extras["diagnosis"] = diagnosis
        cohort.config["run_facts"] = {"class_counts": {c: int((diagnosis == c).sum()) for c in CLASSES}}
        for pid, m in zip(cohort.patient_ids, measured, strict=True):
            cohort.derived[pid].update({f"{name}_measured": m.get(name) for name in BASELINE_FEATURES})
        return cohort

    return build


def _tasks(names: Sequence[str]):
    def tasks(cohort: CohortInputs) -> list[Task]:
        diagnosis = cohort.extras["diagnosis"]
        result = []
        for name in names:
            classes = task_classes(name)
            rows = np.flatnonzero(np.isin(diagnosis, classes))
            if name == "3class":
                result.append(
                    Task(name, classes, rows, np.array([classes.index(d) for d in diagnosis[rows]]))
                )
            else:
                y = (diagnosis[rows] == classes[0]).astype(int)
                result.append(Task(name, classes, rows, y, positive=classes[0], class_names=classes[::-1]))
        return result

    return tasks


def _baselines(task: Task, cohort: CohortInputs, folds: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    clinical = cohort.extras["clinical"][task.rows]
    if task.n_classes == 2:
        return {BASELINE: cv_logistic(clinical, task.y, folds, seed=seed)}
    return {BASELINE: cv_multinomial_logistic(clinical, task.y, folds, seed=seed)}


def _oracle(task: Task, cohort: CohortInputs) -> dict[str, np.ndarray]:
    """All-trait oracle ``p_*`` and ECG oracle ``p_ecg_*`` (what the ECG shows) of a synthetic cohort.

    A pairwise task's oracle is ``p_first / (p_first + p_second)``; the multiclass one the class table.
    """
    table = read_oracle(cohort.config["manifest"], cohort.patient_ids)
    result: dict[str, np.ndarray] = {}
    for name, prefix in (("oracle", "p_"), ("oracle_ecg", "p_ecg_")):
        columns = [f"{prefix}{c}" for c in task.classes]
        if table is None or not set(columns) <= set(table.columns):
            continue
        p = table[columns].to_numpy(dtype=float)[task.rows]
        result[name] = p if task.n_classes > 2 else p[:, 0] / (p[:, 0] + p[:, 1])
    return result


def _figures(out: Path, predictions: pd.DataFrame, cohort: CohortInputs, trained: list[TrainedModel]) -> None:
    figures = out / "figures"
    for model in trained:
        plot_training_curves(model.result.curves, figures / f"curves_{model.key}.png")
    for model in trained:
        if model.task.n_classes > 2:
            continue
        task, name = model.task.name, model.spec.name
        frame = predictions[predictions["task"] == task]
        plot_extreme_waveforms(
            cohort.arrays["ecg.qrs"][model.task.rows],
            frame[f"score_{name}"].to_numpy(),
            frame["patient_id"].tolist(),
            k=3,
            out_dir=figures / f"waveforms_{task}_{name}",
            prefix=f"{task}_{name}",
        )
    for task in dict.fromkeys(model.task.name for model in trained if model.task.n_classes == 2):
        frame = predictions[predictions["task"] == task].dropna(axis=1, how="all").reset_index(drop=True)
        score_columns = [c for c in frame.columns if c.startswith("score_")]
        plot_roc(frame, score_columns, figures / f"roc_{task}.png")


def cardiomyopathy_spec(
    *,
    tasks: Sequence[str] = CARDIOMYOPATHY_TASKS,
    inputs: Sequence[str] = CARDIOMYOPATHY_INPUTS,
    window: ECGWindowConfig | None = None,
    cache_dir: str | Path | None = None,
) -> StudySpec:
    """The cardiomyopathy study's spec for the chosen tasks and inputs (qrs, rr)."""
    tasks, inputs = tuple(tasks), tuple(inputs)
    bad = [t for t in tasks if t not in CARDIOMYOPATHY_TASKS] + [
        i for i in inputs if i not in CARDIOMYOPATHY_INPUTS
    ]
    if bad or not tasks or not inputs:
        raise ConfigError(
            f"tasks={list(tasks)}, inputs={list(inputs)}: choose tasks from "
            f"{', '.join(CARDIOMYOPATHY_TASKS)} and inputs from {', '.join(CARDIOMYOPATHY_INPUTS)}."
        )
    window = window or ECGWindowConfig()
    return StudySpec(
        name="cardiomyopathy",
        label="diagnosis",
        label_values=CLASSES,
        file_columns=("ecg",),
        build_inputs=_build(window, Path(cache_dir) if cache_dir else None),
        tasks=_tasks(tasks),
        models=lambda task: [
            model_spec(name, window, n_outputs=1 if task.n_classes == 2 else task.n_classes)
            for name in inputs
        ],
        baselines=_baselines,
        references=(BASELINE,),
        oracle=_oracle,
        figures=_figures,
        layout="per_task",
        model_json={"window": window.to_dict(), "feature_version": FEATURE_VERSION},
        selection={"tasks": list(tasks), "inputs": list(inputs)},
        input_version=f"features-v{FEATURE_VERSION}",
    )


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
    """Run the cardiomyopathy study and write its run directory (see :func:`run_study`).

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
    spec = cardiomyopathy_spec(tasks=tasks, inputs=inputs, window=window, cache_dir=cache_dir)
    return run_study(
        spec, manifest_path, out_dir, profile=profile, progress=progress, figures=figures, resume=resume
    )
