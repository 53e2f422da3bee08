"""Time-to-event metrics and the Cox baseline for risk scores (VA study, issue 13).

Conventions: ``time`` is the follow-up in days (event or censoring), ``event`` is 1 when the event (SCD,
cardiac arrest or sustained VT) was observed at ``time`` and 0 when the patient was censored then, and a
*higher score means higher risk*, i.e. an expected shorter time to event (the reverse of lifelines'
``concordance_index``, whose scores are predicted survival times).

* :func:`concordance_index_score` — Harrell's C-index with lifelines' handling of ties: a pair (i, j) is
  comparable when i had the event and either ``t_i < t_j``, or ``t_i == t_j`` and j was censored (a
  patient censored at an event time is taken to have survived it); pairs with tied times where both had
  the event are not comparable; tied scores count one half.
* :func:`time_dependent_auc_score` — the cumulative/dynamic AUC at a horizon τ with inverse-probability-
  of-censoring weights (Uno et al., JASA 2007;102:527-537; Hung & Chiang, Can J Stat 2010;38:8-26):
  cases are patients with the event by τ (``t_i <= τ``, ``event_i = 1``), controls those still event-free
  after τ (``t_j > τ``), and

      AUC(τ) = Σ_i Σ_j w_i 1(s_i > s_j) [+ ½ 1(s_i = s_j)] / (Σ_i w_i · n_controls),

  with ``w_i = 1 / Ĝ(t_i−)``, Ĝ the Kaplan–Meier estimate of the censoring distribution (censoring as
  the "event", observed events as censored) evaluated just before ``t_i``. The controls' weights,
  ``1 / Ĝ(τ)``, are one constant and cancel. Ĝ is fitted on the patients given (the scored fold or the
  pooled out-of-fold set). Without censoring before τ every weight is 1 and AUC(τ) is the ordinary AUC
  of "event by τ" against the score.
* :func:`cv_cox` — out-of-fold risk scores and event probabilities by a horizon from a penalised
  lifelines ``CoxPHFitter``; imputation, standardisation and the model are fitted on the training folds
  only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cardiopredict.errors import InputError, InsufficientDataError

__all__ = [
    "CoxPredictions",
    "censoring_survival",
    "concordance_index_score",
    "cv_cox",
    "time_dependent_auc_score",
]

_PAIR_CHUNK = 2048  # rows of the pair matrix held in memory at once


def _check_survival(time: Any, event: Any, *, name: str = "time") -> tuple[np.ndarray, np.ndarray]:
    time = np.asarray(time, dtype=float)
    event_in = np.asarray(event, dtype=float)
    if time.ndim != 1 or event_in.shape != time.shape:
        raise InputError(
            f"{name} and event must be 1-D arrays of the same length (one per patient); got shapes "
            f"{time.shape} and {event_in.shape}."
        )
    bad_event = np.flatnonzero(~np.isin(event_in, (0.0, 1.0)))
    if len(bad_event):
        raise InputError(
            f"event must be 0 (censored) or 1 (event observed); rows {bad_event[:10].tolist()} hold "
            f"{event_in[bad_event[:10]].tolist()}. Recode the event column as 0/1."
        )
    missing = np.flatnonzero(~np.isfinite(time))
    if len(missing):
        raise InputError(
            f"{name} is missing or infinite in rows {missing[:10].tolist()} where an event status is given; "
            "every patient with an event status needs its follow-up time (days), or drop the row."
        )
    negative = np.flatnonzero(time < 0)
    if len(negative):
        raise InputError(
            f"{name} is negative in rows {negative[:10].tolist()} ({time[negative[:10]].tolist()}); "
            "follow-up is counted in days from the scan and cannot be negative. Check the dates."
        )
    return time, event_in.astype(bool)


def _check_score(score: Any, n: int) -> np.ndarray:
    score = np.asarray(score, dtype=float)
    if score.shape != (n,):
        raise InputError(f"score must have shape ({n},), one per patient like time; got {score.shape}.")
    bad = np.flatnonzero(~np.isfinite(score))
    if len(bad):
        raise InputError(
            f"score holds non-finite values in rows {bad[:10].tolist()}; every patient needs a score."
        )
    return score


def concordance_index_score(time: Any, event: Any, score: Any) -> float:
    """Harrell's C-index of a risk score (higher score = higher risk = shorter time).

    Parameters
    ----------
    time : array-like of shape (n,), days
        Follow-up until the event or censoring, >= 0.
    event : array-like of shape (n,), {0, 1}
        1: the event was observed at ``time``; 0: censored at ``time``.
    score : array-like of shape (n,)
        Risk score (probability, logit, linear predictor, 0/1 rule).

    Returns
    -------
    float
        Concordant plus half the score-tied comparable pairs, over the comparable pairs (module
        docstring); equals ``lifelines.utils.concordance_index(time, -score, event)``. ``nan`` when no
        pair is comparable (e.g. no event).
    """
    time, event = _check_survival(time, event)
    score = _check_score(score, len(time))
    cases = np.flatnonzero(event)
    concordant = tied = pairs = 0.0
    for start in range(0, len(cases), _PAIR_CHUNK):
        i = cases[start : start + _PAIR_CHUNK]
        later = time[None, :] > time[i, None]
        censored_same = (time[None, :] == time[i, None]) & ~event[None, :]
        comparable = later | censored_same
        pairs += comparable.sum()
        concordant += (comparable & (score[i, None] > score[None, :])).sum()
        tied += (comparable & (score[i, None] == score[None, :])).sum()
    if pairs == 0:
        return float("nan")
    return float((concordant + 0.5 * tied) / pairs)


def censoring_survival(time: Any, event: Any, at: Any, *, left_limit: bool = True) -> np.ndarray:
    """Reverse Kaplan–Meier estimate Ĝ of the censoring survival function, P(censoring time > t).

    Censorings are the "events" of this estimate and observed events are censored (events and
    censorings swapped, as in scikit-survival's ``CensoringDistributionEstimator``).

    Parameters
    ----------
    time, event : array-like of shape (n,)
        Follow-up (days) and event status (1 = event, 0 = censored).
    at : array-like of shape (m,), days
        Where to evaluate Ĝ.
    left_limit : bool
        True: Ĝ(t−), the value just before ``t`` (censorings at ``t`` not yet counted, so a patient
        censored at an event time counts as at risk for it); False: Ĝ(t).

    Returns
    -------
    ndarray of shape (m,)
    """
    time, event = _check_survival(time, event)
    at = np.atleast_1d(np.asarray(at, dtype=float))
    censor_times, n_censored = np.unique(time[~event], return_counts=True)
    at_risk = len(time) - np.searchsorted(np.sort(time), censor_times, side="left")
    steps = np.concatenate([[1.0], np.cumprod(1.0 - n_censored / at_risk)])
    return steps[np.searchsorted(censor_times, at, side="left" if left_limit else "right")]


def time_dependent_auc_score(time: Any, event: Any, score: Any, *, horizon_days: float) -> float:
    """Cumulative/dynamic AUC at ``horizon_days`` with IPCW weights (Uno 2007; module docstring).

    Parameters
    ----------
    time : array-like of shape (n,), days
    event : array-like of shape (n,), {0, 1}
    score : array-like of shape (n,)
        Higher = higher risk.
    horizon_days : float
        τ: cases had the event by τ, controls were event-free after τ.

    Returns
    -------
    float
        AUC(τ) in [0, 1]; ``nan`` when there is no case or no control at τ.

    Raises
    ------
    InputError
        Bad time / event / score (see :func:`concordance_index_score`), a horizon <= 0, or a case whose
        censoring weight is infinite (Ĝ(t−) = 0: everyone else was censored before it).
    """
    time, event = _check_survival(time, event)
    score = _check_score(score, len(time))
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise InputError(f"horizon_days={horizon_days}: give a positive horizon in days (e.g. 1825 for 5 y).")
    cases = np.flatnonzero(event & (time <= horizon_days))
    controls = np.flatnonzero(time > horizon_days)
    if len(cases) == 0 or len(controls) == 0:
        return float("nan")
    g = censoring_survival(time, event, time[cases], left_limit=True)
    if (g <= 0).any():
        raise InputError(
            "the censoring survival estimate is 0 before the events at days "
            f"{time[cases][g <= 0][:5].tolist()}; the IPCW weights are undefined. Choose a shorter "
            "horizon_days."
        )
    weights = 1.0 / g
    control_scores = np.sort(score[controls])
    below = np.searchsorted(control_scores, score[cases], side="left")
    equal = np.searchsorted(control_scores, score[cases], side="right") - below
    wins = below + 0.5 * equal
    return float((weights * wins).sum() / (weights.sum() * len(controls)))


@dataclass(frozen=True)
class CoxPredictions:
    """Out-of-fold output of :func:`cv_cox`.

    Attributes
    ----------
    risk_score : ndarray of shape (n,)
        Linear predictor ``x · β`` (log partial hazard, standardised covariates of the training folds):
        higher = higher risk.
    event_probability : ndarray of shape (n,)
        Predicted P(event by ``horizon_days``) = 1 − S(horizon | x) from the training folds' model
        (Breslow baseline hazard).
    horizon_days : float
    coefficients : list of dict
        Per fold, the fitted log hazard ratio per standardised feature (features without variance in the
        training folds are left out and listed under ``"dropped"``).
    """

    risk_score: np.ndarray
    event_probability: np.ndarray
    horizon_days: float
    coefficients: list[dict[str, Any]]


def cv_cox(
    X: Any,
    time: Any,
    event: Any,
    folds: Any,
    *,
    horizon_days: float,
    penalizer: float = 0.1,
    feature_names: list[str] | None = None,
) -> CoxPredictions:
    """Out-of-fold risk scores and event probabilities of a penalised Cox model.

    Per held-out fold, median imputation (a column missing in every training row becomes 0),
    standardisation and ``lifelines.CoxPHFitter(penalizer=penalizer)`` (ridge; Breslow baseline) are
    fitted on the other folds and applied to the held-out fold, so every score comes from a model that
    did not see the patient.

    Parameters
    ----------
    X : array-like of shape (n, n_features)
        Covariates (NaN = missing), e.g. the handcrafted scar features and LVEF (%).
    time : array-like of shape (n,), days
        Follow-up until the event or censoring.
    event : array-like of shape (n,), {0, 1}
    folds : array-like of shape (n,), int
        Fold of each row (the same folds as the CNN).
    horizon_days : float
        Horizon of ``event_probability`` (e.g. the follow-up horizon of the binary outcome).
    penalizer : float
        L2 penalty of lifelines' ``CoxPHFitter`` (>= 0; it keeps the fit stable with few events).
    feature_names : list of str, optional
        Names of the columns of ``X`` (for ``coefficients``); default ``x0, x1, ...``.

    Returns
    -------
    CoxPredictions

    Raises
    ------
    InputError
        Bad shapes, infinite covariates, or bad time / event (negative or missing time, event not 0/1).
    InsufficientDataError
        A training split without any event, without a feature that varies, or on which the fit fails.
    """
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or len(X) == 0:
        raise InputError(f"X must be 2-D (n_patients, n_features); got shape {X.shape}.")
    if np.isinf(X).any():
        raise InputError("X holds infinite values; use NaN for missing covariates.")
    time, event = _check_survival(time, event)
    folds = np.asarray(folds)
    if time.shape != (len(X),) or folds.shape != (len(X),):
        raise InputError(
            f"time, event and folds need one entry per row of X ({len(X)}); got {time.shape}, {folds.shape}."
        )
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(X.shape[1])]
    if len(names) != X.shape[1] or len(set(names)) != len(names):
        raise InputError(f"feature_names {names} must name each of the {X.shape[1]} columns once.")
    if not np.isfinite(horizon_days) or horizon_days <= 0 or penalizer < 0:
        raise InputError(f"horizon_days={horizon_days} must be > 0 and penalizer={penalizer} >= 0.")
    risk = np.full(len(X), np.nan)
    probability = np.full(len(X), np.nan)
    coefficients = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        fold_risk, fold_probability, fitted = _fit_cox_fold(
            X[train], time[train], event[train], X[test], names, penalizer, horizon_days, fold
        )
        risk[test], probability[test] = fold_risk, fold_probability
        coefficients.append({"fold": int(fold), **fitted})
    return CoxPredictions(risk, probability, float(horizon_days), coefficients)


def _fit_cox_fold(
    X_train: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    X_test: np.ndarray,
    names: list[str],
    penalizer: float,
    horizon_days: float,
    fold: Any,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    import pandas as pd
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import StandardScaler

    if not event.any():
        raise InsufficientDataError(
            f"the training folds of held-out fold {fold} hold no event; a Cox model needs events. Use "
            "fewer folds or folds stratified by the event."
        )
    imputer = SimpleImputer(strategy="median", keep_empty_features=True).fit(X_train)
    scaler = StandardScaler().fit(imputer.transform(X_train))
    varies = scaler.var_ > 0
    kept = [name for name, keep in zip(names, varies, strict=True) if keep]
    if not kept:
        raise InsufficientDataError(
            f"no feature varies in the training folds of held-out fold {fold}; a Cox model needs one."
        )

    def standardised(rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(scaler.transform(imputer.transform(rows))[:, varies], columns=kept)

    table = standardised(X_train).assign(_time=time, _event=event.astype(int))
    model = CoxPHFitter(penalizer=penalizer)
    try:
        model.fit(table, duration_col="_time", event_col="_event")
    except (ConvergenceError, np.linalg.LinAlgError) as error:
        raise InsufficientDataError(
            f"the Cox fit on the training folds of held-out fold {fold} failed ({error}); raise penalizer "
            "or use fewer features."
        ) from error
    held_out = standardised(X_test)
    risk = model.predict_log_partial_hazard(held_out).to_numpy(dtype=float)
    survival = model.predict_survival_function(held_out, times=[horizon_days]).to_numpy(dtype=float)[0]
    fitted = {
        "log_hazard_ratio": {name: float(value) for name, value in model.params_.items()},
        "dropped": [name for name in names if name not in kept],
    }
    return risk, 1.0 - survival, fitted
