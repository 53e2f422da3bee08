"""The VCG simulator: determinism, lead algebra, the published transform, and that the project's own
delineator and measurements recover the designed phenotypes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cardiopredict.ecg.delineation import DelineationParams, delineate
from cardiopredict.ecg.measurements import measure
from cardiopredict.ecg.simulate import (
    DOWER_MATRIX,
    PHENOTYPES,
    QRS_BUMP_POWER,
    QRS_EDGE_RAMP,
    ECGParams,
    _template,
    extent_ms,
    normal_qrs,
    phenotype_params,
    simulate_ecg,
)
from cardiopredict.errors import InputError

# The designed QRS duration is the visible QRS (test_designed_qrs_is_the_visible_span: zero outside the
# designed span). The simulated QRS rises out of the baseline and fades into it slowly (QRS_EDGE_RAMP = 0.35,
# issue 16: spatial velocity at the designed edges 1.9 / 2.7 % of its peak, LUDB's marked edges 1.5 / 2.7 %),
# and the delineator's threshold edges (DelineationParams.legacy(): 0.5-40 Hz band-pass, then onset/offset
# where the spatial velocity falls to 1 % / 1.5 % of its peak, fitted to LUDB's earliest/latest of 12 hand
# marks) read it as designed: median +0.7 ms over the phenotypes (-9.5 to +6.4 ms, seeds 0-9; before the
# ramp, when the simulated QRS started at its steepest slope, +13 to +31 ms; docs/BENCHMARKS.md, section 10).
# The calibrated edge model reads it ~20 ms wider (its LUDB feet), so these phenotype tests delineate with
# the threshold edges. The recovery test requires every phenotype to be within +-10 ms of their common
# offset, and the offset itself to stay in [0, MAX_DELINEATOR_OFFSET_MS].
MAX_DELINEATOR_OFFSET_MS = 35.0
LEGACY = DelineationParams.legacy()


def test_dower_matrix_is_the_inverse_of_the_published_inverse_dower():
    # Edenbrandt & Pahlm 1988 inverse Dower (X, Y, Z from I, II, V1..V6)
    inverse = np.array(
        [
            [0.156, -0.010, -0.172, -0.074, 0.122, 0.231, 0.239, 0.194],
            [-0.227, 0.887, 0.057, -0.019, -0.106, -0.022, 0.041, 0.048],
            [0.022, 0.102, -0.229, -0.310, -0.246, -0.063, 0.055, 0.108],
        ]
    )
    np.testing.assert_allclose(np.linalg.pinv(DOWER_MATRIX), inverse, atol=1.5e-3)


def test_same_seed_same_signal_different_seed_different():
    a = simulate_ecg("lbbb_strict", seed=5)
    b = simulate_ecg("lbbb_strict", seed=5)
    c = simulate_ecg("lbbb_strict", seed=6)
    assert a.signal.shape == (12, 5000) and a.signal.dtype == np.float32 and a.fs == 500
    np.testing.assert_array_equal(a.signal, b.signal)
    assert not np.allclose(a.signal, c.signal)


def test_limb_leads_obey_einthoven_and_goldberger():
    record = simulate_ecg("normal", seed=1)
    lead = {name: record.lead(name).astype(np.float64) for name in record.leads}
    np.testing.assert_allclose(lead["III"], lead["II"] - lead["I"], atol=1e-5)
    np.testing.assert_allclose(lead["aVR"], -(lead["I"] + lead["II"]) / 2, atol=1e-5)
    np.testing.assert_allclose(lead["aVR"] + lead["aVL"] + lead["aVF"], 0.0, atol=1e-4)


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(InputError, match="Unknown phenotype 'brugada'"):
        simulate_ecg("brugada", seed=0)
    with pytest.raises(InputError, match="av_block"):
        ECGParams(qrs=normal_qrs(), t=(), av_block=4)
    with pytest.raises(InputError, match="seed or rng"):
        simulate_ecg("normal", seed=1, rng=np.random.default_rng(1))


def _measured(name: str, seed: int):
    record = simulate_ecg(name, seed=seed)
    delineation = delineate(record, params=LEGACY)
    return record.meta["designed"], measure(record, delineation, sex="M"), delineation


@pytest.fixture(scope="module")
def qrs_errors():
    """Measured minus designed QRS duration (ms) and rate checks, per (phenotype, seed)."""
    errors = {}
    for name in PHENOTYPES:
        for seed in (0, 1):
            designed, measured, delineation = _measured(name, seed)
            assert delineation.valid.mean() > 0.8, (name, seed)
            if designed["av_block"] < 2 and not designed["pvc_probability"]:
                assert abs(measured.heart_rate_bpm - designed["heart_rate_bpm"]) < 3, (name, seed)
            errors[name, seed] = measured.qrs_duration_ms - designed["qrs_duration_ms"]
    return errors


def test_delineator_recovers_designed_qrs_duration(qrs_errors):
    offset = float(np.median(list(qrs_errors.values())))
    assert 0.0 <= offset <= MAX_DELINEATOR_OFFSET_MS, offset
    outside = {key: round(error - offset, 1) for key, error in qrs_errors.items() if abs(error - offset) > 10}
    assert not outside, (offset, outside)


@pytest.mark.parametrize("seed", range(4))
def test_conduction_criteria_are_met(seed):
    strict = _measured("lbbb_strict", seed)[1]
    assert strict.lbbb_aha and strict.lbbb_strauss and not strict.rbbb
    nonstrict = _measured("lbbb_nonstrict", seed)[1]
    assert nonstrict.lbbb_aha and not nonstrict.rbbb
    rbbb = _measured("rbbb", seed)[1]
    assert rbbb.rbbb and not rbbb.lbbb_aha
    ivcd = _measured("ivcd", seed)[1]
    assert ivcd.qrs_duration_ms >= 120 and not (ivcd.lbbb_aha or ivcd.rbbb)
    normal = _measured("normal", seed)[1]
    assert not (normal.lbbb_aha or normal.rbbb or normal.fragmented_qrs or normal.low_voltage)
    assert normal.av_block == 0


@pytest.mark.parametrize("seed", range(3))
def test_other_phenotypes_are_read_as_designed(seed):
    assert _measured("biv_paced", seed)[1].paced
    assert _measured("low_voltage", seed)[1].low_voltage
    assert _measured("fragmented", seed)[1].fragmented_qrs
    assert _measured("lvh", seed)[1].sokolow_lyon_mv >= 3.5
    assert _measured("lafb", seed)[1].qrs_axis_deg < -30
    designed, prolonged, _ = _measured("pr_prolongation", seed)
    assert prolonged.av_block == 1 and abs(prolonged.pr_interval_ms - designed["pr_ms"]) <= 20


def test_rhythm_phenotypes_change_the_ventricular_rhythm():
    designed, measured, _delineation = _measured("av_block_3", 0)
    assert measured.heart_rate_bpm < 50 < designed["heart_rate_bpm"]  # escape rhythm, faster atria
    record = simulate_ecg("pvc", seed=3)
    kinds = np.asarray(record.meta["events"]["kind"])
    assert kinds.sum() >= 1
    rr = delineate(record).rr_intervals_ms
    assert rr.min() < 0.75 * np.median(rr)  # premature beats


@pytest.mark.parametrize("name", ["normal", "lbbb_strict", "rbbb", "lafb", "fragmented", "ivcd"])
def test_designed_qrs_is_the_visible_span(name):
    """The designed onset/end is where the QRS bumps are visible: the noise-free spatial magnitude of the
    eight independent leads is exactly zero before the designed onset and after the designed end, and above
    2 % of its peak from 4 ms after the onset to 4 ms before the end (1 kHz rendering, without the edge ramp,
    which slows the edges inside the same span: next test)."""
    params = phenotype_params(name, rng=np.random.default_rng(3))
    template, zero = _template(params.qrs, 1000.0, power=QRS_BUMP_POWER)
    magnitude = np.sqrt(((DOWER_MATRIX @ template) ** 2).sum(axis=0))
    start, end = extent_ms(params.qrs)
    times = np.arange(magnitude.size) - zero  # ms from QRS onset
    visible = times[magnitude > 0.02 * magnitude.max()]
    assert np.all(magnitude[(times < start) | (times > end)] < 1e-9)
    assert start <= visible[0] <= start + 4 and end - 4 <= visible[-1] <= end


@pytest.mark.parametrize("name", ["normal", "lbbb_strict", "rbbb", "lafb", "fragmented", "ivcd"])
def test_edge_ramp_slows_the_edges_and_keeps_the_designed_span_and_voltage(name):
    """With ``warp=0.35`` the noise-free spatial magnitude (1 kHz) is still zero outside the designed span,
    below 1 % of its peak in the first and last 2 ms (unwarped: 2-7 %), visible (> 2 %) within the outer
    20 % on each side, and as tall as the unwarped bumps. 0.35 is the default: the phenotypes are designed
    for it (their criteria hold with it, test_conduction_criteria_are_met and below), and the cohorts and
    golden study scores are recorded with it; changing it changes all of them (docs/BENCHMARKS.md,
    section 10)."""
    assert QRS_EDGE_RAMP == 0.35
    params = phenotype_params(name, rng=np.random.default_rng(3))
    template, zero = _template(params.qrs, 1000.0, power=QRS_BUMP_POWER, warp=0.35)
    unwarped, _ = _template(params.qrs, 1000.0, power=QRS_BUMP_POWER)
    magnitude = np.sqrt(((DOWER_MATRIX @ template) ** 2).sum(axis=0))
    start, end = extent_ms(params.qrs)
    times = np.arange(magnitude.size) - zero  # ms from QRS onset
    peak = magnitude.max()
    visible = times[magnitude > 0.02 * peak]
    assert np.all(magnitude[(times < start) | (times > end)] < 1e-9)
    assert magnitude[(times >= start) & (times <= start + 2)].max() < 0.01 * peak
    assert magnitude[(times >= end - 2) & (times <= end)].max() < 0.01 * peak
    span = end - start
    assert visible[0] <= start + 0.2 * span and visible[-1] >= end - 0.2 * span
    assert peak == pytest.approx(np.sqrt(((DOWER_MATRIX @ unwarped) ** 2).sum(axis=0)).max(), rel=0.01)


@pytest.mark.parametrize("seed", range(6))
def test_simulated_pvcs_are_detected_and_flagged_ectopic(seed):
    record = simulate_ecg("pvc", seed=seed)
    qrs = np.asarray(record.meta["events"]["qrs"])
    kind = np.asarray(record.meta["events"]["kind"])
    inside = (qrs > 25) & (qrs < record.n_samples - 100)
    d = delineate(record, params=LEGACY)
    tolerance = 0.04 * record.fs
    for onset, is_pvc in zip(qrs[inside], kind[inside], strict=True):
        nearest = int(np.argmin(np.abs(d.qrs_onsets - onset)))
        assert abs(d.qrs_onsets[nearest] - onset) < tolerance, (seed, onset, is_pvc)
        if is_pvc and nearest > 0:
            assert d.ectopic[nearest], (seed, onset)
        if not is_pvc:
            assert not d.ectopic[nearest], (seed, onset)
    extra = [o for o in d.qrs_onsets if np.min(np.abs(qrs - o)) >= tolerance]
    assert not extra, (seed, extra)


@pytest.mark.parametrize("seed", range(4))
def test_av_block_degree_is_recovered(seed):
    assert _measured("av_block_3", seed)[1].av_block == 3
    for ratio in (2, 3, 4):
        record = simulate_ecg(
            phenotype_params("av_block_2", rng=np.random.default_rng(seed), av_ratio=ratio), seed=seed
        )
        assert measure(record, delineate(record)).av_block == 2, (seed, ratio)
    # a PVC's compensatory pause holds a non-conducted sinus P wave: ectopy, not AV block
    assert _measured("pvc", seed)[1].av_block == 0


@pytest.mark.parametrize("seed", range(3))
def test_paced_qrs_merged_with_its_p_wave_starts_at_the_stimulus(seed):
    """AV-sequential pacing at a short AV delay: the P wave runs into the paced QRS. With
    ``paced_lead_in_ms=0`` every beat starts at its stimulus and the QRS is read as designed (+ the usual
    offset); by default only runs starting > 80 ms before the stimulus are cut (LUDB unchanged)."""
    params = replace(phenotype_params("biv_paced", rng=np.random.default_rng(seed)), pr_ms=100.0)
    record = simulate_ecg(params, seed=seed)
    d = delineate(record, params=DelineationParams.legacy(paced_lead_in_ms=0.0))
    assert d.paced.all() and d.valid.all()
    # the designed duration on the sample grid (the last whole sample inside it): with the slowed edges the
    # QRS is read to the sample (seed 2: designed 144.4 ms, read 144 ms = 72 samples), so the unrounded
    # value would ask for a sample past the designed end
    designed_ms = (
        np.floor(record.meta["designed"]["qrs_duration_ms"] * record.fs / 1000.0) * 1000.0 / record.fs
    )
    error = float(np.median(d.qrs_durations_ms)) - designed_ms
    assert 0 <= error <= MAX_DELINEATOR_OFFSET_MS
    default = delineate(record, params=LEGACY)
    assert np.all(default.qrs_durations_ms >= d.qrs_durations_ms)
