import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cardiopredict.errors import InputError
from cardiopredict.evaluation.metrics import (
    accuracy_score_at,
    auc_score,
    bootstrap_auc_ci,
    brier_score,
    delong_test,
    multiclass_summary,
    reliability_curve,
    summarize,
)


def _data(n=120, seed=0, shift=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    latent = rng.normal(size=n) + shift * y
    a = latent + rng.normal(scale=0.5, size=n)
    b = latent + rng.normal(scale=1.5, size=n)
    return y, a, b


def test_auc_matches_sklearn_including_ties():
    y, a, _ = _data()
    tied = np.round(a)  # many ties
    assert auc_score(y, a) == pytest.approx(roc_auc_score(y, a))
    assert auc_score(y, tied) == pytest.approx(roc_auc_score(y, tied))
    assert auc_score([0, 1], [0.2, 0.2]) == 0.5


def test_auc_is_nan_with_one_class_and_rejects_bad_input():
    assert np.isnan(auc_score([1, 1, 1], [0.1, 0.2, 0.3]))
    with pytest.raises(InputError, match="non-finite"):
        auc_score([0, 1], [0.1, np.nan])
    with pytest.raises(InputError, match="0/1"):
        auc_score([0, 2], [0.1, 0.2])


def test_accuracy_threshold_is_inclusive():
    assert accuracy_score_at([0, 1, 1, 0], [0.2, 0.5, 0.9, 0.7], 0.5) == 0.75


def _brute_force_delong(y, a, b):
    """DeLong (1988) from its definition: psi kernel over every positive-negative pair."""

    def components(s):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(), psi.mean(axis=1), psi.mean(axis=0)

    auc_a, v10_a, v01_a = components(a)
    auc_b, v10_b, v01_b = components(b)
    m, n = len(v10_a), len(v01_a)
    s10 = np.cov(np.vstack([v10_a, v10_b]))
    s01 = np.cov(np.vstack([v01_a, v01_b]))
    variance = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    from scipy.stats import norm

    return 2 * norm.sf(abs(auc_a - auc_b) / np.sqrt(variance))


@pytest.mark.parametrize("round_to", [None, 0])
def test_fast_delong_equals_brute_force_definition(round_to):
    y, a, b = _data(n=90, seed=5)
    if round_to is not None:  # ties inside and across classes
        a, b = np.round(a, round_to), np.round(b, round_to)
    assert delong_test(y, a, b) == pytest.approx(_brute_force_delong(y, a, b), rel=1e-9)


def test_delong_known_example():
    # Hand-checkable: 3 positives, 3 negatives. Score a separates perfectly (AUC 1), b has AUC 6/9.
    y = np.array([1, 1, 1, 0, 0, 0])
    a = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    b = np.array([0.9, 0.2, 0.4, 0.3, 0.8, 0.1])
    assert auc_score(y, b) == pytest.approx(2 / 3)
    # components of b: positives beat 3, 1, 2 negatives -> V10 = [1, 1/3, 2/3]; negatives are beaten by
    # 2, 1, 3 positives -> V01 = [2/3, 1/3, 1]. a has V10 = V01 = 1 (zero variance), so
    # var = var(V10_b)/3 + var(V01_b)/3 = (1/9)/3 + (1/9)/3 = 2/27.
    z = (1 - 2 / 3) / np.sqrt(2 / 27)
    from scipy.stats import norm

    assert delong_test(y, a, b) == pytest.approx(2 * norm.sf(z))


def test_delong_identical_scores_and_null_calibration():
    y, a, b = _data(n=60, seed=1)
    assert delong_test(y, a, a) == 1.0
    assert delong_test(y, a, b) == pytest.approx(delong_test(y, b, a))
    # Under the null (two exchangeable noisy copies), p < 0.05 about 5 % of the time.
    rng = np.random.default_rng(2)
    p = []
    for _ in range(300):
        y = rng.integers(0, 2, 80)
        latent = rng.normal(size=80) + y
        p.append(delong_test(y, latent + rng.normal(size=80), latent + rng.normal(size=80)))
    assert 0.01 <= np.mean(np.array(p) < 0.05) <= 0.10
    assert np.isnan(delong_test([1, 1, 0], [0.1, 0.2, 0.3], [0.3, 0.2, 0.1]))


def test_delong_detects_a_real_difference():
    y, a, _ = _data(n=300, seed=3, shift=2.0)
    b = a + np.random.default_rng(9).normal(scale=3.0, size=300)  # same signal, much more noise
    assert auc_score(y, a) > auc_score(y, b) + 0.1
    assert delong_test(y, a, b) < 0.01


def test_bootstrap_ci_is_seeded_stratified_and_covers_the_auc():
    y, a, _ = _data(n=150, seed=4)
    lo, hi = bootstrap_auc_ci(y, a, n_boot=500, seed=7)
    assert (lo, hi) == bootstrap_auc_ci(y, a, n_boot=500, seed=7)
    assert (lo, hi) != bootstrap_auc_ci(y, a, n_boot=500, seed=8)
    assert lo < auc_score(y, a) < hi
    assert hi - lo < 0.25
    # Stratified: with only 2 positives every replicate still has both classes (no nan).
    y_small = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    lo, hi = bootstrap_auc_ci(y_small, np.arange(8.0), n_boot=200, seed=0)
    assert np.isfinite([lo, hi]).all()
    assert np.isnan(bootstrap_auc_ci([1, 1], [0.2, 0.3])).all()


def test_bootstrap_ci_width_matches_delong_standard_error():
    y, a, _ = _data(n=400, seed=6)
    lo, hi = bootstrap_auc_ci(y, a, n_boot=2000, seed=0)
    from cardiopredict.evaluation.metrics import _delong_components

    _, v10, v01 = _delong_components(y, a[None, :])
    se = np.sqrt(v10.var(ddof=1) / y.sum() + v01.var(ddof=1) / (len(y) - y.sum()))
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_brier_and_reliability():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.0, 0.2, 0.8, 1.0])
    assert brier_score(y, p) == pytest.approx((0 + 0.04 + 0.04 + 0) / 4)
    with pytest.raises(InputError, match="probabilities"):
        brier_score(y, [0, 1, 2, 3])
    rng = np.random.default_rng(0)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)  # perfectly calibrated
    curve = reliability_curve(y, p, n_bins=10)
    assert list(curve.columns) == ["bin_lower", "bin_upper", "n", "mean_predicted", "fraction_positive"]
    assert curve["n"].sum() == 5000 and len(curve) == 10
    np.testing.assert_allclose(curve["fraction_positive"], curve["mean_predicted"], atol=0.05)
    assert len(reliability_curve([0, 1], [0.05, 1.0], n_bins=10)) == 2  # p = 1 goes in the last bin


