"""Patient-level stratified k-fold cross-validation of a registered network.

:func:`make_folds` assigns every row a fold (``StratifiedGroupKFold`` grouped by patient, so no patient
is in two folds). :func:`run_cv` trains one network per fold on the other folds and scores the held-out
fold, returning out-of-fold probabilities and per-epoch learning curves, and optionally saving the fold
models (``fold<k>.safetensors`` + ``model.json``, see :mod:`cardiopredict.training.artifacts`).

Early stopping (``TrainingConfig.early_stopping``)
--------------------------------------------------
``"inner"`` (default, honest): a stratified share (``inner_val_fraction``) of each fold's *training*
patients is held out; training stops when its loss has not improved for ``patience`` epochs and the
weights of the best epoch are restored. The held-out fold is only scored, never looked at.
``"outer"``: the held-out fold itself is watched, as the paper did; this picks the epoch on the test
data and flatters the AUC, so the result is labelled ``"outer (optimistic: ...)"``.
``"none"``: ``max_epochs`` epochs, last weights; the curves' validation columns then show the held-out
fold for monitoring only.
With ``weight_averaging`` (an exponential moving average of the weights, decay per epoch) the averaged
weights are validated, early-stopped on and kept, while the optimiser goes on from the raw weights.

Engine
------
The :class:`~cardiopredict.training.module.ClassifierModule` (a LightningModule) is driven by a lean
loop: data held as tensors on the device, mini-batches by index (no DataLoader, no worker processes),
no logging or checkpoint callbacks. Measured against a plain PyTorch loop doing the same work
(``benchmarks/train_speed.py``, ``docs/BENCHMARKS.md``) this loop costs ~3 ms per epoch (AUCs,
bookkeeping) and ``lightning.Trainer.fit`` with logging, checkpoints and progress bar off ~5.5 ms:
+0.0 % and +4.3 % of the run time on ECGNet. The loop is kept for control rather than speed: early
stopping with best-weight restore on any split, per-epoch loss + AUC curves and seeded batch order in
a few readable lines.
``train_loss`` / ``train_auc`` are the running values over each epoch's mini-batches (training mode,
dropout active, as Keras and Lightning report them), which avoids a second pass over the training data.

Reproducibility: fold ``k`` uses the seed ``SeedSequence([config.seed, k])`` for weight initialisation,
dropout, batch order and the inner split, so the same seed gives the same out-of-fold scores on the
same machine (same thread count and library versions).
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
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from torch import Tensor

from cardiopredict.config import TrainingConfig
from cardiopredict.errors import ConfigError, InputError, InsufficientDataError
from cardiopredict.training._cv_inputs import _check_classes, _inner_split, _validate
from cardiopredict.training.artifacts import (
    FORMAT,
    MODEL_JSON,
    fold_file,
    save_fold_weights,
    write_model_json,
)
from cardiopredict.training.module import ClassifierModule, resolve_model_kwargs

EARLY_STOPPING_LABELS = {
    "inner": "inner",
    "outer": "outer (optimistic: stopped on the test fold, as in the paper)",
    "none": "none",
}
CURVE_COLUMNS = ["fold", "epoch", "train_loss", "val_loss", "train_auc", "val_auc"]
MODEL_JSON_KEYS = (
    "format", "model", "model_kwargs", "n_classes", "training", "early_stopping", "n_folds", "best_epochs",
    "folds", "torch_version",
)  # fmt: skip
_EVAL_BATCH = 512


@dataclass
class CVResult:
    """Outcome of :func:`run_cv`.

    Attributes
    ----------
    oof_scores : ndarray
        Out-of-fold probabilities: ``(n,)`` P(class 1) when ``n_classes == 2``, else ``(n, n_classes)``.
    folds : ndarray of int, shape (n,)
        Fold of each row.
    curves : DataFrame
        One row per fold and epoch: ``fold, epoch, train_loss, val_loss, train_auc, val_auc``.
    best_epochs : list of int
        Epoch (1-based) whose weights each fold model kept, in fold order.
    runtime_s : float
        Wall time of the whole cross-validation (s).
    early_stopping : str
        ``"inner"``, ``"outer (optimistic: ...)"`` or ``"none"``.
    fold_patients : list of dict
        Per fold: ``fit_patients`` (trained on), ``val_patients`` (inner early-stopping split; empty
        otherwise) and ``test_patients`` (scored), as written to ``model.json``.
    """

    oof_scores: np.ndarray
    folds: np.ndarray
    curves: pd.DataFrame
    best_epochs: list[int]
    runtime_s: float
    early_stopping: str
    fold_patients: list[dict[str, list[str]]] = field(default_factory=list)


def make_folds(y: np.ndarray, groups: Sequence[Any] | np.ndarray, *, n_folds: int, seed: int) -> np.ndarray:
    """Assign each row a fold, stratified by label and grouped by patient.

    Parameters
    ----------
    y : ndarray of shape (n,)
        Class label per row.
    groups : sequence of shape (n,)
        Patient id per row; all rows of a patient land in the same fold.
    n_folds : int
        Number of folds (>= 2).
    seed : int
        Seeds the shuffling of ``StratifiedGroupKFold``.

    Returns
    -------
    ndarray of int, shape (n,)
        Fold index in ``0 .. n_folds - 1``.

    Raises
    ------
    InsufficientDataError
        Fewer than two classes, or a class with fewer patients than folds.
    """
    y = np.asarray(y)
    groups = np.asarray(groups)
    if y.ndim != 1 or groups.shape != y.shape:
        raise InputError(
            f"y has shape {y.shape} and groups {groups.shape}; give one label and one patient id per row."
        )
    if n_folds < 2:
        raise ConfigError(f"n_folds={n_folds}: cross-validation needs at least 2 folds.")
    classes = np.unique(y)
    patients_per_class = {cls.item(): len(np.unique(groups[y == cls])) for cls in classes}
    if len(classes) < 2:
        raise InsufficientDataError(
            f"all {len(y)} rows have label {classes.tolist()}; classification needs at least two classes."
        )
    too_few = {cls: count for cls, count in patients_per_class.items() if count < n_folds}
    if too_few:
        raise InsufficientDataError(
            f"patients per class {patients_per_class}: classes {sorted(too_few)} have fewer patients than "
            f"n_folds={n_folds}, so some fold would lack them. Use at most "
            f"{min(patients_per_class.values())} folds or add patients."
        )
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    folds = np.full(len(y), -1, dtype=int)
    for k, (_, test) in enumerate(splitter.split(np.zeros(len(y)), y, groups)):
        folds[test] = k
    empty = sorted(set(range(n_folds)) - set(folds.tolist()))
    if empty:
        raise InsufficientDataError(f"folds {empty} received no patients; use fewer folds or add patients.")
    return folds


def run_cv(
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    patient_ids: Sequence[str],
    model: str,
    model_kwargs: Mapping[str, Any],
    config: TrainingConfig,
    n_classes: int = 2,
    out_dir: str | Path | None = None,
    progress: bool = False,
    model_json_extra: Mapping[str, Any] | None = None,
) -> CVResult:
    """Cross-validate the registered network ``model`` on patient-level folds.

    Parameters
    ----------
    inputs : mapping of str to ndarray
        Network inputs, first axis = rows (patients), e.g. ``{"ecg": (n, 12, 250)}`` float32 mV;
        scalar inputs ``(n, n_scalars)`` may hold NaN (the network imputes), ECG arrays may not.
    y : ndarray of int, shape (n,)
        Class labels in ``0 .. n_classes - 1``.
    folds : ndarray of int, shape (n,)
        Fold per row, e.g. from :func:`make_folds`.
    patient_ids : sequence of str, length n
        Stored per fold in ``model.json``.
    model : str
        Registry name (``"ecgnet"``, ``"ecgcomposite"``, ...).
    model_kwargs : mapping
        Builder keyword arguments; ``n_outputs`` is filled in from ``n_classes`` when absent, and
        ``model.json`` stores every builder argument (defaults included), so later changes of a
        default never change how a saved model is rebuilt.
    config : TrainingConfig
        Learning rate, batch size, epochs, patience, early stopping mode, seed, device.
    n_classes : int
        2: binary (one logit, BCE); k > 2: softmax cross-entropy.
    out_dir : path, optional
        Where to save ``fold<k>.safetensors`` and ``model.json`` (written last).
    progress : bool
        Show a progress bar (one step per epoch).
    model_json_extra : mapping, optional
        Extra top-level keys for ``model.json`` (e.g. the input specification).

    Returns
    -------
    CVResult
    """
    started = time.perf_counter()
    arrays, y, folds = _validate(inputs, y, folds, patient_ids, n_classes)
    kwargs = resolve_model_kwargs(model_kwargs, n_classes=n_classes, model_name=model)
    extra = _model_json_extra(model_json_extra)
    device = resolve_device(config.device)
    tensors = {key: torch.from_numpy(array).to(device) for key, array in arrays.items()}
    labels = torch.from_numpy(y).to(device)
    pids = np.asarray([str(pid) for pid in patient_ids])
    fold_ids = np.unique(folds).tolist()
    oof = np.full((len(y),) if n_classes == 2 else (len(y), n_classes), np.nan)
    out = _unfinished_model_dir(out_dir)

    bar = _Progress(progress, total=len(fold_ids) * config.max_epochs, name=model)
    curves: list[dict[str, float]] = []
    best_epochs: list[int] = []
    fold_patients: list[dict[str, list[str]]] = []
    try:
        for k in fold_ids:
            fold_seed = int(np.random.SeedSequence([config.seed, int(k)]).generate_state(1)[0])
            fit_rows, val_rows, test_rows = _fold_rows(k, folds, y, pids, n_classes, config, fold_seed)
            bar.describe(f"{model} fold {k + 1}/{len(fold_ids)}")
            module, history, best_epoch = _train_fold(
                model, kwargs, n_classes, config, arrays, tensors, labels, fit_rows, val_rows, fold_seed, bar
            )
            curves.extend({"fold": int(k), **row} for row in history)
            best_epochs.append(best_epoch)
            oof[test_rows] = _predict(module, tensors, test_rows)
            fold_patients.append(_patients_of(pids, fit_rows, val_rows, test_rows, config.early_stopping))
            if out is not None:
                save_fold_weights(module.model, out / fold_file(int(k)))
    finally:
        bar.close()

    result = CVResult(
        oof_scores=oof,
        folds=folds,
        curves=pd.DataFrame(curves, columns=CURVE_COLUMNS),
        best_epochs=best_epochs,
        runtime_s=round(time.perf_counter() - started, 3),
        early_stopping=EARLY_STOPPING_LABELS[config.early_stopping],
        fold_patients=fold_patients,
    )
    if out is not None:
        _write_model_json(out, model, kwargs, n_classes, config, result, fold_ids, extra)
    return result


def resolve_device(device: str) -> torch.device:
    """``"cpu"``, ``"cuda"``, ``"cuda:<i>"`` or ``"auto"`` (CUDA when available) → ``torch.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ConfigError(f"device={device!r}: use 'cpu', 'cuda', 'cuda:<index>' or 'auto'.") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but CUDA is not available here; use device='cpu' or 'auto'.")
    if resolved.type not in ("cpu", "cuda"):
        raise ConfigError(f"device={device!r}: use 'cpu', 'cuda', 'cuda:<index>' or 'auto'.")
    return resolved


