"""Hyperparameter search by nested cross-validation, so the reported AUC stays honest.

For every task and model of a study and every outer fold ``k`` of the task's patient-level folds (the
same folds :func:`~cardiopredict.studies.engine.run_study` uses):

1. the outer training split (patients not in fold ``k``) is split again into ``inner_folds``
   patient-level stratified folds;
2. an Optuna study (TPE sampler, seeded) proposes ``n_trials`` configurations from :data:`SEARCH_SPACE`;
   each is scored by the pooled out-of-fold AUC of a cross-validation on those inner folds only — the
   outer test fold is never trained on, stopped on or scored during the search;
3. the best configuration is trained on the whole outer training split (with its own inner early-stopping
   split, as in the study) and scores fold ``k``'s patients.

The outer out-of-fold scores go to ``predictions.csv`` (the engine's schema, with the study's baselines and
oracle on the same folds) and ``metrics.json`` is computed from it by
:func:`~cardiopredict.evaluation.run.evaluate_run`. ``chosen.json`` holds the configuration chosen per
outer fold; ``search_history.csv`` / ``.json`` every trial.

Why Optuna, not Ray Tune: the search runs in this process with Optuna's ask/tell interface, one trial
per outer fold per round, in a fixed order, so the proposals — and therefore every result — are the same
whichever executor trains; the trainings themselves still go through the executor, so with
``--executor ray`` a round's ``n_outer x n_models x inner_folds`` trainings run in parallel. Ray Tune would
make Ray a requirement for tuning, and its asynchronous trial completion makes the proposals depend on
timing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_csv, atomic_write_json, provenance
from cardiopredict.config import StudyProfile
from cardiopredict.errors import CardioPredictError, ConfigError
from cardiopredict.evaluation.run import evaluate_run
from cardiopredict.studies.engine import ModelSpec, StudySpec, Task, TrainedModel, prepare_study, task_frame
from cardiopredict.training.crossval import EARLY_STOPPING_LABELS, auc_of, make_folds
from cardiopredict.training.executors import Executor, LocalExecutor
from cardiopredict.training.fold_jobs import CVRequest, FoldJob, train_fold
from cardiopredict.training.resume import TrainedCV

__all__ = ["SEARCH_SPACE", "suggest", "tune_study"]

SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "learning_rate": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
    "dropout_input": {"type": "float", "low": 0.2, "high": 0.8},
    "dropout_hidden": {"type": "float", "low": 0.0, "high": 0.6},
    "channels": {"type": "categorical", "choices": ["16-32-64", "32-64-128", "64-128-256"]},
    "pooling": {"type": "categorical", "choices": ["flatten", "avg", "max"]},
    "max_epochs": {"type": "categorical", "choices": ["half", "full"]},
    "patience": {"type": "categorical", "choices": ["half", "full"]},
}
"""The searched space. ``dropout_*``, ``channels`` (conv widths) and ``pooling`` apply to the ECG networks
(``ecgnet``, ``ecgcomposite``; other networks are searched over the training settings only);
``max_epochs`` / ``patience`` are half or all of the profile's (paper: 50 or 100 epochs, patience 5 or 10)."""
_NETWORK_KEYS = ("dropout_input", "dropout_hidden", "channels", "pooling")
_ECG_NETWORKS = ("ecgnet", "ecgcomposite")


def suggest(trial: Any, network: str) -> dict[str, Any]:
    """One configuration of :data:`SEARCH_SPACE` drawn by an Optuna trial (only the keys ``network`` uses)."""
    params = {}
    for name, space in SEARCH_SPACE.items():
        if name in _NETWORK_KEYS and network not in _ECG_NETWORKS:
            continue
        if space["type"] == "float":
            params[name] = trial.suggest_float(name, space["low"], space["high"], log=space.get("log", False))
        else:
            params[name] = trial.suggest_categorical(name, space["choices"])
    return params


