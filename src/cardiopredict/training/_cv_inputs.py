"""Checks of the inputs of cross-validation and the inner early-stopping split.

Used by :func:`cardiopredict.training.crossval.run_cv` and by the fold jobs
(:mod:`cardiopredict.training.fold_jobs`), which train every fold exactly as ``run_cv`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from cardiopredict.errors import InputError, InsufficientDataError


def _inner_split(
    train_rows: np.ndarray, y: np.ndarray, pids: np.ndarray, fraction: float, seed: int, fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training rows by patient, stratified, into ``(fit_rows, val_rows)``."""
    patients, first = np.unique(pids[train_rows], return_index=True)
    patient_labels = y[train_rows][first]
    try:
        _, val_patients = train_test_split(
            patients, test_size=fraction, stratify=patient_labels, random_state=seed % (2**32)
        )
    except ValueError as error:
        counts = dict(zip(*np.unique(patient_labels, return_counts=True), strict=True))
        raise InsufficientDataError(
            f"fold {fold}: cannot carve a stratified inner validation split ({fraction:.0%}) from the "
            f"training patients per class { ({int(c): int(n) for c, n in counts.items()}) }: {error}. Add "
            "patients, use fewer folds, or early_stopping='none'."
        ) from error
    in_val = np.isin(pids[train_rows], val_patients)
    return train_rows[~in_val], train_rows[in_val]


def _check_classes(y: np.ndarray, n_classes: int, where: str) -> None:
    """Raise when the labels ``y`` of a training set lack one of the ``n_classes`` classes."""
    present = np.unique(y)
    if len(present) < n_classes:
        raise InsufficientDataError(
            f"the {where} hold classes {present.tolist()} only, of {n_classes}; every class needs patients "
            "in every training set. Use fewer folds or add patients."
        )


def _validate(
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    patient_ids: Sequence[str],
    n_classes: int,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Check inputs, labels, folds and patient ids; return float32 arrays, int64 labels, int folds."""
    y = np.asarray(y)
    folds = np.asarray(folds)
    n = len(y)
    if y.ndim != 1 or n == 0:
        raise InputError(f"y has shape {y.shape}; give one integer label per patient.")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.equal(np.mod(y, 1), 0)):
        raise InputError(f"y holds non-integer labels {np.unique(y)[:5].tolist()}; encode classes as 0..k-1.")
    y = y.astype(np.int64)
    if y.min() < 0 or y.max() >= n_classes:
        raise InputError(
            f"y holds labels {np.unique(y).tolist()}; with n_classes={n_classes} use 0..{n_classes - 1}."
        )
    if folds.shape != y.shape or len(patient_ids) != n:
        raise InputError(
            f"y has {n} rows, folds {folds.shape[0] if folds.ndim else 0}, patient_ids {len(patient_ids)}; "
            "give one of each per patient."
        )
    if not np.issubdtype(folds.dtype, np.integer) or len(np.unique(folds)) < 2:
        raise InputError(
            f"folds holds {np.unique(folds)[:10].tolist()}; give integer folds, at least 2 distinct."
        )
    split = pd.Series(folds).groupby(np.asarray([str(pid) for pid in patient_ids])).nunique()
    if (split > 1).any():
        raise InputError(
            f"patients {split[split > 1].index[:5].tolist()} have rows in more than one fold; that leaks "
            "patients between training and test. Build folds with make_folds(y, patient_ids, ...)."
        )
    if not inputs:
        raise InputError("inputs is empty; give at least one array, e.g. {'ecg': windows}.")
    arrays: dict[str, np.ndarray] = {}
    for key, value in inputs.items():
        array = np.ascontiguousarray(value, dtype=np.float32)
        if len(array) != n:
            raise InputError(
                f"inputs[{key!r}] has {len(array)} rows but y has {n}; give one row per patient."
            )
        if array.ndim >= 3 and not np.isfinite(array).all():
            bad = sorted({int(i) for i in np.argwhere(~np.isfinite(array))[:, 0]})
            raise InputError(
                f"inputs[{key!r}] holds NaN/inf in rows {bad[:10]} (patients "
                f"{[str(patient_ids[i]) for i in bad[:10]]}); exclude or repair those ECGs first."
            )
        arrays[str(key)] = array
    return arrays, y, folds.astype(int)