def auc_of(y: np.ndarray, proba: np.ndarray, n_classes: int) -> float:
    """ROC AUC (binary) or macro one-vs-rest AUC (multiclass); NaN when a class is absent."""
    if len(np.unique(y)) < n_classes:
        return float("nan")
    if n_classes == 2:
        return float(roc_auc_score(y, proba))
    return float(roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=list(range(n_classes))))


# --- internals -------------------------------------------------------------------------------


def _model_json_extra(model_json_extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """The extra ``model.json`` keys as a dict; refuse keys that :func:`run_cv` writes itself."""
    extra = dict(model_json_extra or {})
    clash = sorted(set(MODEL_JSON_KEYS) & set(extra))
    if clash:
        raise ConfigError(
            f"model_json_extra keys {clash} clash with keys run_cv writes to model.json; rename them."
        )
    return extra


def _unfinished_model_dir(out_dir: str | Path | None) -> Path | None:
    """Create ``out_dir`` (when given) and remove its ``model.json``, which marks it as finished."""
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / MODEL_JSON).unlink(missing_ok=True)  # a directory without model.json is unfinished
    return out


def _fold_rows(
    k: int,
    folds: np.ndarray,
    y: np.ndarray,
    pids: np.ndarray,
    n_classes: int,
    config: TrainingConfig,
    fold_seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows fold ``k`` fits on, watches for early stopping, and scores: ``(fit, val, test)``."""
    test_rows = np.flatnonzero(folds == k)
    train_rows = np.flatnonzero(folds != k)
    _check_classes(y[train_rows], n_classes, f"training folds of fold {k}")
    if config.early_stopping == "inner":
        fit_rows, val_rows = _inner_split(train_rows, y, pids, config.inner_val_fraction, fold_seed, k)
    else:
        fit_rows, val_rows = train_rows, test_rows
    return fit_rows, val_rows, test_rows


def _patients_of(
    pids: np.ndarray, fit_rows: np.ndarray, val_rows: np.ndarray, test_rows: np.ndarray, early_stopping: str
) -> dict[str, list[str]]:
    """A fold's patients as written to ``model.json`` (``val_patients`` only for inner early stopping)."""
    return {
        "fit_patients": pids[fit_rows].tolist(),
        "val_patients": pids[val_rows].tolist() if early_stopping == "inner" else [],
        "test_patients": pids[test_rows].tolist(),
    }


def _train_fold(
    model_name: str,
    kwargs: dict[str, Any],
    n_classes: int,
    config: TrainingConfig,
    arrays: dict[str, np.ndarray],
    tensors: dict[str, Tensor],
    labels: Tensor,
    fit_rows: np.ndarray,
    val_rows: np.ndarray,
    fold_seed: int,
    bar: _Progress,
) -> tuple[ClassifierModule, list[dict[str, float]], int]:
    device = labels.device
    module = _new_module(model_name, kwargs, n_classes, config, arrays, fit_rows, fold_seed, device)
    keys = _input_keys(module, tensors)
    optimizer = module.configure_optimizers()
    generator = torch.Generator().manual_seed(fold_seed)
    fit_index = torch.from_numpy(fit_rows).to(device)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, waited = float("inf"), 0, None, 0
    average: dict[str, Tensor] | None = None
    for epoch in range(1, config.max_epochs + 1):
        module.train()
        order = fit_index[torch.randperm(len(fit_rows), generator=generator).to(device)]
        loss_sum, train_proba, y_fit_np = _train_epoch(
            module, optimizer, tensors, labels, keys, order, config
        )
        raw, average = _step_average(module, average, config.weight_averaging)
        val_loss, val_auc = _evaluate(module, tensors, labels, val_rows, keys)
        if raw is not None:
            module.model.load_state_dict(raw)  # training goes on from the raw weights
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(loss_sum.item()) / len(fit_rows),
                "val_loss": val_loss,
                "train_auc": auc_of(y_fit_np, train_proba, n_classes),
                "val_auc": val_auc,
            }
        )
        bar.advance(1)
        if config.early_stopping == "none":
            best_epoch, best_state = epoch, average
        elif val_loss < best_loss:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = average if average is not None else _state_copy(module.model)
        else:
            waited += 1
            if waited >= config.patience:
                bar.advance(config.max_epochs - epoch)
                break
    if best_state is not None:
        module.model.load_state_dict(best_state)
    module.eval()
    return module, history, best_epoch


