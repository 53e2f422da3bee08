"""Tests of cardiopredict.ecg.windows: shapes, alignment, normalisation, RR features, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict.ecg import delineate
from cardiopredict.ecg.windows import RR_FEATURE_NAMES, RRWindow, normalize_window, qrs_window, rr_window
from cardiopredict.errors import DelineationError, InputError, SignalQualityError
from tests.ecg.test_delineation import synthetic_ecg


@pytest.fixture(scope="module")
def pair():
    record, onsets = synthetic_ecg(rr_ms=np.array([900.0, 1000.0, 800.0, 950.0]), qrs_ms=120.0)
    return record, delineate(record), onsets


def test_fixed_window_shape_and_alignment(pair) -> None:
    record, d, _ = pair
    window = qrs_window(record, d)
    assert window.shape == (12, 250) and window.dtype == np.float32
    # 1000 Hz, starts 40 ms before the global onset: the 40 ms before the QRS are nearly flat,
    # and the largest deflection (V5 R wave) lies inside the QRS part.
    v5 = window[10]
    assert np.abs(v5[:30]).max() < 0.1 * np.abs(v5).max()
    assert 40 <= int(np.argmax(v5)) <= 40 + 130


def test_fixed_window_keeps_width(pair) -> None:
    _record, _, _ = pair
    narrow, _ = synthetic_ecg(qrs_ms=80.0)
    wide, _ = synthetic_ecg(qrs_ms=180.0)

    def active_ms(rec) -> int:
        w = np.abs(qrs_window(rec, delineate(rec))).max(axis=0)
        return int((w > 0.1 * w.max()).sum())

    assert active_ms(wide) - active_ms(narrow) >= 60


def test_stretch_window_removes_width() -> None:
    shapes = []
    for qrs_ms in (80.0, 160.0):
        rec, _ = synthetic_ecg(qrs_ms=qrs_ms)
        shapes.append(qrs_window(rec, delineate(rec), mode="stretch", n_samples=100)[10])
    assert np.corrcoef(shapes[0], shapes[1])[0, 1] > 0.9


def test_all_beats(pair) -> None:
    record, d, _ = pair
    beats = qrs_window(record, d, beats="all")
    assert beats.ndim == 3 and beats.shape[1:] == (12, 250)
    assert 1 <= beats.shape[0] <= d.valid.sum()


@pytest.mark.parametrize("normalize", ["none", "zscore", "maxabs"])
def test_normalisation(pair, normalize: str) -> None:
    record, d, _ = pair
    window = qrs_window(record, d, normalize=normalize)
    if normalize == "zscore":
        np.testing.assert_allclose(window.std(axis=1), 1.0, atol=1e-4)
        np.testing.assert_allclose(window.mean(axis=1), 0.0, atol=1e-4)
    elif normalize == "maxabs":
        assert np.isclose(np.abs(window).max(), 1.0)
    else:
        assert np.abs(window).max() > 1.0  # mV kept (V5 R wave 1.5 mV)


def test_normalize_flat_lead_stays_zero() -> None:
    window = np.zeros((2, 12, 50))
    window[:, 0] = np.linspace(0, 1, 50)
    out = normalize_window(window, "zscore")
    assert np.isfinite(out).all() and np.all(out[:, 1] == 0)


def test_bad_options_raise(pair) -> None:
    record, d, _ = pair
    with pytest.raises(InputError, match="normalize"):
        qrs_window(record, d, normalize="minmax")
    with pytest.raises(InputError, match="mode"):
        qrs_window(record, d, mode="centre")
    other = record.replace(fs=250.0, signal=record.signal[:, ::2])
    with pytest.raises(InputError, match="delineate this record"):
        qrs_window(other, d)


def test_rr_window(pair) -> None:
    record, d, _ = pair
    rr = rr_window(record, d, n_samples=400)
    assert isinstance(rr, RRWindow)
    assert rr.window.shape == (12, 400) and rr.window.dtype == np.float32
    assert rr.rr_features.shape == (4,) and len(RR_FEATURE_NAMES) == 4
    expected = d.rr_intervals_ms
    np.testing.assert_allclose(
        rr.rr_features, [expected.mean(), expected.std(), expected.min(), expected.max()]
    )
    assert 800 - 10 <= rr.features_dict()["rr_min_ms"] <= 800 + 10
    # QRS lies at 35 % of the cycle; T wave (positive in V5) in the second half
    v5 = rr.window[10]
    assert 0.3 * 400 <= int(np.argmax(v5)) <= 0.5 * 400


def test_window_needs_a_fitting_beat(pair) -> None:
    record, d, _ = pair
    none_valid = type(d)(**{**d.__dict__, "valid": np.zeros(d.n_beats, dtype=bool)})
    with pytest.raises(DelineationError, match="no beat fits"):
        qrs_window(record, none_valid)
    with pytest.raises(DelineationError, match="no beat fits"):
        rr_window(record, none_valid)


def test_lead_missing_in_every_beat_is_refused_or_kept_visible(pair) -> None:
    record, d, _onsets = pair
    signal = record.signal.copy()
    signal[3] = np.nan  # aVR missing in every beat
    gappy = record.replace(signal=signal, meta={"quality": {"aVR": ["all_nan"]}})
    with pytest.raises(SignalQualityError, match=r"lead\(s\) aVR \(all_nan\) is missing in every beat"):
        qrs_window(gappy, d)
    with pytest.raises(SignalQualityError, match=r"RR window of lead\(s\) aVR"):
        rr_window(gappy, d)
    window = qrs_window(gappy, d, missing="keep")
    assert np.isnan(window[3]).all() and np.isfinite(window[[0, 1, 2, 4]]).all()


def test_infinite_samples_never_reach_a_window(pair) -> None:
    record, d, _onsets = pair
    signal = record.signal.copy()
    signal[7, 100] = np.inf
    with pytest.raises(SignalQualityError, match=r"lead\(s\) V2 hold ±inf samples"):
        qrs_window(record.replace(signal=signal), d, missing="keep")


def test_gap_in_one_beat_is_filled_by_the_others(pair) -> None:
    record, d, onsets = pair
    signal = record.signal.copy()
    signal[3, int(onsets[2]) : int(onsets[2]) + 40] = np.nan  # aVR gap in one beat only
    window = qrs_window(record.replace(signal=signal), d)
    assert np.isfinite(window).all()
