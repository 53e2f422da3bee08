"""Model inputs from LGE studies: channels, orientation, slice selection, exclusions, cohort arrays."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cardiopredict.cmr.geometry import (
    crop_centred,
    oriented_points,
    resample_points,
    resample_to_spacing,
    rotate_about,
)
from cardiopredict.cmr.preprocess import load_cohort_arrays, preprocess_study, select_slices
from cardiopredict.cmr.scar import FWHM, NSD, LabelScar
from cardiopredict.cmr.simulate import simulate_lge_phantom, write_lge_dicom
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import InputError, ManifestError
from cardiopredict.features import preprocess_cohort


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


def test_inputs_are_binary_channels_with_scar_inside_the_myocardium() -> None:
    study = simulate_lge_phantom(n_slices=5, rotation_deg=15.0, seed=0)
    arrays = preprocess_study(study, scar=NSD(n_sd=3))
    assert arrays.excluded is None
    assert arrays.inputs.shape == (5, 2, 128, 128) and arrays.inputs.dtype == np.float32
    assert arrays.lge.shape == (5, 128, 128) and arrays.lge.dtype == np.float32
    assert set(np.unique(arrays.inputs)) <= {0.0, 1.0}
    myo, scar = arrays.inputs[:, 0] > 0, arrays.inputs[:, 1] > 0
    assert not (scar & ~myo).any() and scar.any()
    # normalised by the native myocardium's min/max; after bilinear resampling only border pixels (mixed
    # with the bright blood pool) leave [0, 1]
    inside = (arrays.lge[myo] >= -0.01) & (arrays.lge[myo] <= 1.01)
    assert inside.mean() > 0.9 and arrays.lge[myo].min() >= -0.01
    assert 0.0 < arrays.scar_burden_pct < 60.0 and arrays.scar_grams > 0
    # the LV centre sits at the crop centre
    for k in range(arrays.n_selected):
        rows, cols = np.nonzero(myo[k])
        assert abs(rows.mean() - 64) < 3 and abs(cols.mean() - 64) < 3


def test_resampling_gives_the_target_pixel_size() -> None:
    coarse = simulate_lge_phantom(n_slices=3, pixel_spacing_mm=(1.6, 1.6), shape=(160, 160), seed=0)
    fine = simulate_lge_phantom(n_slices=3, pixel_spacing_mm=(0.8, 0.8), shape=(320, 320), seed=0)
    a = preprocess_study(coarse, scar="labels").inputs[:, 0] > 0
    b = preprocess_study(fine, scar="labels").inputs[:, 0] > 0
    assert _dice(a, b) > 0.85
    # 128 px at 1.25 mm: myocardium area in mm² is preserved
    area_mm2 = a.sum(axis=(1, 2)) * 1.25**2
    native = coarse.myocardium_mask().sum(axis=(1, 2)) * 1.6**2
    np.testing.assert_allclose(area_mm2, native, rtol=0.1)


def test_one_interpolation_matches_rotate_resample_crop_of_geometry() -> None:
    study = simulate_lge_phantom(n_slices=1, rotation_deg=-50.0, pixel_spacing_mm=(1.4, 1.4), seed=1)
    arrays = preprocess_study(study, scar="labels", min_slices=1)
    centre, angle = arrays.lv_centre_rc[0], arrays.rotation_deg[0]
    myo = study.myocardium_mask()[0]
    chained = rotate_about(myo, centre, angle)
    chained = resample_to_spacing(chained, study.pixel_spacing_mm, 1.25)
    chained = crop_centred(chained, resample_points(centre, study.pixel_spacing_mm, 1.25))
    assert _dice(chained, arrays.inputs[0, 0] > 0) > 0.9
    point = oriented_points(arrays.insertion_point_rc[0], centre, angle, spacing_mm=study.pixel_spacing_mm)
    assert point[0] > 64 and abs(point[1] - 64) < 1e-6  # insertion point straight below the centre


def test_select_slices_orders_base_to_apex_and_caps_at_ten() -> None:
    study = simulate_lge_phantom(n_slices=14, seed=0)  # slice 0 is the base
    chosen = select_slices(study, range(14))
    assert len(chosen) == 10 and chosen[0] == 0 and chosen[-1] == 13
    assert chosen == sorted(chosen)
    flipped = study.replace(slice_positions_mm=-study.slice_positions_mm, meta={})
    assert select_slices(flipped, range(14))[0] == 0  # by LV size, not by the sign of the positions
    reversed_stack = study.select(list(range(13, -1, -1))).replace(meta={})
    assert select_slices(reversed_stack, range(14))[0] == 13  # index 13 now holds the base


def test_fewer_than_three_usable_slices_excludes_the_patient() -> None:
    study = simulate_lge_phantom(n_slices=2, seed=0)
    arrays = preprocess_study(study)
    assert arrays.excluded is not None and "2 usable slice(s) < 3" in arrays.excluded
    assert arrays.inputs.shape == (0, 2, 128, 128)


def test_slices_without_myocardium_are_dropped_with_a_reason() -> None:
    study = simulate_lge_phantom(n_slices=5, seed=0)
    labels = study.labels.copy()
    labels[4][np.isin(labels[4], (2, 3))] = 0
    arrays = preprocess_study(study.replace(labels=labels))
    assert list(arrays.slice_indices) == [0, 1, 2, 3]
    assert any(note.startswith("slice 4: myocardium 0 mm²") for note in arrays.dropped)


def test_no_rv_and_no_insertion_point_excludes_instead_of_guessing() -> None:
    study = simulate_lge_phantom(n_slices=4, seed=0)
    labels = study.labels.copy()
    labels[labels == 5] = 0
    arrays = preprocess_study(study.replace(labels=labels, insertion_points=[]))
    assert arrays.excluded is not None and "RV" in arrays.excluded


def test_contour_only_study_works_and_labels_method_excludes_with_reason() -> None:
    study = simulate_lge_phantom(n_slices=4, seed=0)
    contours_only = study.replace(labels=None, label_convention=None)
    arrays = preprocess_study(contours_only, scar="fwhm")
    assert arrays.excluded is None and arrays.n_selected == 4
    with_labels = preprocess_study(study, scar="labels")
    assert _dice(arrays.inputs[:, 0] > 0, with_labels.inputs[:, 0] > 0) > 0.9
    no_labels = preprocess_study(contours_only, scar="labels")
    assert no_labels.excluded is not None and "labels" in no_labels.excluded


def test_study_without_any_myocardium_is_excluded() -> None:
    images = np.random.default_rng(0).normal(size=(3, 32, 32)).astype(np.float32)
    study = LGEStudy(images=images, pixel_spacing_mm=(1.0, 1.0), slice_positions_mm=np.arange(3.0))
    arrays = preprocess_study(study)
    assert arrays.excluded is not None and arrays.excluded.startswith("no myocardium")


@pytest.fixture(scope="module")
def cohort_manifest(tmp_path_factory) -> tuple:
    root = tmp_path_factory.mktemp("cohort")
    good = simulate_lge_phantom(n_slices=4, rotation_deg=30.0, patient_id="P1", seed=1)
    write_lge_dicom(good, root / "P1")
    write_lge_dicom(simulate_lge_phantom(n_slices=12, patient_id="P2", seed=2), root / "P2")
    write_lge_dicom(simulate_lge_phantom(n_slices=2, patient_id="P3", seed=3), root / "P3")
    write_lge_dicom(simulate_lge_phantom(n_slices=4, patient_id="P4", seed=4), root / "P4", contours=False)
    write_lge_dicom(simulate_lge_phantom(n_slices=4, patient_id="P6", seed=6), root / "P6")
    broken = json.loads((root / "P6" / "contours.json").read_text())
    broken["slices"][1]["epicardium"][0] = [900.0, 12.0]  # a vertex far outside the 192x192 image
    (root / "P6" / "contours.json").write_text(json.dumps(broken))
    rows = [
        {"patient_id": "P1", "lge": "P1", "contours": "P1/contours.json", "va": 1},
        {"patient_id": "P2", "lge": "P2", "contours": "P2/contours.json", "va": 0},
        {"patient_id": "P3", "lge": "P3", "contours": "P3/contours.json", "va": 0},
        {"patient_id": "P4", "lge": "P4", "contours": "", "va": 1},
        {"patient_id": "P5", "lge": "missing_folder", "contours": "", "va": 0},
        {"patient_id": "P6", "lge": "P6", "contours": "P6/contours.json", "va": 1},
    ]
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest, good


def test_preprocess_cohort_writes_one_memmap_and_accounts_for_every_patient(
    cohort_manifest, tmp_path
) -> None:
    manifest, good = cohort_manifest
    out = preprocess_cohort(manifest, tmp_path / "arrays", scar="fwhm")
    inputs, lge, index = load_cohort_arrays(out)
    assert isinstance(inputs, np.memmap) and inputs.dtype == np.float32
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str)
    assert set(index.patient_id) == {"P1", "P2"}
    assert set(exclusions.patient_id) == {"P3", "P4", "P5", "P6"}
    reasons = dict(zip(exclusions.patient_id, exclusions.reason, strict=True))
    assert "outside" in reasons["P6"]
    assert "< 3" in reasons["P3"] and "no myocardium" in reasons["P4"] and "not found" in reasons["P5"]
    assert inputs.shape == (int(index.n_slices.sum()), 2, 128, 128) and lge.shape == (len(inputs), 128, 128)
    p2 = index.set_index("patient_id").loc["P2"]
    assert p2.n_slices == 10 and p2.slice_indices.split(";")[0] == "0"
    # the rows of P1 equal preprocessing its study directly
    p1 = index.set_index("patient_id").loc["P1"]
    direct = preprocess_study(good, scar="fwhm")
    block = inputs[p1.row_start : p1.row_start + p1.n_slices]
    assert _dice(block[:, 0] > 0, direct.inputs[:, 0] > 0) > 0.97
    assert not list(out.glob(".*tmp"))


def test_preprocess_cohort_refuses_a_manifest_without_lge_column(tmp_path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("patient_id,image\nP1,a.nii.gz\n")
    with pytest.raises(ManifestError, match="lge"):
        preprocess_cohort(manifest, tmp_path / "out")


def test_a_slice_without_insertion_point_takes_its_neighbours_rotation_and_says_so() -> None:
    study = simulate_lge_phantom(n_slices=4, rotation_deg=30.0, seed=0)
    points = list(study.insertion_points)
    points[3] = None
    labels = study.labels.copy()
    labels[3][labels[3] == 5] = 0  # no RV on the apical slice
    partial = study.replace(insertion_points=points, labels=labels)
    arrays = preprocess_study(partial, scar="labels")
    assert list(arrays.slice_indices) == [0, 1, 2, 3]
    assert arrays.rotation_deg[3] == arrays.rotation_deg[2]
    assert arrays.notes == [arrays.notes[0]] and arrays.notes[0].startswith("slice 3: rotation of slice 2")
    assert np.isnan(arrays.insertion_point_rc[3]).all()
    strict = preprocess_study(partial, scar="labels", insertion_fallback="none")
    assert list(strict.slice_indices) == [0, 1, 2] and strict.dropped[0].startswith("slice 3:")


@pytest.mark.realdata
def test_myops_orientation_puts_the_rv_at_the_lower_left(cmr_dir) -> None:
    """After orientation the RV blood pool (expert label) lies left of and not above the LV on real LGE."""
    from cardiopredict.cmr.io import read_lge

    cases = sorted((cmr_dir / "myops_multiseq_tengjia" / "Train").glob("Case30[0-1]*"))[:6]
    if not cases:
        pytest.skip("MyoPS cases not found")
    for case in cases:
        study = read_lge(case)
        arrays = preprocess_study(study, scar="labels", min_slices=1)
        assert arrays.excluded is None, arrays.excluded
        rv = study.rv_mask()
        for i, k in enumerate(arrays.slice_indices):
            if not rv[k].any() or not np.isfinite(arrays.insertion_point_rc[i]).all():
                continue
            place = {"centre": arrays.lv_centre_rc[i], "angle_deg": arrays.rotation_deg[i]}
            rv_centre = oriented_points(
                np.argwhere(rv[k]).mean(axis=0), **place, spacing_mm=study.pixel_spacing_mm
            )
            point = oriented_points(arrays.insertion_point_rc[i], **place, spacing_mm=study.pixel_spacing_mm)
            assert point[0] > 64 and abs(point[1] - 64) < 1.0, (case.name, k)
            assert rv_centre[1] < 64 - 5 and rv_centre[0] > 64 - 15, (case.name, k, rv_centre)


def _write_nifti(study: LGEStudy, folder, *, truncate: bool = False):
    """The study as ``<id>_LGE.nii.gz`` + ``<id>_gd.nii.gz`` (canonical labels) in ``folder``."""
    import nibabel as nib

    folder.mkdir(parents=True, exist_ok=True)
    affine = np.diag([*study.pixel_spacing_mm, 8.0, 1.0])
    image = folder / f"{study.patient_id}_LGE.nii.gz"
    nib.save(nib.Nifti1Image(np.transpose(study.images, (1, 2, 0)).astype(np.float32), affine), image)
    nib.save(
        nib.Nifti1Image(np.transpose(study.labels, (1, 2, 0)).astype(np.uint8), affine),
        folder / f"{study.patient_id}_gd.nii.gz",
    )
    if truncate:
        data = image.read_bytes()
        image.write_bytes(data[: len(data) // 2])
    return image


def test_oriented_slice_is_the_single_affine_of_geometry_bit_for_bit() -> None:
    """The pipeline's crop equals one scipy affine_transform with the matrix written out by hand."""
    from scipy import ndimage

    from cardiopredict.cmr.preprocess import oriented_slice

    study = simulate_lge_phantom(n_slices=1, rotation_deg=-35.0, pixel_spacing_mm=(1.3, 1.1), seed=2)
    arrays = preprocess_study(study, scar=LabelScar(), min_slices=1)
    image, myo = study.images[0], study.myocardium_mask()[0]
    centre, angle = arrays.lv_centre_rc[0], arrays.rotation_deg[0]
    a = np.radians(angle)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    matrix = np.diag(1.25 / np.asarray(study.pixel_spacing_mm)) @ rotation.T
    offset = centre - matrix @ np.full(2, 64.0)

    def warp(values: np.ndarray) -> np.ndarray:
        return ndimage.affine_transform(values, matrix, offset=offset, output_shape=(128, 128), order=1)

    lo, hi = image[myo].min(), image[myo].max()
    lge, myo_crop = oriented_slice(image, myo, centre, angle, spacing_mm=study.pixel_spacing_mm)
    np.testing.assert_array_equal(lge, ((warp(image) - lo) / (hi - lo)).astype(np.float32))
    np.testing.assert_array_equal(myo_crop, warp(myo.astype(np.float32)) >= 0.5)
    np.testing.assert_array_equal(arrays.lge[0], lge)
    np.testing.assert_array_equal(arrays.inputs[0, 0], myo_crop)


