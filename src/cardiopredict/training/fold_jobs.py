"""Cross-validation of many models as one batch of fold trainings, for an executor to spread out.

:func:`cross_validate_all` is :func:`cardiopredict.training.resume.cross_validate` for a list of models
at once: every fold of every model that has not finished is one :class:`FoldJob`, the executor
(:mod:`cardiopredict.training.executors`) runs them — all of them in parallel on Ray — and this process
gathers the results into the same files ``cross_validate`` writes (``models/<key>/fold<k>.safetensors``
+ ``model.json``, ``curves/<key>.csv``, last ``cv/<key>.npz``), with the same fingerprint, so resume
works across executors.

A fold is trained exactly as :func:`cardiopredict.training.crossval.run_cv` trains it (the same
private steps, in the same order, seeded by ``SeedSequence([seed, k])``): the fold's numbers do not
depend on which process trains it or what it trained before, only on the thread count and the library
versions. ``tests/training/test_executors.py`` checks that the files are bit for bit those of
``cross_validate``.

What travels: the input arrays once (``shared``); per job the request (labels, folds, patient ids,
settings — a few kB) and the fold index; back, the fold's test-patient scores, curve rows, best epoch,
patient lists and the network (its weights, moved to CPU). Files are written by this process only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import CardioPredictError, ConfigError
from cardiopredict.training.artifacts import MODEL_JSON, fold_file, save_fold_weights
from cardiopredict.training.crossval import (
    CURVE_COLUMNS,
    EARLY_STOPPING_LABELS,
    MODEL_JSON_KEYS,
    CVResult,
    _check_classes,
    _inner_split,
    _predict,
    _Progress,
    _train_fold,
    _validate,
    _write_model_json,
    resolve_device,
)
from cardiopredict.training.executors import Executor, LocalExecutor, Outcome
from cardiopredict.training.module import resolve_model_kwargs
from cardiopredict.training.resume import TrainedCV, _load_finished, _save_finished, cv_signature

__all__ = ["CVBatch", "CVRequest", "FoldJob", "FoldResult", "cross_validate_all", "train_fold"]


@dataclass(frozen=True)
class CVRequest:
    """One model to cross-validate on rows of the shared input arrays.

    Parameters
    ----------
    key : str
        Training key: ``models/<key>/``, ``curves/<key>.csv``, ``cv/<key>.npz``.
    inputs : mapping of str to str
        Model input key → name of the shared array (first axis = rows).
    rows : ndarray of int, shape (n,)
        Rows of the shared arrays this model is trained on, in the order of ``y``.
    y, folds : ndarray of int, shape (n,)
        Labels ``0 .. n_classes - 1`` and patient-level folds.
    patient_ids : sequence of str, length n
    model, model_kwargs, training, n_classes, input_version, model_json_extra
        As in :func:`cardiopredict.training.resume.cross_validate`.
    """

    key: str
    inputs: Mapping[str, str]
    rows: np.ndarray
    y: np.ndarray
    folds: np.ndarray
    patient_ids: Sequence[str]
    model: str
    model_kwargs: Mapping[str, Any]
    training: TrainingConfig
    n_classes: int = 2
    input_version: str = ""
    model_json_extra: Mapping[str, Any] = field(default_factory=dict)

    def arrays(self, shared: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """This model's inputs, ``{input_key: shared[name][rows]}``."""
        return {key: np.asarray(shared[name])[self.rows] for key, name in self.inputs.items()}


@dataclass(frozen=True)
class FoldJob:
    """Fold ``fold`` of a request: train on the other folds, score this one."""

    request: CVRequest
    fold: int

    @property
    def label(self) -> str:
        return f"{self.request.key} fold {self.fold}"


