"""Discrimination and calibration metrics for out-of-fold predictions.

Everything here works on plain arrays (one row per patient) or on ``predictions.csv`` read as a
DataFrame (``patient_id``, ``fold``, ``y_true``, ``score_<name>``...), so every number of a run can be
recomputed from that file alone.

* AUC is the Mann–Whitney statistic computed from mid-ranks (ties count one half), identical to
  :func:`sklearn.metrics.roc_auc_score`; it is ``nan`` when only one class is present.
* :func:`bootstrap_auc_ci` resamples patients with replacement *within each class* (stratified, so
  every replicate keeps the cohort's class counts) and returns the percentile interval.
* :func:`delong_test` is DeLong's test for two correlated AUCs (DeLong, DeLong & Clarke-Pearson 1988)
  computed with the fast mid-rank algorithm of Sun & Xu (IEEE Signal Process. Lett. 21:1389, 2014).

Values meant for ``metrics.json`` are plain Python floats/ints; undefined values are ``None`` in the
summary dictionaries so that ``json.dumps(..., allow_nan=False)`` accepts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cardiopredict.errors import ConfigError, InputError

__all__ = [
    "accuracy_score_at",
    "auc_score",
    "bootstrap_auc_ci",
    "brier_score",
    "delong_test",
    "multiclass_summary",
    "reliability_curve",
    "summarize",
]


# --- validation ------------------------------------------------------------------------------
def _labels(y: Any, *, name: str = "y") -> np.ndarray:
    array = np.asarray(y)
    if array.ndim != 1:
        raise InputError(f"{name} must be 1-D (one label per patient); got shape {array.shape}.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise InputError(
            f"{name} holds {int((~np.isfinite(array)).sum())} missing label(s); drop those rows."
        )
    values = set(np.unique(array).tolist())
    if not values <= {0, 1}:
        raise InputError(f"{name} must hold binary labels 0/1; got values {sorted(values)[:10]}.")
    return array.astype(int)


def _scores(score: Any, n: int, *, name: str = "score") -> np.ndarray:
    array = np.asarray(score, dtype=float)
    if array.shape != (n,):
        raise InputError(f"{name} must have shape ({n},) like the labels; got {array.shape}.")
    bad = ~np.isfinite(array)
    if bad.any():
        raise InputError(
            f"{name} holds {int(bad.sum())} non-finite value(s) "
            f"(first at row {int(np.flatnonzero(bad)[0])}); "
            "every patient needs a score — fix or drop those rows before scoring."
        )
    return array


def _plain(value: float) -> float | None:
    """A JSON-safe float: ``None`` for nan/inf."""
    value = float(value)
    return value if np.isfinite(value) else None


# --- AUC and friends -------------------------------------------------------------------------
def auc_score(y: Any, score: Any) -> float:
    """Area under the ROC curve (Mann–Whitney, ties count one half).

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
        True labels, one per patient.
    score : array-like of shape (n,)
        Any score where higher means "more likely 1" (probability, logit, 0/1 rule).

    Returns
    -------
    float
        AUC in [0, 1]; ``nan`` when ``y`` holds only one class.
    """
    y = _labels(y)
    score = _scores(score, len(y))
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = stats.rankdata(score)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy_score_at(y: Any, score: Any, threshold: float) -> float:
    """Fraction of patients with ``(score >= threshold) == y``.

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
    score : array-like of shape (n,)
    threshold : float
        Scores at or above it are called positive.
    """
    y = _labels(y)
    score = _scores(score, len(y))
    if len(y) == 0:
        return float("nan")
    return float(np.mean((score >= threshold).astype(int) == y))


def _auc_rows(n_pos: int, scores: np.ndarray) -> np.ndarray:
    """AUC of each row of ``scores`` (r, n_pos + n_neg); the first ``n_pos`` columns are positives."""
    m = n_pos
    n = scores.shape[1] - m
    ranks = stats.rankdata(scores, axis=1)
    return (ranks[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)


def bootstrap_auc_ci(
    y: Any,
    score: Any,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the AUC.

    Patients (rows) are resampled with replacement separately among positives and negatives, so each
    replicate has the cohort's class counts (a stratified, patient-level bootstrap: one row is one
    patient in ``predictions.csv``).

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
    score : array-like of shape (n,)
    n_boot : int
        Number of replicates.
    seed : int
        Seed of the :class:`numpy.random.Generator` drawing the replicates.
    level : float
        Coverage in (0, 1).

    Returns
    -------
    (lo, hi) : tuple of float
        ``(nan, nan)`` when ``y`` holds one class only.
    """
    if n_boot < 1:
        raise ConfigError(f"n_boot={n_boot}: use at least 1 bootstrap replicate (2000 is the default).")
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level={level}: the coverage must be strictly between 0 and 1, e.g. 0.95.")
    y = _labels(y)
    score = _scores(score, len(y))
    positives, negatives = score[y == 1], score[y == 0]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    aucs = np.empty(n_boot)
    chunk = max(1, 2_000_000 // len(y))  # bound memory of the (replicates, patients) matrix
    for start in range(0, n_boot, chunk):
        r = min(chunk, n_boot - start)
        pos = positives[rng.integers(0, len(positives), size=(r, len(positives)))]
        neg = negatives[rng.integers(0, len(negatives), size=(r, len(negatives)))]
        aucs[start : start + r] = _auc_rows(len(positives), np.concatenate([pos, neg], axis=1))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(aucs, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def _delong_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs and DeLong structural components of ``scores`` (k, n) — Sun & Xu's fast algorithm.

    Returns ``aucs`` (k,), ``v10`` (k, m) over positives and ``v01`` (k, n_neg) over negatives.
    """
    positives = scores[:, y == 1]
    negatives = scores[:, y == 0]
    m, n = positives.shape[1], negatives.shape[1]
    tx = stats.rankdata(positives, axis=1)  # mid-ranks within the positives
    ty = stats.rankdata(negatives, axis=1)  # mid-ranks within the negatives
    tz = stats.rankdata(np.concatenate([positives, negatives], axis=1), axis=1)  # over everyone
    aucs = (tz[:, :m].sum(axis=1) - m * (m + 1) / 2) / (m * n)
    v10 = (tz[:, :m] - tx) / n  # for each positive: fraction of negatives it beats (ties 1/2)
    v01 = 1.0 - (tz[:, m:] - ty) / m  # for each negative: fraction of positives that beat it
    return aucs, v10, v01


def delong_test(y: Any, score_a: Any, score_b: Any) -> float:
    """Two-sided p-value of DeLong's test that two correlated AUCs (same patients) are equal.

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
    score_a, score_b : array-like of shape (n,)
        Two scores of the same patients (e.g. the CNN and the guideline rule).

    Returns
    -------
    float
        p in [0, 1]; 1.0 when the two scores rank every pair identically (zero variance and zero
        difference); ``nan`` when ``y`` holds one class only or fewer than two of a class (the
        variance is then undefined).
    """
    y = _labels(y)
    a = _scores(score_a, len(y), name="score_a")
    b = _scores(score_b, len(y), name="score_b")
    m = int(y.sum())
    n = len(y) - m
    if m < 2 or n < 2:
        return float("nan")
    aucs, v10, v01 = _delong_components(y, np.vstack([a, b]))
    s10 = np.cov(v10)
    s01 = np.cov(v01)
    contrast = np.array([1.0, -1.0])
    variance = float(contrast @ (s10 / m + s01 / n) @ contrast)
    difference = float(aucs[0] - aucs[1])
    if variance <= 1e-15:
        return 1.0 if abs(difference) < 1e-12 else 0.0
    z = difference / np.sqrt(variance)
    return float(2.0 * stats.norm.sf(abs(z)))


# --- calibration -----------------------------------------------------------------------------
def _probabilities(p: Any, n: int) -> np.ndarray:
    p = _scores(p, n, name="p")
    if (p < 0).any() or (p > 1).any():
        raise InputError(
            f"p must be probabilities in [0, 1]; got range [{p.min():.3g}, {p.max():.3g}]. "
            "Pass predicted probabilities, not logits or rule scores."
        )
    return p


def brier_score(y: Any, p: Any) -> float:
    """Mean squared difference between predicted probability and outcome (lower is better).

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
    p : array-like of shape (n,), probabilities in [0, 1]
    """
    y = _labels(y)
    p = _probabilities(p, len(y))
    return float(np.mean((p - y) ** 2)) if len(y) else float("nan")


def reliability_curve(y: Any, p: Any, *, n_bins: int = 10) -> pd.DataFrame:
    """Observed event rate against mean predicted probability in equal-width bins of [0, 1].

    Parameters
    ----------
    y : array-like of shape (n,), {0, 1}
    p : array-like of shape (n,), probabilities in [0, 1]
    n_bins : int
        Number of equal-width bins; empty bins are left out.

    Returns
    -------
    DataFrame
        One row per non-empty bin: ``bin_lower``, ``bin_upper``, ``n``, ``mean_predicted``,
        ``fraction_positive``.
    """
    if n_bins < 1:
        raise ConfigError(f"n_bins={n_bins}: use at least one bin (10 is the default).")
    y = _labels(y)
    p = _probabilities(p, len(y))
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, n_bins - 1)
    rows = []
    for k in range(n_bins):
        inside = index == k
        if inside.any():
            rows.append(
                {
                    "bin_lower": float(edges[k]),
                    "bin_upper": float(edges[k + 1]),
                    "n": int(inside.sum()),
                    "mean_predicted": float(p[inside].mean()),
                    "fraction_positive": float(y[inside].mean()),
                }
            )
    columns = ["bin_lower", "bin_upper", "n", "mean_predicted", "fraction_positive"]
    return pd.DataFrame(rows, columns=columns)


# --- summaries for metrics.json --------------------------------------------------------------
def summarize(
    predictions: pd.DataFrame,
    column: str,
    *,
    threshold: float | None = 0.5,
    seed: int = 0,
    n_boot: int = 2000,
) -> dict[str, Any]:
    """Table-1 block of one score column of ``predictions.csv``.

    Parameters
    ----------
    predictions : DataFrame
        Needs ``fold``, ``y_true`` (0/1) and ``column``; one row per patient.
    column : str
        Score column, e.g. ``"score_combined"``.
    threshold : float or None
        Probability threshold for accuracy. ``None`` means the score is not a probability but a 0/1
        rule (e.g. QRS >= 150 ms + LBBB): accuracy is then that of ``score >= 0.5`` and no Brier
        score is computed.
    seed, n_boot : int
        Bootstrap of the pooled AUC's 95 % CI (:func:`bootstrap_auc_ci`).

    Returns
    -------
    dict
        ``{"folds": [{"fold", "auc", "accuracy"}], "auc_mean", "auc_sd", "auc_pooled", "auc_ci95":
        [lo, hi], "brier"}``. ``auc_mean``/``auc_sd`` (SD with ddof=1, as in the paper's Table 2)
        are over the folds with a defined AUC; ``auc_pooled`` is the AUC of all out-of-fold scores
        together. Undefined values are ``None``.
    """
    missing = [c for c in ("fold", "y_true", column) if c not in predictions.columns]
    if missing:
        raise InputError(
            f"predictions lacks column(s) {missing}; it needs fold, y_true and the score column "
            f"(available: {list(predictions.columns)})."
        )
    y = _labels(predictions["y_true"].to_numpy(), name="y_true")
    score = _scores(predictions[column].to_numpy(), len(y), name=column)
    cut = 0.5 if threshold is None else float(threshold)
    folds = predictions["fold"].to_numpy()
    per_fold = []
    for fold in sorted(np.unique(folds).tolist()):
        rows = folds == fold
        per_fold.append(
            {
                "fold": int(fold),
                "auc": _plain(auc_score(y[rows], score[rows])),
                "accuracy": _plain(accuracy_score_at(y[rows], score[rows], cut)),
            }
        )
    fold_aucs = np.array([f["auc"] for f in per_fold if f["auc"] is not None], dtype=float)
    lo, hi = bootstrap_auc_ci(y, score, n_boot=n_boot, seed=seed)
    return {
        "folds": per_fold,
        "auc_mean": _plain(fold_aucs.mean()) if len(fold_aucs) else None,
        "auc_sd": _plain(fold_aucs.std(ddof=1)) if len(fold_aucs) > 1 else None,
        "auc_pooled": _plain(auc_score(y, score)),
        "auc_ci95": [_plain(lo), _plain(hi)],
        "brier": _plain(brier_score(y, score)) if threshold is not None else None,
    }


def multiclass_summary(y: Any, proba: Any, class_names: Sequence[str]) -> dict[str, Any]:
    """One-vs-rest and macro AUC, accuracy and confusion matrix of a k-class probability table.

    Parameters
    ----------
    y : array-like of shape (n,), int in [0, k)
        True class index per patient.
    proba : array-like of shape (n, k)
        Predicted class probabilities (rows need not sum exactly to 1; argmax is the prediction).
    class_names : sequence of str, length k

    Returns
    -------
    dict
        ``{"macro_auc", "auc_ovr": {name: auc}, "accuracy", "confusion_matrix": [[int]] (rows true,
        columns predicted), "class_names"}``; a class absent from ``y`` has AUC ``None`` and is left
        out of the macro mean.
    """
    names = [str(c) for c in class_names]
    k = len(names)
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y)
    if proba.ndim != 2 or proba.shape[1] != k or proba.shape[0] != len(y):
        raise InputError(
            f"proba must have shape (n_patients={len(y)}, n_classes={k}); got {proba.shape}. "
            "Pass one probability column per class name, in the same order."
        )
    if not np.isfinite(proba).all():
        raise InputError(
            f"proba holds {int((~np.isfinite(proba)).sum())} non-finite value(s); fix those rows."
        )
    if len(y) and (y.dtype.kind not in "iub" or y.min() < 0 or y.max() >= k):
        raise InputError(f"y must hold class indices 0..{k - 1}; got values {sorted(set(y.tolist()))[:10]}.")
    y = y.astype(int)
    auc_ovr = {name: _plain(auc_score((y == c).astype(int), proba[:, c])) for c, name in enumerate(names)}
    defined = [v for v in auc_ovr.values() if v is not None]
    predicted = proba.argmax(axis=1)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    return {
        "macro_auc": float(np.mean(defined)) if defined else None,
        "auc_ovr": auc_ovr,
        "accuracy": float(np.mean(predicted == y)) if len(y) else None,
        "confusion_matrix": confusion.tolist(),
        "class_names": names,
    }
