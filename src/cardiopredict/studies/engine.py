"""One study engine: a study is a :class:`StudySpec`, and :func:`run_study` runs any of them.

read the manifest → build every patient's inputs (cached; exclusions with reasons) → tasks → per task
patient-level stratified folds → train/score every model by cross-validation (resumable) → baselines
and oracle on the same folds → ``predictions.csv`` → ``config.json`` → :func:`evaluate_run` →
``metrics.json`` → ``cohort.csv`` → figures → ``report.html``.

Adding a study means writing its spec (manifest schema, input builder, tasks, models, baselines,
oracle, figures) — see ``docs/ARCHITECTURE.md`` for a worked example.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_csv, atomic_write_json, provenance
from cardiopredict.cohort.manifest import read_manifest
from cardiopredict.config import StudyProfile
from cardiopredict.errors import InsufficientDataError
from cardiopredict.evaluation.run import evaluate_run
from cardiopredict.features import CohortInputs, cohort_table
from cardiopredict.report import write_report
from cardiopredict.training.crossval import make_folds
from cardiopredict.training.executors import Executor, LocalExecutor
from cardiopredict.training.fold_jobs import CVRequest, cross_validate_all
from cardiopredict.training.resume import TrainedCV

__all__ = [
    "ModelSpec",
    "StudySpec",
    "Task",
    "TrainedModel",
    "prepare_study",
    "read_oracle",
    "run_study",
    "task_frame",
]


@dataclass(frozen=True)
class Task:
    """One prediction problem of a study: its patients (rows of :class:`CohortInputs`) and labels.

    ``classes`` are the label values; a binary task's ``y`` is 1 for ``positive``.
    ``class_names`` are the words used in messages (default: the classes).
    """

    name: str
    classes: tuple[Any, ...]
    rows: np.ndarray
    y: np.ndarray
    positive: Any = None
    class_names: tuple[str, ...] = ()

    @property
    def n_classes(self) -> int:
        """2 for a binary task, else the number of classes."""
        return len(self.classes)


@dataclass(frozen=True)
class ModelSpec:
    """One network trained on a task.

    Parameters
    ----------
    name : str
        Score column ``score_<name>`` and training key.
    network : str
        Registry name (:func:`cardiopredict.models.build_model`).
    kwargs : mapping
        Builder keyword arguments.
    inputs : mapping of str to str
        Model input key → name of the array in :attr:`CohortInputs.arrays`.
    inputs_spec : mapping
        How ``predict`` rebuilds each input from a patient's files (stored in ``model.json``).
    learning_rate : float, optional
        The network's own Adam learning rate, for a network the protocol's was not chosen for; None: the
        protocol's. A learning rate given for the run (``--learning-rate``) wins. Recorded per model in
        ``config.json`` (``learning_rate_by_model``) and in ``model.json``'s ``training``.
    """

    name: str
    network: str
    kwargs: Mapping[str, Any]
    inputs: Mapping[str, str]
    inputs_spec: Mapping[str, Any]
    learning_rate: float | None = None


@dataclass(frozen=True)
class TrainedModel:
    """A model of a task after cross-validation: its spec, training key and result."""

    task: Task
    spec: ModelSpec
    key: str
    result: TrainedCV


Baselines = Callable[[Task, CohortInputs, np.ndarray, int], dict[str, np.ndarray]]


@dataclass(frozen=True)
class StudySpec:
    """Everything that makes one study different from another.

    Parameters
    ----------
    name : str
        ``"crt"``, ``"cardiomyopathy"``, ``"va"`` (``config.json["study"]``).
    label : str
        Manifest label column; ``label_values`` its allowed values.
    file_columns, optional_file_columns : tuple of str
        Manifest columns holding input files (paths relative to the manifest).
    build_inputs : callable (manifest table, out_dir, progress) -> CohortInputs
    tasks : callable (CohortInputs) -> list of Task
    models : callable (Task) -> list of ModelSpec
    baselines : callable (Task, CohortInputs, folds, seed) -> {name: scores}
        Scores ``(n,)`` for a binary task, ``(n, k)`` class probabilities for a multiclass one.
    rules : tuple of str
        Baselines that are 0/1 rules, not probabilities.
    references : tuple of str
        Baselines every model is DeLong-tested against.
    oracle : callable (Task, CohortInputs) -> {name: scores}, optional
        True probabilities of a synthetic cohort (scored, never an input), e.g. ``{"oracle": p}``.
    outcome_columns : callable (Task, CohortInputs) -> {column: values}, optional
        Extra outcome columns of ``predictions.csv`` (``time_days``, ``event``).
    figures : callable (out_dir, predictions, CohortInputs, list of TrainedModel) -> None, optional
    layout : {"single", "per_task"}
        Shape of ``metrics.json`` (:mod:`cardiopredict.evaluation.run`).
    model_json : mapping
        Extra keys of every ``model.json`` (how inputs are preprocessed, for ``predict``).
    selection : mapping
        What was asked for (inputs, tasks), for ``config.json``.
    evaluation : mapping
        Extra keys of every task's evaluation block (e.g. ``horizon_days``).
    input_version : str
        Version of the input builder (part of the resume fingerprint).
    check_files : bool
        Let the manifest reader refuse missing input files up front (every bad row at once); ``False``
        for inputs that are folders (DICOM series), whose problems the builder reports per patient.
    """

    name: str
    label: str
    label_values: tuple[Any, ...]
    file_columns: tuple[str, ...]
    build_inputs: Callable[[pd.DataFrame, Path, bool], CohortInputs]
    tasks: Callable[[CohortInputs], list[Task]]
    models: Callable[[Task], list[ModelSpec]]
    baselines: Baselines
    optional_file_columns: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    oracle: Callable[[Task, CohortInputs], dict[str, np.ndarray]] | None = None
    outcome_columns: Callable[[Task, CohortInputs], dict[str, np.ndarray]] | None = None
    figures: Callable[[Path, pd.DataFrame, CohortInputs, list[TrainedModel]], None] | None = None
    layout: str = "single"
    model_json: Mapping[str, Any] = field(default_factory=dict)
    selection: Mapping[str, Any] = field(default_factory=dict)
    evaluation: Mapping[str, Any] = field(default_factory=dict)
    input_version: str = ""
    check_files: bool = True


def read_oracle(manifest_path: Path, patient_ids: Sequence[str]) -> pd.DataFrame | None:
    """``oracle.csv`` beside a synthetic cohort's manifest, indexed by ``patient_ids`` (None if absent)."""
    path = Path(manifest_path).parent / "oracle.csv"
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"patient_id": str}).set_index("patient_id").reindex(list(patient_ids))


