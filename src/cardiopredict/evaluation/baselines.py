"""Baselines the CNNs must beat, scored on the same patients and folds.

* :func:`guideline_rule_scores` — the CRT guideline rule: QRS duration >= 150 ms **and** LBBB.
* :func:`cv_logistic` — logistic regression on tabular covariates (e.g. QRS duration, LBBB, sex, LVEF).
* :func:`cv_fpca_logistic` — functional principal components of the 12-lead QRS window followed by
  logistic regression (the FPCD approach of the prior work the paper cites).

Every fitted step (imputation medians, standardisation, principal components, coefficients) is
fitted on the training folds only and applied to the held-out fold, so the out-of-fold scores are
honest estimates, comparable with the CNN's out-of-fold scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cardiopredict.errors import ConfigError, InputError, InsufficientDataError

__all__ = ["cv_fpca_logistic", "cv_logistic", "guideline_rule_scores"]

#: QRS-duration threshold of the guideline rule (ms); ESC 2021 / ACC-AHA class I for CRT with LBBB.
GUIDELINE_QRS_MS = 150.0


def guideline_rule_scores(qrs_ms: Any, lbbb: Any) -> np.ndarray:
    """The guideline rule as a 0/1 score: 1.0 when QRS >= 150 ms and LBBB is present, else 0.0.

    Parameters
    ----------
    qrs_ms : array-like of shape (n,), ms
        QRS duration per patient.
    lbbb : array-like of shape (n,), {0, 1} or bool
        Left bundle branch block present.

    Returns
    -------
    ndarray of shape (n,), float64
        1.0 / 0.0 per patient.

    Raises
    ------
    InputError
        When a value is missing (NaN) or ``lbbb`` is not 0/1: the rule cannot be applied to that
        patient, and calling it "negative" would silently bias the baseline. Fill the value (e.g.
        measured from the ECG by :func:`cardiopredict.ecg.measurements.measure`) or exclude the patient.
    """
    qrs = np.asarray(qrs_ms, dtype=float)
    block = np.asarray(lbbb, dtype=float)
    if qrs.ndim != 1 or block.shape != qrs.shape:
        raise InputError(
            "qrs_ms and lbbb must be 1-D arrays of the same length; "
            f"got shapes {qrs.shape} and {block.shape}."
        )
    for name, values in (("qrs_ms", qrs), ("lbbb", block)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise InputError(
                f"{name} is missing for {len(bad)} patient(s) (rows {bad[:10].tolist()}); the guideline "
                "rule needs both QRS duration and LBBB. Fill them (e.g. measured from the ECG) or exclude "
                "those patients."
            )
    odd = np.flatnonzero(~np.isin(block, (0.0, 1.0)))
    if len(odd):
        raise InputError(
            f"lbbb must be 0/1; rows {odd[:10].tolist()} hold {block[odd[:10]].tolist()}. Code LBBB as 1 "
            "(present) or 0 (absent)."
        )
    return ((qrs >= GUIDELINE_QRS_MS) & (block == 1.0)).astype(float)


def _check_cv(y: Any, folds: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y)
    folds = np.asarray(folds)
    if y.shape != (n,) or folds.shape != (n,):
        raise InputError(
            f"y and folds must have shape ({n},), one entry per row of the features; "
            f"got {y.shape} and {folds.shape}."
        )
    if not set(np.unique(y).tolist()) <= {0, 1}:
        raise InputError(f"y must hold binary labels 0/1; got {sorted(set(y.tolist()))[:10]}.")
    y = y.astype(int)
    for fold in np.unique(folds):
        train = y[folds != fold]
        if len(np.unique(train)) < 2:
            raise InsufficientDataError(
                f"The training folds for held-out fold {fold} hold only class {np.unique(train).tolist()}; "
                "a logistic regression needs both classes. Use fewer folds or stratified folds."
            )
    return y, folds


def _logistic(seed: int):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=5000, random_state=seed)


def cv_logistic(X: Any, y: Any, folds: Any, *, seed: int = 0) -> np.ndarray:
    """Out-of-fold probabilities of an L2 logistic regression on tabular covariates.

    Per held-out fold, a pipeline of median imputation (missing values allowed; a column missing in
    every training row is filled with 0), standardisation and ``LogisticRegression(C=1)`` is fitted on
    the other folds and scores the held-out fold.

    Parameters
    ----------
    X : array-like of shape (n, n_features)
        Covariates (NaN = missing), e.g. QRS duration (ms), LBBB (0/1), male sex (0/1), LVEF (%).
    y : array-like of shape (n,), {0, 1}
    folds : array-like of shape (n,), int
        Fold of each row (the same folds as the CNN).
    seed : int
        ``random_state`` of the solver.

    Returns
    -------
    ndarray of shape (n,)
        Probability of class 1 for every row, each from the model that did not see it.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise InputError(f"X must be 2-D (n_patients, n_features); got shape {X.shape}.")
    if np.isinf(X).any():
        raise InputError("X holds infinite values; use NaN for missing covariates.")
    y, folds = _check_cv(y, folds, len(X))
    scores = np.empty(len(y))
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        model = make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), _logistic(seed)
        )
        model.fit(X[train], y[train])
        scores[test] = model.predict_proba(X[test])[:, 1]
    return scores


