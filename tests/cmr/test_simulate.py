"""LGE phantom: anatomy, territories, known rotation recovered by the pipeline, DICOM export."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pydicom
import pytest

from cardiopredict.cmr.geometry import lv_centre, rotation_angle_deg
from cardiopredict.cmr.preprocess import preprocess_study
from cardiopredict.cmr.simulate import (
    GrayChannel,
    InfarctSpec,
    infarct_aha_segments,
    infarct_areas_mm2,
    simulate_infarct_lge,
    simulate_lge_phantom,
    write_lge_dicom,
    write_lge_nifti,
)
from cardiopredict.errors import InputError


def _angle_difference(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    return np.abs((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0)


def test_phantom_anatomy_is_plausible() -> None:
    study = simulate_lge_phantom(n_slices=6, seed=0)
    assert study.images.shape == (6, 192, 192) and study.images.dtype == np.float32
    assert set(np.unique(study.labels)) <= {0, 1, 2, 3, 5}
    dr = study.pixel_spacing_mm[0]
    for k in range(study.n_slices):
        thickness_mm = (
            np.hypot(*(study.epi[k] - study.epi[k].mean(0)).T)
            - np.hypot(*(study.endo[k] - study.endo[k].mean(0)).T)
        ).mean() * dr
        assert 6.0 <= thickness_mm <= 11.0
        images, labels = study.images[k], study.labels[k]
        # blood pool bright, nulled myocardium dark, scar brightest
        assert np.median(images[labels == 1]) > 4 * np.median(images[labels == 2])
        if (labels == 3).any():
            assert np.median(images[labels == 3]) > np.median(images[labels == 1])
    # the LV narrows from base (slice 0) to apex
    areas = (study.labels == 1).sum(axis=(1, 2))
    assert np.all(np.diff(areas) < 0)


@pytest.mark.parametrize(("territory", "quadrant"), [("LAD", "top"), ("LCx", "right"), ("RCA", "bottom")])
def test_scar_sits_in_its_coronary_territory(territory: str, quadrant: str) -> None:
    study = simulate_lge_phantom(n_slices=3, territory=territory, seed=1)
    for k in range(2):
        rows, cols = np.nonzero(study.labels[k] == 3)
        centre = lv_centre(study.myocardium_mask()[k])
        d_row, d_col = rows.mean() - centre[0], cols.mean() - centre[1]
        expected = {"top": d_row < -5, "right": d_col > 5, "bottom": d_row > 5}[quadrant]
        assert expected, (territory, d_row, d_col)


def test_transmurality_controls_scar_depth() -> None:
    thin = simulate_lge_phantom(n_slices=2, transmurality=0.3, seed=0)
    full = simulate_lge_phantom(n_slices=2, transmurality=1.0, seed=0)
    assert (thin.labels == 3).sum() < 0.5 * (full.labels == 3).sum()


def test_insertion_point_is_at_the_rv_junction() -> None:
    study = simulate_lge_phantom(n_slices=3, seed=0)
    for k in range(3):
        point = np.round(study.insertion_points[k]).astype(int)
        window = study.labels[k][point[0] - 3 : point[0] + 4, point[1] - 3 : point[1] + 4]
        assert (window == 5).any() and (window == 2).any()
        # inferior insertion point of a standard view: below and left of the LV centre
        centre = lv_centre(study.myocardium_mask()[k])
        assert point[0] > centre[0] and point[1] < centre[1]


@pytest.mark.parametrize("rotation", [-150.0, -40.0, 25.0, 90.0, 179.0])
def test_pipeline_recovers_a_known_rotation_within_5_degrees(rotation: float) -> None:
    reference = preprocess_study(simulate_lge_phantom(n_slices=4, seed=5), scar="labels")
    rotated = preprocess_study(simulate_lge_phantom(n_slices=4, rotation_deg=rotation, seed=5), scar="labels")
    # undoing the phantom's rotation: every slice is turned by `rotation` degrees less
    assert np.all(_angle_difference(reference.rotation_deg - rotated.rotation_deg, rotation) < 5.0)
    # and the oriented myocardium/scar masks agree with the unrotated phantom's
    for channel in (0, 1):
        a, b = reference.inputs[:, channel] > 0, rotated.inputs[:, channel] > 0
        assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.85


@pytest.mark.parametrize("rotation", [-30.0, 20.0])
def test_rotation_recovered_from_the_rv_label_alone(rotation: float) -> None:
    def angles(rot: float) -> np.ndarray:
        study = simulate_lge_phantom(n_slices=4, rotation_deg=rot, seed=2)
        return preprocess_study(study.replace(insertion_points=[]), scar="labels").rotation_deg

    # The RV-derived junction end is a pixel (2-3 degrees at this size) of a 3-px band: per slice within
    # 8 degrees, the patient's median within 5.
    error = _angle_difference(angles(0.0) - angles(rotation), rotation)
    assert np.median(error) < 5.0 and error.max() < 8.0


def test_rotated_insertion_point_lands_at_six_oclock() -> None:
    study = simulate_lge_phantom(n_slices=3, rotation_deg=70.0, seed=0)
    arrays = preprocess_study(study, scar="labels")
    from cardiopredict.cmr.geometry import rotate_points

    for i in range(arrays.n_selected):
        centre = arrays.lv_centre_rc[i]
        point = rotate_points(arrays.insertion_point_rc[i], centre, arrays.rotation_deg[i])
        assert abs(rotation_angle_deg(centre, point)) < 1e-6
        assert point[0] > centre[0]


def test_write_lge_dicom_writes_a_series_with_geometry_and_contours(tmp_path) -> None:
    study = simulate_lge_phantom(n_slices=3, shape=(96, 112), pixel_spacing_mm=(1.5, 1.25), seed=0)
    out = write_lge_dicom(study, tmp_path / "series")
    files = sorted(out.glob("*.dcm"))
    assert len(files) == 3
    uids = set()
    for k, path in enumerate(files):
        ds = pydicom.dcmread(path)
        uids.add(ds.SeriesInstanceUID)
        assert ds.Modality == "MR"
        assert [float(v) for v in ds.PixelSpacing] == [1.5, 1.25]
        orientation = np.asarray(ds.ImageOrientationPatient, dtype=float)
        normal = np.cross(orientation[:3], orientation[3:])
        position = float(np.asarray(ds.ImagePositionPatient, dtype=float) @ normal)
        assert position == pytest.approx(study.slice_positions_mm[k], abs=1e-3)
        assert (ds.Rows, ds.Columns) == (96, 112)
        values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        span = float(study.images.max() - study.images.min())
        assert np.abs(values - study.images[k]).max() <= span / 4095.0
    assert len(uids) == 1
    contours = json.loads((out / "contours.json").read_text())
    assert [entry["instance_number"] for entry in contours["slices"]] == [1, 2, 3]
    x, y = contours["slices"][1]["insertion_point"]
    np.testing.assert_allclose([y, x], study.insertion_points[1], atol=1e-3)
    with pytest.raises(InputError, match="overwrite"):
        write_lge_dicom(study, out)


def test_dicom_export_reads_back_and_keeps_the_orientation(tmp_path) -> None:
    from cardiopredict.cmr.io import read_lge

    study = simulate_lge_phantom(n_slices=4, rotation_deg=-65.0, seed=4)
    out = write_lge_dicom(study, tmp_path / "series")
    read = read_lge(out, contours=out / "contours.json")
    span = float(study.images.max() - study.images.min())
    assert np.abs(read.images - study.images).max() <= span / 4095.0
    np.testing.assert_allclose(read.slice_positions_mm, study.slice_positions_mm, atol=1e-3)
    direct = preprocess_study(study, scar="fwhm")
    exported = preprocess_study(read, scar="fwhm")
    assert np.all(_angle_difference(direct.rotation_deg, exported.rotation_deg) < 1.0)


def test_bad_phantom_parameters_are_refused() -> None:
    with pytest.raises(InputError, match="transmurality"):
        simulate_lge_phantom(transmurality=1.5)
    with pytest.raises(InputError, match="territory"):
        simulate_lge_phantom(territory="LM")  # type: ignore[arg-type]


# --- the ischaemic infarct phantom of the VA cohort ------------------------------------------------
def _infarct(**changes) -> InfarctSpec:
    base = {"n_slices": 5, "shape": (160, 160), "pixel_spacing_mm": 1.5, "transmurality": 0.9}
    return InfarctSpec(**{**base, **changes})


def test_infarct_areas_match_the_rendered_masks() -> None:
    spec = _infarct(channels=(GrayChannel(1, 3, 0.4, 0.6, 3.0),), gray_border_mm=3.0, rotation_deg=35.0)
    phantom = simulate_infarct_lge(spec, seed=0)
    areas = infarct_areas_mm2(spec)
    pixel_mm2 = spec.pixel_spacing_mm**2
    for name, mask in (
        ("myocardium", phantom.study.myocardium_mask()),
        ("core", phantom.core),
        ("gray_zone", phantom.gray_zone),
        ("channel", phantom.channel),
    ):
        assert mask.sum() * pixel_mm2 == pytest.approx(areas[name].sum(), rel=0.06), name
    assert not (phantom.core & phantom.gray_zone).any()
    assert (phantom.channel <= phantom.gray_zone).all()
    assert (phantom.study.labels[phantom.core] == 3).all()


def test_infarct_intensities_core_gray_zone_and_nulled_myocardium() -> None:
    phantom = simulate_infarct_lge(_infarct(gray_border_mm=3.0), seed=1)
    images, labels = phantom.study.images, phantom.study.labels
    healthy = (labels == 2) & ~phantom.gray_zone
    core, gray, blood = (np.median(images[m]) for m in (phantom.core, phantom.gray_zone, labels == 1))
    assert core > blood > 4 * np.median(images[healthy])
    assert np.median(images[healthy]) < gray < core
    # scar only on the slices of its span; the territory decides where it sits
    assert not phantom.core[0].any() and phantom.core[-1].any()  # LAD default span (0.2, 1.0)


@pytest.mark.parametrize(("territory", "quadrant"), [("LAD", "top"), ("LCx", "right"), ("RCA", "bottom")])
def test_infarct_sits_in_its_territory(territory: str, quadrant: str) -> None:
    spec = _infarct(territory=territory, scar_span=(0.0, 0.8))
    phantom = simulate_infarct_lge(spec, seed=2)
    rows, cols = np.nonzero(phantom.core[1])
    centre = lv_centre(phantom.study.myocardium_mask()[1])
    d_row, d_col = rows.mean() - centre[0], cols.mean() - centre[1]
    assert {"top": d_row < -5, "right": d_col > 5, "bottom": d_row > 5}[quadrant], (d_row, d_col)


# Textbook coronary territories of the AHA segments (the apical septum 14 is shared by LAD and RCA).
_AHA_TERRITORY = {"LAD": {1, 2, 7, 8, 13, 14}, "LCx": {5, 6, 11, 12, 16}, "RCA": {3, 4, 9, 10, 14, 15}}


@pytest.mark.parametrize("territory", ["LAD", "LCx", "RCA"])
def test_infarct_aha_segments_follow_the_territory(territory: str) -> None:
    spec = _infarct(territory=territory, n_slices=9, scar_span=(0.0, 1.0), extent_deg=60.0)
    found = set(infarct_aha_segments(spec))
    assert found <= _AHA_TERRITORY[territory] and len(found) >= 5
    basal_only = set(infarct_aha_segments(_infarct(territory=territory, n_slices=9, scar_span=(0.0, 0.3))))
    assert basal_only and max(basal_only) <= 6


def test_infarct_phantom_insertion_points_and_contours() -> None:
    study = simulate_infarct_lge(_infarct(rotation_deg=-30.0), seed=3).study
    for k in range(study.n_slices):
        point = np.round(study.insertion_points[k]).astype(int)
        window = study.labels[k][point[0] - 3 : point[0] + 4, point[1] - 3 : point[1] + 4]
        assert (window == 5).any() and (window == 2).any()
    arrays = preprocess_study(study, scar="labels")
    assert arrays.excluded is None and arrays.n_selected == study.n_slices


def test_bad_infarct_spec_is_refused() -> None:
    with pytest.raises(InputError, match="territory"):
        simulate_infarct_lge(_infarct(territory="LM"))  # type: ignore[arg-type]


def test_seeded_dicom_and_nifti_are_byte_identical_and_read_back(tmp_path) -> None:
    from cardiopredict.cmr.io import read_lge

    study = simulate_infarct_lge(_infarct(n_slices=3, rotation_deg=10.0), seed=4).study
    a = write_lge_dicom(study, tmp_path / "a", contours=False, uid_seed="p1", study_date=date(2020, 1, 1))
    b = write_lge_dicom(study, tmp_path / "b", contours=False, uid_seed="p1", study_date=date(2020, 1, 1))
    for name in ("IM_0001.dcm", "IM_0003.dcm"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert pydicom.dcmread(a / "IM_0001.dcm").StudyDate == "20200101"
    assert len({pydicom.dcmread(p).SOPInstanceUID for p in a.glob("*.dcm")}) == 3
    first = write_lge_nifti(study, tmp_path / "a.nii.gz")
    second = write_lge_nifti(study, tmp_path / "b.nii.gz")
    assert first.read_bytes() == second.read_bytes()
    read = read_lge(first, labels=None)
    assert read.meta["reorientation"] == {"transpose": False, "flip_rows": False, "flip_cols": False}
    span = float(study.images.max() - study.images.min())
    assert np.abs(read.images - study.images).max() <= span / 30000.0  # int16 with scl_slope
    np.testing.assert_allclose(read.slice_positions_mm, study.slice_positions_mm, atol=1e-4)