@dataclass
class FoldResult:
    """What one fold training sends back.

    ``scores`` are the held-out rows' probabilities (``(n_test,)`` binary, ``(n_test, k)`` multiclass);
    ``history`` the curve rows; ``network`` the trained network on CPU (best epoch restored);
    ``runtime_s`` the wall time of the training in its worker, s.
    """

    scores: np.ndarray
    history: list[dict[str, float]]
    best_epoch: int
    patients: dict[str, list[str]]
    network: nn.Module
    runtime_s: float


@dataclass(frozen=True)
class CVBatch:
    """Per request (in order) its :class:`TrainedCV`; per trained fold its wall time (s), by label."""

    trained: list[TrainedCV]
    fold_times_s: dict[str, float]


def train_fold(shared: Mapping[str, np.ndarray], job: FoldJob) -> FoldResult:
    """Train and score one fold, step for step as :func:`~cardiopredict.training.crossval.run_cv` does."""
    started = time.perf_counter()
    request, k = job.request, int(job.fold)
    arrays, y, folds = _validate(
        request.arrays(shared), request.y, request.folds, request.patient_ids, request.n_classes
    )
    config = request.training
    kwargs = resolve_model_kwargs(request.model_kwargs, n_classes=request.n_classes, model_name=request.model)
    device = resolve_device(config.device)
    tensors = {key: torch.from_numpy(array).to(device) for key, array in arrays.items()}
    labels = torch.from_numpy(y).to(device)
    pids = np.asarray([str(pid) for pid in request.patient_ids])
    fold_seed = int(np.random.SeedSequence([config.seed, k]).generate_state(1)[0])
    test_rows, train_rows = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
    _check_classes(y[train_rows], request.n_classes, f"training folds of fold {k}")
    if config.early_stopping == "inner":
        fit_rows, val_rows = _inner_split(train_rows, y, pids, config.inner_val_fraction, fold_seed, k)
    else:
        fit_rows, val_rows = train_rows, test_rows
    module, history, best_epoch = _train_fold(
        request.model, kwargs, request.n_classes, config, arrays, tensors, labels, fit_rows, val_rows,
        fold_seed, _Progress(False, total=0, name=""),
    )  # fmt: skip
    patients = {
        "fit_patients": pids[fit_rows].tolist(),
        "val_patients": pids[val_rows].tolist() if config.early_stopping == "inner" else [],
        "test_patients": pids[test_rows].tolist(),
    }
    scores = _predict(module, tensors, test_rows)
    network = module.model.to("cpu")
    return FoldResult(scores, history, best_epoch, patients, network, time.perf_counter() - started)


def _signature(request: CVRequest, shared: Mapping[str, np.ndarray]) -> str:
    return cv_signature(
        request.arrays(shared),
        request.y,
        request.folds,
        model=request.model,
        model_kwargs=request.model_kwargs,
        training=request.training.to_dict(),
        n_classes=request.n_classes,
        input_version=request.input_version,
    )


def _prepare(out: Path, request: CVRequest, shared: Mapping[str, np.ndarray]) -> list[FoldJob]:
    """Validate a request before any training starts; mark its model directory unfinished."""
    _validate(request.arrays(shared), request.y, request.folds, request.patient_ids, request.n_classes)
    clash = sorted(set(MODEL_JSON_KEYS) & set(request.model_json_extra))
    if clash:
        raise ConfigError(
            f"model_json_extra keys {clash} clash with keys run_cv writes to model.json; rename them."
        )
    model_dir = out / "models" / request.key
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / MODEL_JSON).unlink(missing_ok=True)  # a directory without model.json is unfinished
    return [FoldJob(request, int(k)) for k in np.unique(np.asarray(request.folds).astype(int))]