def cv_multinomial_logistic(X: Any, y: Any, folds: Any, *, seed: int = 0) -> np.ndarray:
    """Out-of-fold class probabilities of a multinomial logistic regression (k >= 2 classes).

    As :func:`cv_logistic` (median imputation and standardisation fitted on the training folds only),
    with ``y`` holding class indices ``0 .. k-1``.

    Returns
    -------
    ndarray of shape (n, k)
        Row ``i`` holds the probabilities from the model that did not see row ``i``; a class absent
        from a training split gets probability 0 there.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(X, dtype=float)
    y, folds = np.asarray(y, dtype=int), np.asarray(folds)
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


def lvef_rule_scores(lvef_pct: Any, *, threshold_pct: float = 35.0) -> np.ndarray:
    """The ICD guideline rule as a score: 1.0 where LVEF <= ``threshold_pct``, else 0.0.

    Parameters
    ----------
    lvef_pct : array-like of shape (n,)
        Left-ventricular ejection fraction, %. Must be finite (a missing LVEF is an exclusion upstream).
    """
    lvef = np.asarray(lvef_pct, dtype=float)
    if not np.isfinite(lvef).all():
        raise InputError(
            f"lvef holds {int((~np.isfinite(lvef)).sum())} missing/non-finite value(s); the LVEF rule "
            "needs every patient's LVEF (exclude the patients without one)."
        )
    return (lvef <= threshold_pct).astype(float)


def cv_fpca_logistic(
    windows: Any,
    y: Any,
    folds: Any,
    *,
    n_components: int = 10,
    seed: int = 0,
) -> np.ndarray:
    """Out-of-fold probabilities of functional PCA of the 12-lead QRS followed by logistic regression.

    The 12 leads of a window are treated as one multivariate function on a common time grid: each
    patient's leads are concatenated into one vector (lead-major, ``12 * T`` values, mV, no per-lead
    rescaling, so high-amplitude leads weigh as much as they do on paper). On a regular grid with equal
    quadrature weights, functional PCA of such curves is ordinary PCA of these vectors (the component
    functions are the eigenvectors, up to the constant grid spacing). Per held-out fold, the mean curve
    and the first ``n_components`` components are fitted on the training windows only; the held-out
    windows are projected onto them, and the standardised component scores feed an L2 logistic
    regression fitted on the same training rows.

    Parameters
    ----------
    windows : array-like of shape (n, n_leads, T), mV
        QRS windows, e.g. 12 × 250 samples.
    y : array-like of shape (n,), {0, 1}
    folds : array-like of shape (n,), int
    n_components : int
        Principal components kept (must not exceed the smallest training set or ``n_leads * T``).
    seed : int
        ``random_state`` of the logistic-regression solver (the PCA is a deterministic full SVD).

    Returns
    -------
    ndarray of shape (n,)
        Probability of class 1 for every row, each from the model that did not see it.
    """
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    windows = np.asarray(windows, dtype=float)
    if windows.ndim != 3:
        raise InputError(f"windows must have shape (n_patients, n_leads, n_samples); got {windows.shape}.")
    if not np.isfinite(windows).all():
        bad = np.unique(np.argwhere(~np.isfinite(windows))[:, 0])
        raise InputError(
            f"windows of {len(bad)} patient(s) (rows {bad[:10].tolist()}) hold NaN/inf samples; "
            "exclude them or rebuild their QRS windows."
        )
    X = windows.reshape(len(windows), -1)
    y, folds = _check_cv(y, folds, len(X))
    smallest_train = min(int((folds != fold).sum()) for fold in np.unique(folds))
    if not 1 <= n_components <= min(smallest_train, X.shape[1]):
        raise ConfigError(
            f"n_components={n_components}: must be between 1 and {min(smallest_train, X.shape[1])} (the "
            f"smallest training set has {smallest_train} patients; a window has {X.shape[1]} samples). "
            "Lower n_components or use a larger cohort."
        )
    scores = np.empty(len(y))
    # One BLAS thread: the SVD of a (few hundred x 3000) matrix takes ~0.1 s on one core, whereas
    # multi-threaded BLAS on a shared, busy machine was measured to take 5-10 s for the same work.
    with threadpool_limits(limits=1, user_api="blas"):
        for fold in np.unique(folds):
            train, test = folds != fold, folds == fold
            model = make_pipeline(
                PCA(n_components=n_components, svd_solver="full"), StandardScaler(), _logistic(seed)
            )
            model.fit(X[train], y[train])
            scores[test] = model.predict_proba(X[test])[:, 1]
    return scores