def test_one_truncated_nifti_among_four_patients_is_excluded_and_the_rest_go_on(tmp_path) -> None:
    rows = []
    for i in range(4):
        study = simulate_lge_phantom(n_slices=4, rotation_deg=10.0 * i, patient_id=f"N{i}", seed=10 + i)
        image = _write_nifti(study, tmp_path / f"N{i}", truncate=i == 2)
        rows.append({"patient_id": f"N{i}", "lge": str(image.relative_to(tmp_path))})
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    out = preprocess_cohort(manifest, tmp_path / "out", scar=LabelScar())
    _, _, index = load_cohort_arrays(out)
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str)
    assert list(index.patient_id) == ["N0", "N1", "N3"]
    assert list(exclusions.patient_id) == ["N2"]
    reason = exclusions.reason[0]
    assert reason.startswith("cannot read") and "N2_LGE.nii.gz" in reason, reason
    summary = json.loads((out / "preprocess.json").read_text())
    assert (
        summary["included"] == 3
        and summary["excluded"] == 1
        and summary["scar"]
        == {
            "name": "labels",
            "scar_labels": [3, 4],
            "gray_zone": "fwhm",
        }
    )


class _Exploding:
    """A segmenter that fails unexpectedly on one patient (its second slice count)."""

    name = "exploding"

    def __call__(self, images, myo_mask, *, pixel_spacing_mm, labels=None, rotation_deg=None):
        if len(images) == 5:
            raise RuntimeError("kaboom")
        return NSD()(images, myo_mask, pixel_spacing_mm=pixel_spacing_mm)

    def describe(self):
        return {"name": self.name}