def _state_copy(model: torch.nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _step_average(
    module: ClassifierModule, average: dict[str, Tensor] | None, decay: float
) -> tuple[dict[str, Tensor] | None, dict[str, Tensor] | None]:
    """With ``decay`` > 0: fold this epoch's weights into the moving ``average`` and load it into the
    module for validation; returns ``(raw weights to restore, new average)``. Off: ``(None, None)``."""
    if decay == 0:
        return None, None
    raw = _state_copy(module.model)
    if average is None:
        average = dict(raw)  # the tensors are shared, never written in place
    else:  # a new dict each epoch: an earlier one may be kept as the best
        average = {
            name: decay * average[name] + (1 - decay) * value if value.is_floating_point() else value
            for name, value in raw.items()
        }
    module.model.load_state_dict(average)
    return raw, average


def _new_module(
    model_name: str,
    kwargs: dict[str, Any],
    n_classes: int,
    config: TrainingConfig,
    arrays: dict[str, np.ndarray],
    fit_rows: np.ndarray,
    fold_seed: int,
    device: torch.device,
) -> ClassifierModule:
    """A freshly seeded module, its preprocessing fitted on the ``fit_rows``, on ``device``."""
    torch.manual_seed(fold_seed)
    module = ClassifierModule(model_name, kwargs, n_classes=n_classes, learning_rate=config.learning_rate)
    fit_preprocessing = getattr(module.model, "fit_preprocessing", None)
    if fit_preprocessing is not None:
        fit_preprocessing({key: array[fit_rows] for key, array in arrays.items()})
    module.to(device)
    in_training_layout(module.model)
    return module


def in_training_layout(model: torch.nn.Module) -> torch.nn.Module:
    """Put ``model`` (in place) into the memory layout it names as ``memory_format``, if any, and return it.

    The ECG networks train channels-last (faster on CPU); the function is the same, only the float
    rounding differs. Networks that name no layout are left as they are.
    """
    layout = getattr(model, "memory_format", None)
    return model if layout is None else model.to(memory_format=layout)


def _train_epoch(
    module: ClassifierModule,
    optimizer: Any,
    tensors: dict[str, Tensor],
    labels: Tensor,
    keys: list[str],
    order: Tensor,
    config: TrainingConfig,
) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """One pass over ``order`` in mini-batches: summed loss, running probabilities and their labels."""
    loss_sum = torch.zeros((), device=labels.device)
    batch_logits, batch_labels = [], []
    for start in range(0, len(order), config.batch_size):
        index = order[start : start + config.batch_size]
        batch_y = labels.index_select(0, index)
        loss, logits = module.step(({key: tensors[key].index_select(0, index) for key in keys}, batch_y))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(index)
        batch_logits.append(logits)
        batch_labels.append(batch_y)
    with torch.no_grad():
        train_proba = module.probabilities(torch.cat(batch_logits)).cpu().numpy()
    return loss_sum, train_proba, torch.cat(batch_labels).cpu().numpy()


def _evaluate(
    module: ClassifierModule, tensors: dict[str, Tensor], labels: Tensor, rows: np.ndarray, keys: list[str]
) -> tuple[float, float]:
    if len(rows) == 0:
        return float("nan"), float("nan")
    index = torch.from_numpy(rows).to(labels.device)
    logits = _logits(module, tensors, index, keys)
    y = labels.index_select(0, index)
    with torch.inference_mode():
        loss = float(module.loss(logits, y).item())
        proba = module.probabilities(logits).cpu().numpy()
    value = loss if np.isfinite(loss) else float("inf")
    return value, auc_of(y.cpu().numpy(), proba, module.n_classes)


def _predict(module: ClassifierModule, tensors: dict[str, Tensor], rows: np.ndarray) -> np.ndarray:
    index = torch.from_numpy(rows).to(next(iter(tensors.values())).device)
    logits = _logits(module, tensors, index, _input_keys(module, tensors))
    with torch.inference_mode():
        return module.probabilities(logits).cpu().numpy().astype(np.float64)


def _logits(module: ClassifierModule, tensors: dict[str, Tensor], index: Tensor, keys: list[str]) -> Tensor:
    module.eval()
    with torch.inference_mode():
        chunks = [
            module({key: tensors[key].index_select(0, index[start : start + _EVAL_BATCH]) for key in keys})
            for start in range(0, len(index), _EVAL_BATCH)
        ]
    return torch.cat(chunks)


def _input_keys(module: ClassifierModule, tensors: Mapping[str, Tensor]) -> list[str]:
    keys = getattr(module.model, "input_keys", None)
    return list(keys) if keys else list(tensors)


def _write_model_json(
    out: Path,
    model: str,
    kwargs: dict[str, Any],
    n_classes: int,
    config: TrainingConfig,
    result: CVResult,
    fold_ids: list[int],
    extra: dict[str, Any],
) -> None:
    document: dict[str, Any] = {
        "format": FORMAT,
        "model": model,
        "model_kwargs": kwargs,
        "n_classes": n_classes,
        "training": config.to_dict(),
        "early_stopping": result.early_stopping,
        "n_folds": len(fold_ids),
        "best_epochs": result.best_epochs,
        "folds": [
            {"fold": int(k), "file": fold_file(int(k)), "best_epoch": epoch, **patients}
            for k, epoch, patients in zip(fold_ids, result.best_epochs, result.fold_patients, strict=True)
        ],
        "torch_version": torch.__version__,
    }
    assert set(document) == set(MODEL_JSON_KEYS)
    document.update(extra)
    write_model_json(out, document)


class _Progress:
    """A rich progress bar, or nothing when disabled."""

    def __init__(self, enabled: bool, *, total: int, name: str) -> None:
        self._progress = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
            )
            self._progress.start()
            self._task = self._progress.add_task(name, total=total)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def advance(self, steps: int) -> None:
        if self._progress is not None and steps > 0:
            self._progress.advance(self._task, steps)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
