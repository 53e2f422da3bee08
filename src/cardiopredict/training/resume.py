"""Cross-validated training of one study model that a re-run after a kill can reuse.

A training is identified by a fingerprint of its exact input arrays, labels, folds and settings;
training is seeded, so two trainings with the same fingerprint give the same models. A finished one
leaves ``models/<key>/``, ``curves/<key>.csv`` and, written last, ``cv/<key>.npz``.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_bytes, atomic_write_csv, to_jsonable
from cardiopredict.config import TrainingConfig
from cardiopredict.training.crossval import run_cv

__all__ = ["TrainedCV", "cross_validate", "cv_signature"]


def cv_signature(
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    model: str,
    model_kwargs: Mapping[str, Any],
    training: Mapping[str, Any],
    n_classes: int,
    input_version: str = "",
) -> str:
    """Fingerprint of one cross-validated training: the exact input arrays, labels, folds and settings.

    ``input_version`` names the version of the code that built the inputs (a change the arrays
    themselves would not show, e.g. a new cache layout).
    """
    digest = hashlib.sha256()
    for key in sorted(inputs):
        array = np.ascontiguousarray(inputs[key])
        digest.update(f"{key}{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    for array in (np.asarray(y, dtype=np.int64), np.asarray(folds, dtype=np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    settings = {"model": model, "kwargs": model_kwargs, "training": training, "n_classes": n_classes}
    digest.update(json.dumps(to_jsonable(settings), sort_keys=True).encode())
    digest.update(input_version.encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class TrainedCV:
    """Out-of-fold scores, per-epoch curves and early-stopping label of one model of a study."""

    oof_scores: np.ndarray
    curves: pd.DataFrame
    early_stopping: str
    reused: bool


def _load_finished(out: Path, key: str, signature: str) -> TrainedCV | None:
    """The finished training with this fingerprint, or None (a damaged record means: train again)."""
    record, curves = out / "cv" / f"{key}.npz", out / "curves" / f"{key}.csv"
    if not (record.is_file() and curves.is_file() and (out / "models" / key / "model.json").is_file()):
        return None
    try:
        with np.load(record, allow_pickle=False) as data:
            if str(data["signature"]) != signature:
                return None
            scores, early_stopping = np.array(data["oof_scores"]), str(data["early_stopping"])
        return TrainedCV(scores, pd.read_csv(curves), early_stopping, reused=True)
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return None


def _save_finished(out: Path, key: str, signature: str, result: TrainedCV) -> None:
    """Record a finished training (written last, atomically, so a killed run never looks finished)."""
    atomic_write_csv(out / "curves" / f"{key}.csv", result.curves)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        signature=np.array(signature),
        oof_scores=np.asarray(result.oof_scores, dtype=float),
        early_stopping=np.array(result.early_stopping),
    )
    atomic_write_bytes(out / "cv" / f"{key}.npz", buffer.getvalue())


def cross_validate(
    out: Path,
    key: str,
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    patient_ids: Sequence[str],
    model: str,
    model_kwargs: Mapping[str, Any],
    training: TrainingConfig,
    n_classes: int = 2,
    resume: bool = True,
    progress: bool = False,
    model_json_extra: Mapping[str, Any] | None = None,
    input_version: str = "",
) -> TrainedCV:
    """Train one model of a study by cross-validation, or reuse a finished identical training.

    Writes ``models/<key>/`` (fold weights + ``model.json``), ``curves/<key>.csv`` and, last,
    ``cv/<key>.npz``. With ``resume`` a re-run after a kill retrains only what did not finish.
    """
    signature = cv_signature(
        inputs,
        y,
        folds,
        model=model,
        model_kwargs=model_kwargs,
        training=training.to_dict(),
        n_classes=n_classes,
        input_version=input_version,
    )
    if resume and (finished := _load_finished(out, key, signature)) is not None:
        return finished
    result = run_cv(
        dict(inputs),
        y,
        folds,
        patient_ids=list(patient_ids),
        model=model,
        model_kwargs=dict(model_kwargs),
        config=training,
        n_classes=n_classes,
        out_dir=out / "models" / key,
        progress=progress,
        model_json_extra=dict(model_json_extra or {}),
    )
    trained = TrainedCV(np.asarray(result.oof_scores), result.curves, result.early_stopping, reused=False)
    _save_finished(out, key, signature, trained)
    return trained