def test_an_unexpected_error_in_one_patient_is_recorded_with_its_type(tmp_path) -> None:
    rows = []
    for i, n in enumerate((4, 5, 4)):
        study = simulate_lge_phantom(n_slices=n, patient_id=f"U{i}", seed=20 + i)
        image = _write_nifti(study, tmp_path / f"U{i}")
        rows.append({"patient_id": f"U{i}", "lge": str(image.relative_to(tmp_path))})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    out = preprocess_cohort(tmp_path / "m.csv", tmp_path / "out", scar=_Exploding())
    exclusions = pd.read_csv(out / "exclusions.csv", dtype=str)
    assert list(exclusions.patient_id) == ["U1"]
    assert exclusions.reason[0] == "unexpected RuntimeError: kaboom"
    assert list(load_cohort_arrays(out)[2].patient_id) == ["U0", "U2"]


def test_string_specs_and_objects_give_the_same_arrays() -> None:
    study = simulate_lge_phantom(n_slices=4, rotation_deg=25.0, seed=4)
    by_object = preprocess_study(study, scar=FWHM(baseline="remote"))
    by_spec = preprocess_study(study, scar="fwhm")
    np.testing.assert_array_equal(preprocess_study(study, scar=FWHM()).inputs, by_spec.inputs)
    assert by_object.inputs.shape == by_spec.inputs.shape
    with pytest.raises(InputError, match="unknown scar method"):
        preprocess_study(study, scar="otsu")
