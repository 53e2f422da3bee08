"""Min-max normalisation inside the myocardium."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict.cmr.intensity import normalize_in_mask
from cardiopredict.errors import EmptyMyocardiumError, GeometryError, IntensityError


def test_range_is_zero_one_inside_and_zero_outside():
    rng = np.random.default_rng(0)
    image = rng.normal(500.0, 80.0, (40, 50))
    mask = np.zeros((40, 50), dtype=bool)
    mask[10:30, 15:35] = True
    out = normalize_in_mask(image, mask)
    assert out.dtype == np.float32
    assert out[mask].min() == 0.0 and out[mask].max() == pytest.approx(1.0)
    assert (out[~mask] == 0).all()
    # Monotone: the order of pixel values inside the mask is kept.
    assert np.array_equal(np.argsort(image[mask], kind="stable"), np.argsort(out[mask], kind="stable"))


def test_values_outside_the_mask_do_not_matter():
    image = np.zeros((10, 10))
    mask = np.zeros((10, 10), dtype=bool)
    mask[2:5, 2:5] = True
    image[mask] = np.arange(9)
    image[0, 0] = 1e9
    image[9, 9] = np.nan  # non-finite outside the myocardium is ignored
    out = normalize_in_mask(image, mask)
    np.testing.assert_allclose(out[mask], np.arange(9) / 8.0)


def test_stack_is_normalised_per_slice():
    image = np.stack([np.arange(16.0).reshape(4, 4), 100 + 10 * np.arange(16.0).reshape(4, 4)])
    mask = np.ones_like(image, dtype=bool)
    out = normalize_in_mask(image, mask)
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


def test_constant_myocardium_is_a_clear_error():
    image = np.full((10, 10), 7.0)
    mask = np.zeros((10, 10), dtype=bool)
    mask[3:6, 3:6] = True
    with pytest.raises(IntensityError, match="constant"):
        normalize_in_mask(image, mask)


def test_empty_mask_and_non_finite_inside_and_shape_mismatch():
    image = np.arange(100.0).reshape(10, 10)
    with pytest.raises(EmptyMyocardiumError, match="empty"):
        normalize_in_mask(image, np.zeros((10, 10), dtype=bool))
    mask = np.ones((10, 10), dtype=bool)
    bad = image.copy()
    bad[5, 5] = np.nan
    with pytest.raises(IntensityError, match="non-finite"):
        normalize_in_mask(bad, mask)
    with pytest.raises(GeometryError, match="same shape"):
        normalize_in_mask(image, mask[:5])
    stack = np.stack([image, image])
    stack_mask = np.stack([mask, np.zeros_like(mask)])
    with pytest.raises(EmptyMyocardiumError, match="slice 1"):
        normalize_in_mask(stack, stack_mask)
