"""Handcrafted scar features on ring phantoms of known geometry."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict.cmr.scar_features import (
    SCAR_FEATURE_NAMES,
    aha_segment_map,
    scar_features,
    scarred_segments,
)
from cardiopredict.errors import InputError

SIZE, INNER, OUTER = 128, 16.0, 24.0  # pixels: a 10 mm wall at 1.25 mm


def _polar() -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.indices((SIZE, SIZE)) - SIZE // 2
    clockwise = np.degrees(np.arctan2(cols, -rows)) % 360.0
    return np.hypot(rows, cols), clockwise


def _patient(
    n_slices: int, scar_sector: tuple[float, float] | None, *, depth: float = 1.0, scar_value: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Rings with a scar sector [start, end) (clockwise from 12 o'clock) from the endocardium out to
    ``depth`` x wall; healthy myocardium at 0.1, scar at ``scar_value``."""
    radius, angle = _polar()
    ring = (radius >= INNER) & (radius < OUTER)
    scar = np.zeros_like(ring)
    if scar_sector is not None:
        start, end = scar_sector
        in_sector = ((angle - start) % 360.0) < ((end - start) % 360.0)
        scar = ring & in_sector & (radius < INNER + depth * (OUTER - INNER))
    lge = np.where(scar, scar_value, np.where(ring, 0.1, 0.0))
    inputs = np.stack([np.stack([ring, scar])] * n_slices).astype(np.float32)
    return inputs, np.stack([lge] * n_slices).astype(np.float32)


def test_transmural_sixth_of_the_ring() -> None:
    inputs, lge = _patient(6, (180.0, 240.0))
    features = scar_features(inputs, lge, pixel_spacing_mm=1.25, slice_spacing_mm=8.0)
    assert list(features) == list(SCAR_FEATURE_NAMES)
    assert features["scar_pct"] == pytest.approx(100 / 6, abs=0.7)
    assert features["core_pct"] == pytest.approx(features["scar_pct"])
    assert features["gray_zone_pct"] == 0.0
    assert features["mean_transmurality"] == pytest.approx(1.0, abs=0.05)
    assert features["scar_entropy_bits"] == 0.0  # one intensity only
    # basal 3 (inferoseptal) + mid 9 + apical septal (14, 50 % of it) and inferior (15, 1/6 of it)
    assert features["n_scar_segments"] == 4
    ring_ml = np.pi * (OUTER**2 - INNER**2) * 1.25**2 * 8.0 * 6 / 1000
    assert features["myocardium_mass_g"] == pytest.approx(1.05 * ring_ml, rel=0.02)
    assert features["scar_mass_g"] == pytest.approx(features["myocardium_mass_g"] / 6, rel=0.05)


def test_subendocardial_scar_has_half_transmurality() -> None:
    inputs, lge = _patient(4, (300.0, 60.0), depth=0.5)
    features = scar_features(inputs, lge)
    assert features["mean_transmurality"] == pytest.approx(0.5, abs=0.08)
    assert np.isnan(features["scar_mass_g"])  # no slice spacing given
    middle = (INNER + OUTER) / 2
    assert features["scar_pct"] == pytest.approx(
        100 / 3 * (middle**2 - INNER**2) / (OUTER**2 - INNER**2), abs=1.0
    )


def test_core_and_gray_zone_split_at_fifty_and_thirty_five_percent() -> None:
    inputs, lge = _patient(3, (120.0, 240.0))
    _, angle = _polar()
    flank = (inputs[0, 1] > 0) & ~((angle >= 150.0) & (angle < 210.0))
    lge[:, flank] = 0.42  # 42 % of the scar maximum: gray zone
    features = scar_features(inputs, lge)
    assert features["scar_pct"] == pytest.approx(100 / 3, abs=1.0)
    assert features["core_pct"] == pytest.approx(100 / 6, abs=1.0)
    assert features["gray_zone_pct"] == pytest.approx(100 / 6, abs=1.0)
    assert features["scar_entropy_bits"] == pytest.approx(1.0, abs=0.01)  # two equal halves


def test_gray_zone_outside_the_scar_counts_only_next_to_it() -> None:
    inputs, lge = _patient(3, (150.0, 210.0))
    _, angle = _polar()
    ring = inputs[0, 0] > 0
    lge[:, ring & (angle >= 210.0) & (angle < 240.0)] = 0.42  # next to the scar, outside its mask
    lge[:, ring & (angle >= 0.0) & (angle < 60.0)] = 0.42  # remote bright myocardium
    features = scar_features(inputs, lge, gray_zone_margin_mm=2.5)
    near_band_pct = 100 * 2.0 / (2 * np.pi * (INNER + OUTER) / 2)  # a band ~2 px wide along the scar edge
    assert 0 < features["gray_zone_pct"] < 3 * near_band_pct
    wider = scar_features(inputs, lge, gray_zone_margin_mm=50.0)
    assert wider["gray_zone_pct"] == pytest.approx(100 / 12 + 100 / 6, abs=1.0)
    assert scar_features(inputs, lge)["gray_zone_pct"] == wider["gray_zone_pct"]  # default: Roes' rule