def _finish(out: Path, request: CVRequest, signature: str, results: list[tuple[FoldJob, FoldResult]]):
    """Write the model's files from its fold results, exactly as ``cross_validate`` does."""
    folds = np.asarray(request.folds).astype(int)
    config = request.training
    model_dir = out / "models" / request.key
    oof = np.full((len(folds),) if request.n_classes == 2 else (len(folds), request.n_classes), np.nan)
    curves, best_epochs, fold_patients = [], [], []
    for job, result in results:
        oof[np.flatnonzero(folds == job.fold)] = result.scores
        curves.extend({"fold": job.fold, **row} for row in result.history)
        best_epochs.append(result.best_epoch)
        fold_patients.append(result.patients)
        save_fold_weights(result.network, model_dir / fold_file(job.fold))
    label = EARLY_STOPPING_LABELS[config.early_stopping]
    cv = CVResult(
        oof_scores=oof,
        folds=folds,
        curves=pd.DataFrame(curves, columns=CURVE_COLUMNS),
        best_epochs=best_epochs,
        runtime_s=round(sum(result.runtime_s for _, result in results), 3),
        early_stopping=label,
        fold_patients=fold_patients,
    )
    kwargs = resolve_model_kwargs(request.model_kwargs, n_classes=request.n_classes, model_name=request.model)
    fold_ids = [job.fold for job, _ in results]
    _write_model_json(
        model_dir,
        request.model,
        kwargs,
        request.n_classes,
        config,
        cv,
        fold_ids,
        dict(request.model_json_extra),
    )
    trained = TrainedCV(oof, cv.curves, label, reused=False)
    _save_finished(out, request.key, signature, trained)
    return trained


def _failure_message(failed: list[Outcome[Any]], n_jobs: int) -> str:
    lines = "\n".join(f"  - {outcome.label}: {outcome.error}" for outcome in failed)
    return (
        f"{len(failed)} of {n_jobs} training(s) failed twice (each was retried once):\n{lines}\n"
        "The other trainings finished and were saved; fix the cause and re-run to train only the failed "
        "ones (finished trainings are reused)."
    )


def cross_validate_all(
    out: str | Path,
    requests: Sequence[CVRequest],
    shared: Mapping[str, np.ndarray],
    *,
    executor: Executor | None = None,
    resume: bool = True,
    progress: bool = False,
) -> CVBatch:
    """Cross-validate every request, reusing finished identical trainings, folds spread by ``executor``.

    Parameters
    ----------
    out : path
        Run directory.
    requests : sequence of CVRequest
        Distinct keys.
    shared : mapping of str to ndarray
        The input arrays the requests name (sent to the workers once).
    executor : Executor, optional
        Default :class:`~cardiopredict.training.executors.LocalExecutor` (this process).
    resume : bool
        Reuse a training finished in ``out`` with the same fingerprint.
    progress : bool
        One progress bar over all fold trainings.

    Raises
    ------
    CardioPredictError
        When a fold training failed twice; its message lists every failed ``<key> fold <k>`` and error,
        after the other trainings finished and were saved.
    """
    out, executor = Path(out), executor or LocalExecutor()
    signatures = [_signature(request, shared) for request in requests]
    trained: list[TrainedCV | None] = [
        _load_finished(out, request.key, signature) if resume else None
        for request, signature in zip(requests, signatures, strict=True)
    ]
    jobs = [
        job
        for request, done in zip(requests, trained, strict=True)
        if done is None
        for job in _prepare(out, request, shared)
    ]
    names = sorted({name for job in jobs for name in job.request.inputs.values()})
    outcomes = executor.map(
        train_fold, {name: shared[name] for name in names}, jobs, labels=[job.label for job in jobs],
        progress=progress,
    )  # fmt: skip
    failed = [outcome for outcome in outcomes if not outcome.ok]
    for i, request in enumerate(requests):
        mine = [(job, outcome) for job, outcome in zip(jobs, outcomes, strict=True) if job.request is request]
        if trained[i] is None and all(outcome.ok for _, outcome in mine):
            trained[i] = _finish(out, request, signatures[i], [(job, outcome.value) for job, outcome in mine])
    if failed:
        raise CardioPredictError(_failure_message(failed, len(jobs)))
    times = {outcome.label: round(outcome.value.runtime_s, 3) for outcome in outcomes}
    return CVBatch([result for result in trained if result is not None], times)
