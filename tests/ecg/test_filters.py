"""Tests of cardiopredict.ecg.filters: zero phase, what each filter removes and keeps, NaN handling."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict.ecg.filters import bandpass, fill_nan, notch, remove_baseline
from cardiopredict.errors import InputError, SamplingRateError

FS = 500.0


def _tone(freq_hz: float, n: int = 5000) -> np.ndarray:
    t = np.arange(n) / FS
    return np.sin(2 * np.pi * freq_hz * t)[None, :]


def _rms(x: np.ndarray) -> float:
    core = x[:, 500:-500]  # away from the edges
    return float(np.sqrt(np.mean(core**2)))


def test_remove_baseline_removes_wander_keeps_qrs_band() -> None:
    assert _rms(remove_baseline(_tone(0.1), FS)) < 0.05
    assert _rms(remove_baseline(_tone(10.0), FS)) == pytest.approx(_rms(_tone(10.0)), rel=0.01)


@pytest.mark.parametrize("freq_hz", [50.0, 60.0])
def test_notch_removes_powerline_only(freq_hz: float) -> None:
    assert _rms(notch(_tone(freq_hz), FS, freq_hz=freq_hz)) < 0.05
    assert _rms(notch(_tone(20.0), FS, freq_hz=freq_hz)) == pytest.approx(_rms(_tone(20.0)), rel=0.02)


def test_bandpass_pass_and_stop() -> None:
    assert _rms(bandpass(_tone(15.0), FS, low_hz=1.0, high_hz=40.0)) > 0.65
    assert _rms(bandpass(_tone(150.0), FS, low_hz=1.0, high_hz=40.0)) < 0.05


def test_zero_phase_keeps_peak_position() -> None:
    x = np.zeros((1, 2000))
    x[0, 990:1011] = np.hanning(21)
    for out in (remove_baseline(x, FS), bandpass(x, FS, low_hz=0.5, high_hz=40.0), notch(x, FS)):
        assert int(np.argmax(out[0])) == 1000


def test_shape_and_multilead() -> None:
    x = np.vstack([_tone(5.0), _tone(8.0), _tone(0.1)])
    out = remove_baseline(x, FS)
    assert out.shape == x.shape


def test_nan_stays_nan_and_does_not_spread() -> None:
    x = _tone(5.0).repeat(2, axis=0)
    x[0, 2000:2010] = np.nan
    out = bandpass(x, FS, low_hz=0.5, high_hz=40.0)
    assert np.isnan(out[0, 2000:2010]).all()
    assert np.isfinite(out[0, :2000]).all() and np.isfinite(out[0, 2010:]).all() and np.isfinite(out[1]).all()


def test_fill_nan_all_nan_lead_becomes_zero() -> None:
    x = np.full((2, 10), np.nan)
    x[1] = np.arange(10.0)
    x[1, 3:5] = np.nan
    filled, missing = fill_nan(x)
    assert np.all(filled[0] == 0) and np.allclose(filled[1], np.arange(10.0)) and missing[0].all()


def test_bad_input_messages() -> None:
    with pytest.raises(InputError, match="shape"):
        remove_baseline(np.zeros(100), FS)
    with pytest.raises(InputError, match="Nyquist"):
        bandpass(np.zeros((1, 100)), FS, low_hz=0.5, high_hz=300.0)
    with pytest.raises(InputError, match="below high_hz"):
        bandpass(np.zeros((1, 100)), FS, low_hz=40.0, high_hz=20.0)
    with pytest.raises(SamplingRateError, match="fs=0"):
        notch(np.zeros((1, 100)), 0)
