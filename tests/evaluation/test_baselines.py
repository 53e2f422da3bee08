import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cardiopredict.errors import ConfigError, InputError, InsufficientDataError
from cardiopredict.evaluation.baselines import cv_fpca_logistic, cv_logistic, guideline_rule_scores
from cardiopredict.evaluation.metrics import auc_score


def test_guideline_rule():
    scores = guideline_rule_scores([149.9, 150.0, 180.0, 120.0], [1, 1, 0, 1])
    np.testing.assert_array_equal(scores, [0.0, 1.0, 0.0, 0.0])
    assert scores.dtype == float
    np.testing.assert_array_equal(guideline_rule_scores(np.array([160.0]), np.array([True])), [1.0])


def test_guideline_rule_refuses_missing_values():
    with pytest.raises(InputError, match=r"qrs_ms is missing for 1 patient\(s\) \(rows \[1\]\)"):
        guideline_rule_scores([150.0, np.nan], [1, 1])
    with pytest.raises(InputError, match="lbbb is missing"):
        guideline_rule_scores([150.0, 160.0], [1, np.nan])
    with pytest.raises(InputError, match="0/1"):
        guideline_rule_scores([150.0], [2])


def _tabular(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)) + np.outer(y, [1.0, 0.0, -0.5])
    folds = np.arange(n) % 4
    return X, y, folds


def test_cv_logistic_matches_a_per_fold_pipeline_and_imputes():
    X, y, folds = _tabular(n=400)
    X[::7, 1] = np.nan
    scores = cv_logistic(X, y, folds, seed=0)
    for fold in range(4):
        train, test = folds != fold, folds == fold
        model = make_pipeline(
            SimpleImputer(strategy="median"), StandardScaler(), LogisticRegression(max_iter=5000)
        )
        model.fit(X[train], y[train])
        np.testing.assert_allclose(scores[test], model.predict_proba(X[test])[:, 1], rtol=1e-6)
    assert auc_score(y, scores) > 0.7


def test_cv_logistic_needs_both_classes_in_training():
    X, y, _ = _tabular(n=8)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    with pytest.raises(InsufficientDataError, match="held-out fold 0"):
        cv_logistic(X, y, folds, seed=0)


def _windows(n=60, seed=0, T=40):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    t = np.linspace(0, 1, T)
    lead_gain = rng.uniform(-1.5, 1.5, 12)
    width = 1.0 + 1.0 * y + 0.3 * rng.uniform(size=n)  # responders have a wider QRS
    windows = np.stack(
        [np.outer(lead_gain * rng.uniform(0.8, 1.2), np.exp(-((t - 0.5) ** 2) / (0.01 * w))) for w in width]
    ) + 0.05 * rng.normal(size=(n, 12, T))
    folds = np.arange(n) % 3
    return windows.astype(np.float32), y, folds


def test_cv_fpca_logistic_learns_and_matches_a_per_fold_pca():
    windows, y, folds = _windows()
    scores = cv_fpca_logistic(windows, y, folds, n_components=4, seed=0)
    assert auc_score(y, scores) > 0.8
    flat = windows.reshape(len(windows), -1).astype(float)
    train, test = folds != 1, folds == 1
    model = make_pipeline(PCA(n_components=4), StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(flat[train], y[train])
    np.testing.assert_allclose(scores[test], model.predict_proba(flat[test])[:, 1], rtol=1e-6)


def test_cv_fpca_logistic_does_not_learn_from_the_held_out_fold():
    windows, y, folds = _windows()
    scores = cv_fpca_logistic(windows, y, folds, n_components=4, seed=0)
    # Replace one held-out patient's window by noise and flip the held-out labels: the model that
    # scores fold 0 never saw fold 0, so the other fold-0 patients' scores must not move at all.
    victim = np.flatnonzero(folds == 0)[0]
    changed = windows.copy()
    changed[victim] = 20.0 * np.random.default_rng(1).normal(size=changed[victim].shape)
    flipped = y.copy()
    flipped[folds == 0] = 1 - flipped[folds == 0]
    again = cv_fpca_logistic(changed, flipped, folds, n_components=4, seed=0)
    others = (folds == 0) & (np.arange(len(y)) != victim)
    np.testing.assert_array_equal(again[others], scores[others])

    # The same check catches a leaky version that fits the PCA on every window (a test that can fail).
    def leaky(w):
        flat = w.reshape(len(w), -1)
        components = PCA(n_components=4).fit_transform(flat)
        return cv_logistic(components, y, folds, seed=0)

    assert not np.allclose(leaky(changed)[others], leaky(windows)[others])


def test_cv_fpca_logistic_validates():
    windows, y, folds = _windows(n=12)
    with pytest.raises(ConfigError, match="n_components=10"):
        cv_fpca_logistic(windows, y, folds, n_components=10)
    windows[3, 2, 5] = np.nan
    with pytest.raises(InputError, match=r"rows \[3\]"):
        cv_fpca_logistic(windows, y, folds, n_components=2)
    with pytest.raises(InputError, match="n_patients, n_leads, n_samples"):
        cv_fpca_logistic(windows[0], y, folds)