def _check_enough(task: Task, n_excluded: int, n_folds: int) -> None:
    counts = np.bincount(task.y, minlength=task.n_classes)
    if counts.min() >= n_folds:
        return
    names = task.class_names or tuple(str(c) for c in task.classes)
    if task.n_classes == 2 and task.positive is not None:  # binary y: 0 = not positive, 1 = positive
        names = names if task.class_names else (f"not {task.positive}", str(task.positive))
    described = " and ".join(f"{count} {name}(s)" for count, name in zip(counts.tolist(), names, strict=True))
    raise InsufficientDataError(
        f"After {n_excluded} exclusion(s) task {task.name!r} has {described}; {n_folds}-fold "
        f"cross-validation needs at least {n_folds} patients of each class. Use fewer folds or a larger "
        "cohort (exclusions are listed in cohort.csv)."
    )


def _score_columns(name: str, task: Task, scores: np.ndarray) -> dict[str, np.ndarray]:
    scores = np.asarray(scores)
    if scores.ndim == 1:
        return {f"score_{name}": scores}
    return {f"score_{name}_{cls}": scores[:, k] for k, cls in enumerate(task.classes)}


def _requests(spec: StudySpec, task: Task, cohort: CohortInputs, folds: np.ndarray, profile: StudyProfile):
    """One cross-validation request per model of ``task`` (see :mod:`cardiopredict.training.fold_jobs`)."""
    pids = [str(pid) for pid in cohort.patient_ids[task.rows]]
    requests = []
    for model in spec.models(task):
        key = model.name if spec.layout == "single" else f"{task.name}_{model.name}"
        training = profile.training_for(model.learning_rate)
        extra = {
            "study": spec.name,
            "task": task.name,
            "study_model": model.name,
            "inputs_spec": dict(model.inputs_spec),
            **spec.model_json,
            "label": spec.label,
            "classes": list(task.classes),
            "positive_class": task.positive,
            "profile": profile.name,
        }
        request = CVRequest(
            key, dict(model.inputs), task.rows, task.y, folds, pids, model.network, model.kwargs,
            training, n_classes=task.n_classes, input_version=spec.input_version,
            model_json_extra=extra,
        )  # fmt: skip
        requests.append((model, request))
    return requests


