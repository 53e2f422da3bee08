"""Harrell's C-index, the IPCW time-dependent AUC and the out-of-fold Cox baseline."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import concordance_index
from sklearn.metrics import roc_auc_score

from cardiopredict.errors import InputError, InsufficientDataError
from cardiopredict.evaluation.survival import (
    censoring_survival,
    concordance_index_score,
    cv_cox,
    time_dependent_auc_score,
)


def _cox_data(n: int, *, seed: int, censor_scale: float = 2000.0) -> tuple[np.ndarray, ...]:
    """Exponential event times with log hazard 0.8 x0 - 0.5 x1 (x2 is noise), uniform censoring."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    hazard = np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1]) / 1000.0
    event_time = rng.exponential(1.0 / hazard)
    censor_time = rng.uniform(0, censor_scale, size=n)
    time = np.minimum(event_time, censor_time)
    return X, np.round(time), (event_time <= censor_time).astype(int), event_time


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_c_index_matches_lifelines_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 120
    time = rng.integers(1, 30, size=n).astype(float)  # many tied times
    event = rng.integers(0, 2, size=n)
    score = np.round(rng.normal(size=n) - 0.05 * time, 1)  # tied scores too
    expected = concordance_index(time, -score, event)
    assert concordance_index_score(time, event, score) == pytest.approx(expected, abs=1e-12)


def test_c_index_extremes_and_undefined() -> None:
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.ones(4)
    assert concordance_index_score(time, event, -time) == 1.0
    assert concordance_index_score(time, event, time) == 0.0
    assert concordance_index_score(time, event, np.zeros(4)) == 0.5
    assert np.isnan(concordance_index_score(time, np.zeros(4), -time))


def test_censoring_survival_is_the_reverse_kaplan_meier() -> None:
    _, time, event, _ = _cox_data(300, seed=3)
    grid = np.array([0.0, 50.0, 400.0, 1000.0, 1900.0])
    fitter = KaplanMeierFitter().fit(time, 1 - event)
    expected = fitter.survival_function_at_times(grid).to_numpy()
    np.testing.assert_allclose(censoring_survival(time, event, grid, left_limit=False), expected)
    # left limit: just before a censoring time the step has not happened yet
    first = np.min(time[event == 0])
    assert censoring_survival(time, event, [first], left_limit=True)[0] == 1.0


def test_time_dependent_auc_without_censoring_is_the_auc_of_event_by_horizon() -> None:
    rng = np.random.default_rng(4)
    time = rng.exponential(1000.0, size=200)
    score = -time + rng.normal(scale=600.0, size=200)
    score[::7] = np.round(score[::7], -3)  # some tied scores
    for horizon in (300.0, 800.0, 1500.0):
        brute = roc_auc_score(time <= horizon, score)
        value = time_dependent_auc_score(time, np.ones(200), score, horizon_days=horizon)
        assert value == pytest.approx(brute, abs=1e-12)


def test_ipcw_auc_recovers_the_uncensored_auc_and_the_naive_estimate_does_not() -> None:
    X, time, event, event_time = _cox_data(6000, seed=5, censor_scale=3000.0)
    score = 0.8 * X[:, 0] - 0.5 * X[:, 1]
    horizon = 700.0
    truth = roc_auc_score(event_time <= horizon, score)
    estimate = time_dependent_auc_score(time, event, score, horizon_days=horizon)
    known = (event == 1) | (time > horizon)  # dropping patients censored before the horizon
    naive = roc_auc_score((time <= horizon)[known], score[known])
    assert abs(estimate - truth) < 0.01
    assert abs(naive - truth) > abs(estimate - truth)


def test_time_dependent_auc_undefined_without_cases_or_controls() -> None:
    time, event = np.array([10.0, 20.0, 30.0]), np.array([1, 1, 0])
    assert np.isnan(time_dependent_auc_score(time, event, [1.0, 2.0, 3.0], horizon_days=5.0))
    assert np.isnan(time_dependent_auc_score(time, event, [1.0, 2.0, 3.0], horizon_days=40.0))


@pytest.mark.parametrize(
    ("time", "event", "match"),
    [
        ([1.0, -2.0, 3.0], [1, 0, 1], r"time is negative in rows \[1\]"),
        ([1.0, 2.0, 3.0], [1, 2, 0], r"event must be 0 \(censored\) or 1.*rows \[1\]"),
        ([1.0, np.nan, 3.0], [1, 1, 0], r"time is missing or infinite in rows \[1\]"),
        ([1.0, 2.0], [1, 1, 0], "same length"),
    ],
)
def test_bad_survival_input_is_named(time: list, event: list, match: str) -> None:
    with pytest.raises(InputError, match=match):
        concordance_index_score(time, event, np.zeros(len(time)))
    with pytest.raises(InputError, match=match):
        time_dependent_auc_score(time, event, np.zeros(len(time)), horizon_days=2.0)


def test_cv_cox_ranks_risk_out_of_fold_and_without_leakage() -> None:
    X, time, event, _ = _cox_data(240, seed=6)
    X[::11, 2] = np.nan  # missing values are imputed from the training folds
    folds = np.arange(240) % 4
    result = cv_cox(X, time, event, folds, horizon_days=1000.0, feature_names=["a", "b", "noise"])
    assert np.isfinite(result.risk_score).all()
    assert ((result.event_probability > 0) & (result.event_probability < 1)).all()
    assert concordance_index_score(time, event, result.risk_score) > 0.65
    for fit in result.coefficients:
        assert fit["log_hazard_ratio"]["a"] > 0 > fit["log_hazard_ratio"]["b"]
    # within a fold, the event probability is a monotone function of the risk score
    in_fold = folds == 0
    order = np.argsort(result.risk_score[in_fold])
    assert np.all(np.diff(result.event_probability[in_fold][order]) >= -1e-12)
    # the held-out fold's own outcomes never reach its model
    shuffled_time, shuffled_event = time.copy(), event.copy()
    shuffled_time[in_fold] = time[in_fold][::-1]
    shuffled_event[in_fold] = 1 - event[in_fold]
    again = cv_cox(X, shuffled_time, shuffled_event, folds, horizon_days=1000.0)
    np.testing.assert_allclose(again.risk_score[in_fold], result.risk_score[in_fold])
    assert not np.allclose(again.risk_score[~in_fold], result.risk_score[~in_fold])


def test_cv_cox_refuses_training_folds_without_events_and_constant_features() -> None:
    X, time, _, _ = _cox_data(40, seed=7)
    event = np.zeros(40, dtype=int)
    event[:5] = 1
    folds = np.where(np.arange(40) < 5, 0, 1)
    with pytest.raises(InsufficientDataError, match="held-out fold 0 hold no event"):
        cv_cox(X, time, event, folds, horizon_days=500.0)
    event = np.tile([0, 1], 20)
    with pytest.raises(InsufficientDataError, match="no feature varies"):
        cv_cox(np.ones((40, 2)), time, event, np.arange(40) % 2, horizon_days=500.0)
    with pytest.raises(InputError, match="time is negative"):
        cv_cox(X, -time, event, np.arange(40) % 2, horizon_days=500.0)