def test_patient_without_scar() -> None:
    inputs, lge = _patient(5, None)
    features = scar_features(inputs, lge, slice_spacing_mm=10.0)
    assert features["scar_pct"] == features["core_pct"] == features["gray_zone_pct"] == 0.0
    assert features["scar_mass_g"] == 0.0 and features["myocardium_mass_g"] > 0
    assert (
        features["scar_entropy_bits"] == features["mean_transmurality"] == features["n_scar_segments"] == 0.0
    )


def test_entropy_of_uniform_intensities_is_five_bits() -> None:
    inputs, lge = _patient(1, (0.0, 360.0 - 1e-9))
    scar = inputs[0, 1] > 0
    values = (np.arange(scar.sum()) % 32 + 0.5) / 32
    lge[0][scar] = values
    assert scar_features(inputs, lge)["scar_entropy_bits"] == pytest.approx(5.0, abs=0.01)


@pytest.mark.parametrize(
    ("angle", "third", "segment"),
    [
        (0.0, 0, 6), (330.0, 0, 1), (270.0, 0, 2), (200.0, 0, 3), (170.0, 0, 4), (90.0, 0, 5),
        (330.0, 1, 7), (200.0, 1, 9), (240.0, 2, 14), (0.0, 2, 13), (60.0, 2, 16), (150.0, 2, 15),
    ],
)  # fmt: skip
def test_aha_segments_with_the_insertion_point_at_six_oclock(angle: float, third: int, segment: int) -> None:
    radius, clockwise = _polar()
    ring = (radius >= INNER) & (radius < OUTER)
    segments = aha_segment_map(ring, third, centre=np.array([SIZE // 2, SIZE // 2], dtype=float))
    pixel = ring & (np.abs((clockwise - angle + 180) % 360 - 180) < 2.0)
    assert set(np.unique(segments[pixel])) == {segment}
    assert segments[~ring].max() == 0


@pytest.mark.parametrize(
    ("territory", "segments"),
    [("LAD", {1, 2, 7, 8, 13, 14}), ("LCx", {5, 6, 11, 12, 16}), ("RCA", {3, 4, 9, 10, 14, 15})],
)
def test_phantom_territories_land_in_their_aha_segments_after_preprocessing(
    territory: str, segments: set[int]
) -> None:
    """Simulated infarcts (drawn rotated by 37°) through the real pipeline: orientation + segment map."""
    from cardiopredict.cmr.preprocess import preprocess_study
    from cardiopredict.cmr.simulate import simulate_lge_phantom

    study = simulate_lge_phantom(territory=territory, transmurality=1.0, rotation_deg=37.0, seed=1)
    arrays = preprocess_study(study, scar="labels")
    myo, scar = arrays.inputs[:, 0] > 0.5, arrays.inputs[:, 1] > 0.5
    assert set(scarred_segments(myo, scar)) == segments
    features = scar_features(arrays.inputs, arrays.lge, slice_spacing_mm=8.0)
    assert features["n_scar_segments"] == len(segments)
    assert features["mean_transmurality"] > 0.85
    assert features["scar_pct"] == pytest.approx(arrays.scar_burden_pct, abs=1.5)


def test_bad_input_is_named() -> None:
    inputs, lge = _patient(3, (0.0, 60.0))
    with pytest.raises(InputError, match=r"must be \(n_slices, 2, H, W\)"):
        scar_features(inputs, lge[:2])
    outside = inputs.copy()
    outside[0, 1, 0, 0] = 1.0
    with pytest.raises(InputError, match="1 scar pixels lie outside the myocardium"):
        scar_features(outside, lge)
    bad = lge.copy()
    bad[0][inputs[0, 0] > 0] = np.nan
    with pytest.raises(InputError, match="NaN/inf inside the myocardium"):
        scar_features(inputs, bad)
    empty = inputs.copy()
    empty[1] = 0
    with pytest.raises(InputError, match=r"slices \[1\] have an empty myocardium"):
        scar_features(empty, lge)
    with pytest.raises(InputError, match="must be > 0"):
        scar_features(inputs, lge, slice_spacing_mm=0.0)