def _predictions(seed=0):
    rng = np.random.default_rng(seed)
    n = 100
    y = np.repeat([0, 1], n // 2)
    folds = np.tile(np.arange(5), n // 5)
    p = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * (y - 0.5))))
    rule = (rng.uniform(size=n) < 0.3 + 0.4 * y).astype(float)
    return pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)], "fold": folds, "y_true": y,
                         "score_model": p, "score_rule": rule})  # fmt: skip


def test_summarize_follows_the_contract_and_is_json_clean():
    predictions = _predictions()
    block = summarize(predictions, "score_model", n_boot=300, seed=0)
    assert set(block) == {"folds", "auc_mean", "auc_sd", "auc_pooled", "auc_ci95", "brier"}
    json.dumps(block, allow_nan=False)
    assert [f["fold"] for f in block["folds"]] == [0, 1, 2, 3, 4]
    fold_aucs = []
    for f in block["folds"]:
        rows = predictions["fold"] == f["fold"]
        sub = predictions[rows]
        assert f["auc"] == pytest.approx(roc_auc_score(sub["y_true"], sub["score_model"]))
        assert f["accuracy"] == pytest.approx(np.mean((sub["score_model"] >= 0.5) == sub["y_true"]))
        fold_aucs.append(f["auc"])
    assert block["auc_mean"] == pytest.approx(np.mean(fold_aucs))
    assert block["auc_sd"] == pytest.approx(np.std(fold_aucs, ddof=1))
    assert block["auc_pooled"] == pytest.approx(
        roc_auc_score(predictions["y_true"], predictions["score_model"])
    )
    lo, hi = block["auc_ci95"]
    assert lo < block["auc_pooled"] < hi
    assert block["brier"] == pytest.approx(np.mean((predictions["score_model"] - predictions["y_true"]) ** 2))
    assert all(type(v) is float for v in (block["auc_mean"], block["auc_sd"], block["brier"], lo, hi))


def test_summarize_rule_score_has_no_brier():
    predictions = _predictions()
    block = summarize(predictions, "score_rule", threshold=None, n_boot=100)
    assert block["brier"] is None
    rows = predictions["fold"] == 0
    expected = np.mean((predictions.loc[rows, "score_rule"] >= 0.5) == predictions.loc[rows, "y_true"])
    assert block["folds"][0]["accuracy"] == pytest.approx(expected)


def test_summarize_names_a_missing_column():
    with pytest.raises(InputError, match="score_nope"):
        summarize(_predictions(), "score_nope")


def test_multiclass_summary():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 30)
    logits = rng.normal(size=(90, 3)) + 2.0 * np.eye(3)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    out = multiclass_summary(y, proba, ["GEN", "MYO", "SARC"])
    json.dumps(out, allow_nan=False)
    assert out["class_names"] == ["GEN", "MYO", "SARC"]
    for c, name in enumerate(out["class_names"]):
        assert out["auc_ovr"][name] == pytest.approx(roc_auc_score(y == c, proba[:, c]))
    assert out["macro_auc"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr", average="macro"))
    cm = np.array(out["confusion_matrix"])
    assert cm.sum() == 90 and (cm.sum(axis=1) == 30).all()  # rows are the true classes
    assert out["accuracy"] == pytest.approx(np.trace(cm) / 90)
    with pytest.raises(InputError, match="n_classes=3"):
        multiclass_summary(y, proba[:, :2], ["GEN", "MYO", "SARC"])
