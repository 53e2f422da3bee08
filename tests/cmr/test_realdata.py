"""Readers and geometry on one case of each real public dataset (../shared/data/cmr, never copied here)."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict import read_lge
from cardiopredict.cmr import geometry as g
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import ContourError, InsertionPointError

pytestmark = pytest.mark.realdata


def need(path):
    if not path.exists():
        pytest.skip(f"{path} is absent from the shared data folder")
    return path


def check_basic(study: LGEStudy, *, n_slices: int, labels: set[int] | None):
    assert isinstance(study, LGEStudy)
    assert study.n_slices == n_slices
    assert all(s > 0 for s in study.pixel_spacing_mm)
    assert np.isfinite(study.images).all()
    if labels is not None:
        assert set(np.unique(study.labels).tolist()) == labels


def test_myops_case_labels_and_orientation(cmr_dir):
    study = read_lge(need(cmr_dir / "myops_multiseq_tengjia" / "Train" / "Case3001"))
    check_basic(study, n_slices=5, labels={0, 1, 2, 3, 5})
    assert study.label_convention == "myops" and study.pixel_spacing_mm[0] == pytest.approx(0.729, abs=1e-3)
    assert np.all(np.diff(study.slice_positions_mm) == pytest.approx(12.0, abs=0.01))
    myo, rv = study.myocardium_mask(), study.rv_mask()
    # Scar is brighter than healthy myocardium on LGE.
    scar = study.scar_label_mask()
    healthy = myo & ~scar
    assert np.median(study.images[scar]) > 1.2 * np.median(study.images[healthy])
    oriented = 0
    for k in range(study.n_slices):
        try:
            point = g.insertion_point_from_rv(myo[k], rv[k])
        except InsertionPointError:
            continue
        centre = g.lv_centre(myo[k])
        # Standard display: the RV lies on the viewer's left of the LV.
        assert rv[k].nonzero()[1].mean() < centre[1]
        angle = g.rotation_angle_deg(centre, point)
        crop = g.oriented_crop(myo[k], centre, angle, spacing_mm=study.pixel_spacing_mm)
        rv_crop = g.oriented_crop(rv[k], centre, angle, spacing_mm=study.pixel_spacing_mm)
        # The whole myocardium fits in the 128 x 128 crop at 1.25 mm.
        assert crop.sum() * 1.25**2 == pytest.approx(myo[k].sum() * np.prod(study.pixel_spacing_mm), rel=0.05)
        # After orientation the insertion point is at 6 o'clock and the RV sits on the lower left.
        moved = g.oriented_points(point, centre, angle, spacing_mm=study.pixel_spacing_mm)
        assert moved[0] > 64 and abs(moved[1] - 64) < 1e-6
        assert rv_crop.nonzero()[1].mean() < 64
        oriented += 1
    assert oriented >= 3


def test_myops_all_cases_rv_on_the_left(cmr_dir):
    """The orientation rule never mirrors: in every case the RV is on the viewer's left of the LV."""
    folders = sorted((need(cmr_dir / "myops_multiseq_tengjia" / "Train")).glob("Case*"))
    assert folders
    for folder in folders:
        study = read_lge(folder)
        myo, rv = study.myocardium_mask(), study.rv_mask()
        for k in range(study.n_slices):
            if rv[k].any() and myo[k].any():
                angle = g.point_angle_deg(g.lv_centre(myo[k]), np.argwhere(rv[k]).mean(axis=0))
                # Left half (9 o'clock +- 90 degrees), allowing the few views rotated towards 12 o'clock.
                assert not -80.0 < angle < 80.0, f"{folder.name} slice {k}: RV at {angle:.0f} deg"