def task_frame(spec: StudySpec, task: Task, cohort: CohortInputs, folds: np.ndarray, trained, seed: int):
    """A task's rows of ``predictions.csv`` (models ``trained``, baselines, oracle) and evaluation block."""
    frame = pd.DataFrame(
        {"patient_id": cohort.patient_ids[task.rows], "task": task.name, "fold": folds, "y_true": task.y}
    )
    if spec.outcome_columns is not None:
        for column, values in spec.outcome_columns(task, cohort).items():
            frame[column] = values
    columns: dict[str, np.ndarray] = {}
    for model in trained:
        columns.update(_score_columns(model.spec.name, task, model.result.oof_scores))
    baselines = spec.baselines(task, cohort, folds, seed)
    for name, scores in baselines.items():
        columns.update(_score_columns(name, task, scores))
    oracles = spec.oracle(task, cohort) if spec.oracle is not None else {}
    for name, scores in oracles.items():
        columns.update(_score_columns(name, task, scores))
    evaluation = {
        "classes": [str(c) for c in task.classes],
        "models": [model.spec.name for model in trained],
        "baselines": list(baselines),
        "rules": [name for name in spec.rules if name in baselines],
        "references": [name for name in spec.references if name in baselines],
        "oracles": {f"{name}_auc": name for name in oracles},
        **spec.evaluation,
    }
    return pd.concat([frame, pd.DataFrame(columns)], axis=1), evaluation


def prepare_study(
    spec: StudySpec, manifest_path: str | Path, out: Path, *, profile: StudyProfile, progress: bool = False
) -> tuple[Any, CohortInputs, list[Task]]:
    """Read and validate the manifest, build every patient's inputs, and the study's tasks.

    Returns the manifest (``.table``), the :class:`CohortInputs` and the tasks, each checked to have
    enough patients of every class for ``profile.training.n_folds`` folds.
    """
    manifest = read_manifest(
        manifest_path,
        label_column=spec.label,
        label_values=spec.label_values,
        file_columns=spec.file_columns,
        optional_file_columns=spec.optional_file_columns,
        check_files=spec.check_files,
    )
    cohort = spec.build_inputs(manifest.table, out, progress)
    cohort.config["manifest"] = str(Path(manifest_path).resolve())
    tasks = spec.tasks(cohort)
    for task in tasks:
        _check_enough(task, len(cohort.exclusions), profile.training.n_folds)
    return manifest, cohort, tasks


