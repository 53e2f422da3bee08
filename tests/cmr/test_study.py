"""LGEStudy: validation of every field and the mask helpers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import ContourError, IntensityError, LGEFormatError, SpacingError


def circle(centre, radius, n=120):
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + radius * np.sin(t), centre[1] + radius * np.cos(t)])


def make(**changes):
    fields = {
        "images": np.random.default_rng(0).random((3, 64, 72)),
        "pixel_spacing_mm": (1.5, 1.4),
        "slice_positions_mm": [0.0, 8.0, 16.0],
        "patient_id": "P1",
    }
    fields.update(changes)
    return LGEStudy(**fields)


def test_minimal_study_defaults_and_types():
    study = make()
    assert study.images.dtype == np.float32 and study.images.shape == (3, 64, 72)
    assert study.n_slices == 3 and study.shape == (64, 72)
    assert study.pixel_spacing_mm == (1.5, 1.4)
    assert study.endo == [None] * 3 and study.epi == [None] * 3 and study.insertion_points == [None] * 3
    assert study.slice_thickness_mm == 8.0
    assert make(meta={"slice_thickness_mm": 10.0}).slice_thickness_mm == 10.0
    assert "P1" in repr(study)


def test_study_is_frozen():
    study = make()
    with pytest.raises(dataclasses.FrozenInstanceError):
        study.patient_id = "other"  # type: ignore[misc]


def test_myocardium_from_contours_and_from_labels():
    epi, endo = circle((32.0, 36.0), 20.0), circle((32.0, 36.0), 12.0)
    study = make(
        epi=[epi, None, None], endo=[endo, None, None], insertion_points=[np.array([50.0, 20.0]), None, None]
    )
    myo = study.myocardium_mask()
    assert myo.shape == (3, 64, 72) and myo[0].sum() > 500 and not myo[1:].any()
    labels = np.zeros((3, 64, 72), dtype=np.uint8)
    labels[:, 10:20, 10:20] = 2
    labels[:, 12:14, 12:14] = 3
    labels[:, 15, 15] = 4
    labels[:, 30:40, 30:40] = 5
    labelled = make(labels=labels, label_convention="emidec")
    assert labelled.myocardium_mask()[0].sum() == 100
    assert labelled.scar_label_mask()[0].sum() == 5
    assert labelled.rv_mask()[0].sum() == 100
    assert labelled.lv_blood_pool_mask().sum() == 0


def test_select_keeps_slices_in_order():
    labels = np.zeros((3, 64, 72), dtype=np.uint8)
    labels[2, 0, 0] = 1
    study = make(labels=labels, label_convention="canonical", epi=[None, None, circle((30, 30), 10)])
    picked = study.select([2, 0])
    assert picked.n_slices == 2 and picked.labels[0, 0, 0] == 1
    np.testing.assert_array_equal(picked.slice_positions_mm, [16.0, 0.0])
    assert picked.epi[0] is not None and picked.epi[1] is None
    with pytest.raises(IndexError):
        study.select([3])


def test_no_labels_means_no_scar_label():
    with pytest.raises(LGEFormatError, match="no label map"):
        make().scar_label_mask()
    with pytest.raises(LGEFormatError, match="neither labels nor epicardial"):
        make().myocardium_mask()


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"images": np.zeros((64, 72))}, LGEFormatError, r"shape \(n_slices, H, W\)"),
        ({"images": np.array([[["a"]]])}, LGEFormatError, "real numbers"),
        ({"pixel_spacing_mm": None}, SpacingError, "pixel_spacing_mm="),
        ({"pixel_spacing_mm": (0.0, 1.0)}, SpacingError, "two positive numbers"),
        ({"pixel_spacing_mm": (np.nan, 1.0)}, SpacingError, "two positive numbers"),
        ({"slice_positions_mm": [0.0, 1.0]}, LGEFormatError, "3 finite values"),
        ({"slice_positions_mm": [0.0, np.inf, 1.0]}, LGEFormatError, "finite"),
        ({"epi": [None, None]}, LGEFormatError, "2 entries for 3 slices"),
        ({"epi": [circle((32, 70), 10), None, None]}, ContourError, "outside the 64x72 image"),
        (
            {"endo": [np.array([[1.0, 1.0], [np.nan, 2.0], [3.0, 3.0]]), None, None]},
            ContourError,
            "non-finite",
        ),
        ({"insertion_points": [np.array([100.0, 5.0]), None, None]}, ContourError, "outside"),
        ({"insertion_points": [np.array([np.nan, 5.0]), None, None]}, ContourError, "finite"),
        ({"labels": np.full((3, 64, 72), 7)}, LGEFormatError, "canonical values 0-5"),
        ({"labels": np.zeros((3, 64, 70), dtype=np.uint8)}, LGEFormatError, "differs from images shape"),
        ({"labels": np.zeros((3, 64, 72), dtype=np.uint8)}, LGEFormatError, "label_convention must be"),
        ({"label_convention": "myops"}, LGEFormatError, "without labels"),
    ],
)
def test_bad_fields_raise_named_errors(changes, error, match):
    with pytest.raises(error, match=match):
        make(**changes)


def test_non_finite_pixels_are_reported_with_slice_and_count():
    images = np.ones((3, 8, 8))
    images[1, 2, 3] = np.nan
    images[1, 4, 4] = np.inf
    with pytest.raises(IntensityError, match=r"slice\(s\) \[1\] \(\[2\] pixels\)"):
        make(images=images)