def _apply(params: Mapping[str, Any], model: ModelSpec, profile: StudyProfile):
    """(model kwargs, TrainingConfig) of a configuration."""
    base = profile.training

    def scaled(value: int, choice: str) -> int:
        return max(1, value // 2) if choice == "half" else value

    training = dataclasses.replace(
        base,
        learning_rate=float(params["learning_rate"]),
        max_epochs=scaled(base.max_epochs, params["max_epochs"]),
        patience=scaled(base.patience, params["patience"]),
    )
    kwargs = dict(model.kwargs)
    if model.network in _ECG_NETWORKS:
        kwargs["dropout"] = (float(params["dropout_input"]), float(params["dropout_hidden"]))
        kwargs["channels"] = tuple(int(c) for c in str(params["channels"]).split("-"))
        kwargs["pooling"] = params["pooling"]
    return kwargs, training


@dataclasses.dataclass
class _Search:
    """The search of one task, model and outer fold."""

    task: Task
    model: ModelSpec
    outer_folds: np.ndarray
    fold: int
    inner_folds: np.ndarray
    study: Any
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def train_rows(self) -> np.ndarray:
        return np.flatnonzero(self.outer_folds != self.fold)

    def request(self, key: str, params: Mapping[str, Any], profile: StudyProfile, cohort, *, outer: bool):
        kwargs, training = _apply(params, self.model, profile)
        rows = np.arange(len(self.task.y)) if outer else self.train_rows
        folds = self.outer_folds if outer else self.inner_folds
        return CVRequest(
            key, dict(self.model.inputs), self.task.rows[rows], self.task.y[rows], folds,
            [str(pid) for pid in cohort.patient_ids[self.task.rows[rows]]], self.model.network, kwargs,
            training, n_classes=self.task.n_classes,
        )  # fmt: skip


def _searches(spec, tasks, cohort, profile, *, inner_folds: int, seed: int) -> list[_Search]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    searches = []
    for task in tasks:
        pids = cohort.patient_ids[task.rows]
        outer = make_folds(task.y, pids, n_folds=profile.training.n_folds, seed=profile.training.seed)
        for model in spec.models(task):
            for k in range(profile.training.n_folds):
                rows = np.flatnonzero(outer != k)
                state = np.random.SeedSequence([seed, k]).generate_state(2)
                inner = make_folds(task.y[rows], pids[rows], n_folds=inner_folds, seed=int(state[0]))
                sampler = optuna.samplers.TPESampler(seed=int(state[1]))
                study = optuna.create_study(direction="maximize", sampler=sampler)
                searches.append(_Search(task, model, outer, k, inner, study))
    return searches


def _run_round(searches, trial_number, profile, cohort, executor, progress) -> None:
    """Ask every search for one configuration, train all their inner folds at once, tell the AUCs."""
    import optuna

    asked, jobs = [], []
    for i, search in enumerate(searches):
        trial = search.study.ask()
        params = suggest(trial, search.model.network)
        key = f"{search.task.name}/{search.model.name}/outer{search.fold}/trial{trial_number}"
        request = search.request(key, params, profile, cohort, outer=False)
        asked.append((trial, params, request))
        jobs += [(i, FoldJob(request, int(k))) for k in np.unique(search.inner_folds)]
    outcomes = executor.map(
        train_fold, cohort.arrays, [job for _, job in jobs], labels=[job.label for _, job in jobs],
        progress=progress,
    )  # fmt: skip
    for i, (search, (trial, params, request)) in enumerate(zip(searches, asked, strict=True)):
        mine = [(job, outcome) for (owner, job), outcome in zip(jobs, outcomes, strict=True) if owner == i]
        errors = [f"{job.label}: {outcome.error}" for job, outcome in mine if not outcome.ok]
        score = float("nan")
        if not errors:
            oof = np.full(
                (len(request.y),) if request.n_classes == 2 else (len(request.y), request.n_classes), np.nan
            )
            for job, outcome in mine:
                oof[np.flatnonzero(request.folds == job.fold)] = outcome.value.scores
            score = auc_of(request.y, oof, request.n_classes)
        state = "complete" if np.isfinite(score) else "fail"
        if state == "complete":
            search.study.tell(trial, score)
        else:
            search.study.tell(trial, state=optuna.trial.TrialState.FAIL)
        search.history.append(
            {"trial": trial_number, **params, "inner_auc": score, "state": state, "error": "; ".join(errors)}
        )


def _best(search: _Search) -> dict[str, Any]:
    complete = [row for row in search.history if row["state"] == "complete"]
    if not complete:
        raise CardioPredictError(
            f"task {search.task.name!r}, model {search.model.name!r}, outer fold {search.fold}: every trial "
            f"failed ({search.history[-1]['error'] or 'inner AUC undefined'}). Use fewer inner folds or a "
            "larger cohort."
        )
    best = search.study.best_trial
    return {"trial": best.number, "inner_auc": float(best.value), "params": dict(best.params)}


def _outer_scores(searches, chosen, profile, cohort, executor, progress) -> dict[tuple[str, str], np.ndarray]:
    """Train each chosen configuration on its outer training split; out-of-fold scores per (task, model)."""
    jobs = [
        FoldJob(search.request(f"{search.task.name}/{search.model.name}/outer{search.fold}/chosen",
                               best["params"], profile, cohort, outer=True), search.fold)
        for search, best in zip(searches, chosen, strict=True)
    ]  # fmt: skip
    outcomes = executor.map(
        train_fold, cohort.arrays, jobs, labels=[job.label for job in jobs], progress=progress
    )
    failed = [f"{outcome.label}: {outcome.error}" for outcome in outcomes if not outcome.ok]
    if failed:
        raise CardioPredictError(
            "outer training(s) of the chosen configuration failed twice:\n  " + "\n  ".join(failed)
        )
    scores: dict[tuple[str, str], np.ndarray] = {}
    for search, job, outcome in zip(searches, jobs, outcomes, strict=True):
        n, k = len(search.task.y), search.task.n_classes
        oof = scores.setdefault(
            (search.task.name, search.model.name), np.full((n,) if k == 2 else (n, k), np.nan)
        )
        oof[np.flatnonzero(search.outer_folds == job.fold)] = outcome.value.scores
    return scores


def tune_study(
    spec: StudySpec,
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    profile: StudyProfile | None = None,
    n_trials: int = 20,
    inner_folds: int = 3,
    executor: Executor | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Search hyperparameters by nested cross-validation and score the chosen ones on the outer folds.

    Parameters
    ----------
    spec : StudySpec
        Any study (every task and model of the spec is searched).
    manifest_path : path
        Cohort manifest.
    out_dir : path
        Writes ``predictions.csv`` (outer out-of-fold scores + baselines), ``metrics.json``,
        ``chosen.json``, ``search_history.csv`` / ``.json`` and ``config.json``.
    profile : StudyProfile, optional
        Outer protocol (folds, seed, the base of the epochs/patience choices); default the paper's.
    n_trials : int
        Configurations tried per outer fold (and model).
    inner_folds : int
        Folds of the inner cross-validation on each outer training split.
    executor : Executor, optional
        Where the trainings run; default this process.
    progress : bool
        Progress bars (one per round).

    Returns
    -------
    dict
        The content of ``metrics.json`` (outer-fold AUCs of the tuned models and the baselines).
    """
    started = time.perf_counter()
    if n_trials < 1 or inner_folds < 2:
        raise ConfigError(
            f"n_trials={n_trials}, inner_folds={inner_folds}: use >= 1 trial and >= 2 inner folds."
        )
    profile = profile or StudyProfile.paper()
    executor = executor or LocalExecutor()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _, cohort, tasks = prepare_study(spec, manifest_path, out, profile=profile, progress=progress)
    searches = _searches(spec, tasks, cohort, profile, inner_folds=inner_folds, seed=profile.training.seed)
    for trial_number in range(n_trials):
        _run_round(searches, trial_number, profile, cohort, executor, progress)
    chosen = [_best(search) for search in searches]
    scores = _outer_scores(searches, chosen, profile, cohort, executor, progress)
    evaluation = _write_outputs(out, spec, tasks, cohort, searches, chosen, scores, profile)
    tuning = {
        "sampler": "optuna TPESampler (seeded per outer fold)",
        "n_trials": n_trials,
        "inner_folds": inner_folds,
        "objective": "pooled inner out-of-fold AUC (outer test fold never seen)",
        "space": SEARCH_SPACE,
        "executor": executor.describe(),
    }
    _write_config(out, spec, manifest_path, profile, cohort, evaluation, tuning, started)
    metrics = evaluate_run(out)
    atomic_write_json(out / "metrics.json", metrics)
    return metrics


def _write_outputs(out, spec, tasks, cohort, searches, chosen, scores, profile) -> None:
    label = EARLY_STOPPING_LABELS[profile.training.early_stopping]
    frames, evaluation = [], {}
    for task in tasks:
        outer = next(search.outer_folds for search in searches if search.task is task)
        trained = [
            TrainedModel(
                task,
                model,
                model.name,
                TrainedCV(scores[(task.name, model.name)], pd.DataFrame(), label, False),
            )
            for model in spec.models(task)
        ]
        frame, evaluation[task.name] = task_frame(spec, task, cohort, outer, trained, profile.training.seed)
        frames.append(frame)
    atomic_write_csv(out / "predictions.csv", pd.concat(frames, ignore_index=True))
    rows = [
        {"task": s.task.name, "model": s.model.name, "outer_fold": s.fold, **row}
        for s in searches
        for row in s.history
    ]
    atomic_write_csv(out / "search_history.csv", pd.DataFrame(rows))
    atomic_write_json(out / "search_history.json", rows)
    atomic_write_json(
        out / "chosen.json",
        [
            {"task": s.task.name, "model": s.model.name, "outer_fold": s.fold, **best}
            for s, best in zip(searches, chosen, strict=True)
        ],
    )
    return evaluation


def _write_config(out, spec, manifest_path, profile, cohort, evaluation, tuning, started) -> None:
    atomic_write_json(
        out / "config.json",
        {
            "study": spec.name,
            "kind": "nested-cv hyperparameter search",
            "manifest": cohort.config["manifest"],
            "synthetic": (Path(manifest_path).parent / "oracle.csv").is_file(),
            **spec.selection,
            "profile": profile.name,
            "training": profile.training.to_dict(),
            "tuning": tuning,
            "evaluation": {
                "layout": spec.layout,
                "n_boot": profile.bootstrap,
                "seed": profile.training.seed,
                "tasks": evaluation,
            },
            "run": {
                "runtime_s": round(time.perf_counter() - started, 2),
                "n_patients": len(cohort.patient_ids),
            },
            "provenance": provenance(),
        },
    )