def run_study(
    spec: StudySpec,
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    profile: StudyProfile | None = None,
    progress: bool = False,
    figures: bool = True,
    resume: bool = True,
    executor: Executor | None = None,
) -> dict[str, Any]:
    """Run a study and write its run directory; returns the content of ``metrics.json``.

    Parameters
    ----------
    spec : StudySpec
    manifest_path : path
        Cohort manifest (CSV/XLSX), validated against the spec's label and file columns.
    out_dir : path
        Run directory (created; outputs are replaced atomically).
    profile : StudyProfile, optional
        Training protocol; default the paper's.
    progress : bool
        Show progress bars.
    figures : bool
        Draw the figures and the report (tests may skip them).
    resume : bool
        Reuse trainings that finished in ``out_dir`` on exactly the same inputs and settings.
    executor : Executor, optional
        Where the fold trainings run (:mod:`cardiopredict.training.executors`): default one after another
        in this process; a :class:`~cardiopredict.training.executors.RayExecutor` spreads every fold of
        every model of every task over a Ray cluster, with the same results for the same thread count.
    """
    started = time.perf_counter()
    profile = profile or StudyProfile.paper()
    executor = executor or LocalExecutor()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    manifest, cohort, tasks = prepare_study(spec, manifest_path, out, profile=profile, progress=progress)
    seed = profile.training.seed
    plans = []
    for task in tasks:
        folds = make_folds(task.y, cohort.patient_ids[task.rows], n_folds=profile.training.n_folds, seed=seed)
        plans.append((task, folds, _requests(spec, task, cohort, folds, profile)))
    requests = [request for _, _, pairs in plans for _, request in pairs]
    batch = cross_validate_all(
        out, requests, cohort.arrays, executor=executor, resume=resume, progress=progress
    )
    results = dict(zip((request.key for request in requests), batch.trained, strict=True))
    frames, evaluation, trained_all = [], {}, []
    for task, folds, pairs in plans:
        trained = [TrainedModel(task, model, request.key, results[request.key]) for model, request in pairs]
        frame, evaluation[task.name] = task_frame(spec, task, cohort, folds, trained, seed)
        frames.append(frame)
        trained_all += trained
    predictions = pd.concat(frames, ignore_index=True)
    atomic_write_csv(out / "predictions.csv", predictions)
    facts = {
        "executor": executor.describe(),
        "training_times_s": batch.fold_times_s,
        "learning_rate_by_model": {request.key: request.training.learning_rate for request in requests},
    }
    _write_config(spec, out, manifest_path, profile, cohort, tasks, trained_all, evaluation, started, facts)
    metrics = evaluate_run(out)
    atomic_write_json(out / "metrics.json", metrics)
    atomic_write_csv(
        out / "cohort.csv", cohort_table(manifest.table, cohort.exclusions, derived=cohort.derived)
    )
    if figures:
        if spec.figures is not None:
            spec.figures(out, predictions, cohort, trained_all)
        write_report(out)
    return metrics


def _write_config(
    spec, out, manifest_path, profile, cohort, tasks, trained, evaluation, started, facts
) -> None:
    synthetic = (Path(manifest_path).parent / "oracle.csv").is_file()
    early = [model.result.early_stopping for model in trained]
    run = {
        "runtime_s": round(time.perf_counter() - started, 2),
        "profile": profile.name,
        "early_stopping": early[-1] if early else profile.training.early_stopping,
        "n_patients": len(cohort.patient_ids),
        "n_excluded": len(cohort.exclusions),
        "reused_trainings": [model.key for model in trained if model.result.reused],
        "synthetic": synthetic,
        **facts,
        **cohort.config.get("run_facts", {}),
    }
    atomic_write_json(
        out / "config.json",
        {
            "study": spec.name,
            "manifest": cohort.config["manifest"],
            "synthetic": synthetic,
            **spec.selection,
            "tasks_run": [task.name for task in tasks],
            "profile": profile.name,
            "training": profile.training.to_dict(),
            "bootstrap": profile.bootstrap,
            **{key: value for key, value in cohort.config.items() if key not in ("manifest", "run_facts")},
            "evaluation": {
                "layout": spec.layout,
                "n_boot": profile.bootstrap,
                "seed": profile.training.seed,
                "tasks": evaluation,
            },
            "run": run,
            "provenance": provenance(),
        },
    )