def test_emidec_nifti_and_png_agree(cmr_dir):
    from skimage.transform import resize

    nifti = read_lge(need(cmr_dir / "emidec" / "nifti_example" / "Case_P100"))
    check_basic(nifti, n_slices=7, labels={0, 1, 2, 3, 4})
    assert nifti.pixel_spacing_mm == pytest.approx((1.40625, 1.40625))  # from pixdim; the affine has none
    assert nifti.meta["orientation"].startswith("unknown")
    myocardium_ml = nifti.myocardium_mask().sum() * np.prod(nifti.pixel_spacing_mm) * 13.0 / 1000.0
    assert myocardium_ml == pytest.approx(134.12, rel=0.01)  # EMIDEC clinical table
    png = read_lge(
        need(cmr_dir / "emidec" / "png_256" / "train"), case="Case_P100", pixel_spacing_mm=(1.0, 1.0)
    )
    check_basic(png, n_slices=7, labels={0, 1, 2, 3, 4})
    for k in range(7):
        resized = resize(png.images[k], nifti.images[k].shape, order=1)
        assert np.corrcoef(resized.ravel(), nifti.images[k].ravel())[0, 1] > 0.95
    negative = read_lge(
        need(cmr_dir / "emidec" / "official_samples" / "GT" / "sampleNegative"), label_convention="emidec"
    )
    check_basic(negative, n_slices=9, labels={0, 1, 2})


def test_acdc_needs_its_convention(cmr_dir):
    from cardiopredict.errors import LabelConventionError

    path = need(cmr_dir / "acdc" / "patient101" / "patient101_frame01.nii.gz")
    with pytest.raises(LabelConventionError, match="acdc"):
        read_lge(path)
    study = read_lge(path, label_convention="acdc")
    check_basic(study, n_slices=10, labels={0, 1, 2, 5})
    # LV cavity (ACDC 3) is inside the myocardium ring, RV (ACDC 1) outside it on the left.
    k = 5
    myo = study.myocardium_mask()[k]
    assert study.lv_blood_pool_mask()[k].nonzero()[1].mean() == pytest.approx(g.lv_centre(myo)[1], abs=5)
    assert study.rv_mask()[k].nonzero()[1].mean() < g.lv_centre(myo)[1]


def test_mscmrseg_case(cmr_dir):
    study = read_lge(need(cmr_dir / "mscmrseg2019" / "test" / "patient4_LGE.nii.gz"))
    check_basic(study, n_slices=15, labels={0, 1, 2, 5})
    assert study.label_convention == "myops"


def test_sunnybrook_contours_land_on_the_myocardium(cmr_dir):
    base = need(cmr_dir / "sunnybrook_arterys_subset" / "final_data")
    study = read_lge(base / "dicoms" / "SCD0000201", contours=base / "contourfiles" / "SC-HF-I-2")
    assert study.n_slices == len(study.meta["instance_numbers"]) >= 18
    assert study.pixel_spacing_mm[0] > 1.0
    with_epi = [k for k in range(study.n_slices) if study.epi[k] is not None]
    assert len(with_epi) >= 9
    myo = study.myocardium_mask()
    for k in with_epi:
        endo = g.polygon_to_mask(study.endo[k], study.shape)
        epi = g.polygon_to_mask(study.epi[k], study.shape)
        # Cine: the blood pool is bright, the myocardium dark, and the ring lies around the blood pool.
        assert study.images[k][endo].mean() > 1.3 * study.images[k][myo[k]].mean()
        assert g.lv_centre(endo) == pytest.approx(g.lv_centre(epi), abs=6)
        wall_mm = (np.sqrt(epi.sum() / np.pi) - np.sqrt(endo.sum() / np.pi)) * study.pixel_spacing_mm[0]
        assert 3.0 < wall_mm < 20.0


def test_sunnybrook_mismatched_contours_are_reported_not_used(cmr_dir):
    """SC-HF-I-6 has an o-contour shifted off its i-contour on some frames: that is a ContourError."""
    base = need(cmr_dir / "sunnybrook_arterys_subset" / "final_data")
    study = read_lge(base / "dicoms" / "SCD0000501", contours=base / "contourfiles" / "SC-HF-I-6")
    errors = 0
    for k in range(study.n_slices):
        if study.epi[k] is not None and study.endo[k] is not None:
            try:
                g.myocardium_mask(study.epi[k], study.endo[k], study.shape)
            except ContourError:
                errors += 1
    assert errors >= 1
