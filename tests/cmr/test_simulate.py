"""LGE phantom: anatomy, territories, known rotation recovered by the pipeline, DICOM export."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from cardiopredict.cmr.geometry import lv_centre, rotation_angle_deg
from cardiopredict.cmr.preprocess import preprocess_study
from cardiopredict.cmr.simulate import simulate_lge_phantom, write_lge_dicom
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
