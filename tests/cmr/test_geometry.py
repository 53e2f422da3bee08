"""Geometry of one short-axis slice: masks, LV centre, insertion point, rotation, resampling, crop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.draw import polygon as skimage_polygon

from cardiopredict.cmr import geometry as g
from cardiopredict.errors import ContourError, EmptyMyocardiumError, GeometryError, InsertionPointError

SHAPE = (160, 180)
CENTRE = np.array([80.3, 95.6])


def circle(centre: np.ndarray, radius: float, n: int = 180) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([centre[0] + radius * np.sin(t), centre[1] + radius * np.cos(t)])


def ring_and_rv(shape=SHAPE, centre=CENTRE, r_epi=32.0, r_endo=22.0, rv_offset=(0.0, -45.0), rv_radius=22.0):
    """Myocardium ring, and an RV blood pool on the viewer's left touching the septum (standard view)."""
    myo = g.myocardium_mask(circle(centre, r_epi), circle(centre, r_endo), shape)
    rows, cols = np.indices(shape)
    rv_c = centre + np.asarray(rv_offset)
    epi_mask = g.polygon_to_mask(circle(centre, r_epi), shape)
    rv = ((rows - rv_c[0]) ** 2 + (cols - rv_c[1]) ** 2 < rv_radius**2) & ~epi_mask
    return myo, rv


def angle_diff(a: float, b: float) -> float:
    return float((a - b + 180.0) % 360.0 - 180.0)


# --- contours <-> masks --------------------------------------------------------------------------
def test_polygon_to_mask_matches_skimage_on_random_star_polygons():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 150, endpoint=False)
    for _ in range(25):
        radius = 30 + rng.normal(0, 2, t.size)
        centre = rng.uniform(50, 110, 2)
        contour = np.column_stack([centre[0] + radius * np.sin(t), centre[1] + radius * np.cos(t)])
        expected = np.zeros(SHAPE, dtype=bool)
        rr, cc = skimage_polygon(contour[:, 0], contour[:, 1], shape=SHAPE)
        expected[rr, cc] = True
        np.testing.assert_array_equal(g.polygon_to_mask(contour, SHAPE), expected)


def test_polygon_to_mask_area_of_circle():
    mask = g.polygon_to_mask(circle(CENTRE, 30.0, n=400), SHAPE)
    assert abs(mask.sum() - np.pi * 30.0**2) / (np.pi * 30.0**2) < 0.01


def test_mask_to_contour_round_trip_is_exact_for_simply_connected_regions():
    rng = np.random.default_rng(3)
    for _ in range(10):
        blob = ndimage.gaussian_filter(rng.random(SHAPE), 4) > 0.5
        labelled, n = ndimage.label(blob)
        if n == 0:
            continue
        sizes = ndimage.sum_labels(blob, labelled, index=np.arange(1, n + 1))
        region = ndimage.binary_fill_holes(labelled == 1 + int(np.argmax(sizes)))
        np.testing.assert_array_equal(g.polygon_to_mask(g.mask_to_contour(region), SHAPE), region)


def test_mask_to_contour_region_touching_border_and_largest_component():
    mask = np.zeros(SHAPE, dtype=bool)
    mask[:40, :50] = True  # touches two borders
    mask[100:103, 100:103] = True  # smaller second component: ignored
    back = g.polygon_to_mask(g.mask_to_contour(mask), SHAPE)
    expected = np.zeros(SHAPE, dtype=bool)
    expected[:40, :50] = True
    np.testing.assert_array_equal(back, expected)


def test_mask_to_contour_empty_is_an_error():
    with pytest.raises(GeometryError, match="empty"):
        g.mask_to_contour(np.zeros(SHAPE, dtype=bool))


def test_self_intersecting_contour_is_rejected():
    figure_eight = np.array([[20.0, 20.0], [60.0, 60.0], [20.0, 60.0], [60.0, 20.0]])
    with pytest.raises(ContourError, match="self-intersecting"):
        g.polygon_to_mask(figure_eight, SHAPE)


@pytest.mark.parametrize(
    ("contour", "match"),
    [
        (circle(np.array([80.0, 170.0]), 30.0), "outside the 160x180 image"),
        (np.array([[10.0, 10.0], [np.nan, 20.0], [20.0, 20.0]]), "non-finite"),
        (np.array([[10.0, 10.0], [20.0, 20.0]]), "at least 3"),
        (np.zeros((4, 3)), r"shape \(k, 2\)"),
        (np.array([[10.0, 10.0], [10.2, 10.2], [10.4, 10.4]]), "encloses no pixel"),
    ],
)
def test_bad_contours_raise_contour_error(contour, match):
    with pytest.raises(ContourError, match=match):
        g.polygon_to_mask(contour, SHAPE)


def test_myocardium_is_epi_minus_endo():
    myo = g.myocardium_mask(circle(CENTRE, 30.0, 400), circle(CENTRE, 20.0, 400), SHAPE)
    expected = np.pi * (30.0**2 - 20.0**2)
    assert abs(myo.sum() - expected) / expected < 0.02
    assert not myo[round(CENTRE[0]), round(CENTRE[1])]


def test_endocardium_outside_epicardium_is_rejected():
    epi = circle(CENTRE, 20.0)
    endo = circle(CENTRE + np.array([0.0, 25.0]), 12.0)
    with pytest.raises(ContourError, match="endocardium is not inside the epicardium"):
        g.myocardium_mask(epi, endo, SHAPE)


def test_swapped_contours_are_rejected():
    with pytest.raises(ContourError, match="swapped"):
        g.myocardium_mask(circle(CENTRE, 20.0), circle(CENTRE, 30.0), SHAPE)


def test_empty_myocardium_is_a_named_error():
    contour = circle(CENTRE, 25.0)
    with pytest.raises(EmptyMyocardiumError, match="empty myocardium"):
        g.myocardium_mask(contour, contour, SHAPE)


# --- centre and insertion point ------------------------------------------------------------------
def test_lv_centre_of_ring_and_blood_pool():
    myo, _ = ring_and_rv()
    np.testing.assert_allclose(g.lv_centre(myo), CENTRE, atol=0.3)
    pool = g.polygon_to_mask(circle(CENTRE, 20.0), SHAPE)
    np.testing.assert_allclose(g.lv_centre(pool), CENTRE, atol=0.3)


def test_lv_centre_empty_mask():
    with pytest.raises(EmptyMyocardiumError):
        g.lv_centre(np.zeros(SHAPE, dtype=bool))


def test_insertion_points_in_standard_view():
    myo, rv = ring_and_rv()
    inferior = g.insertion_point_from_rv(myo, rv)
    anterior = g.insertion_point_from_rv(myo, rv, which="anterior")
    # RV on the viewer's left: both junctions are left of the centre, the inferior one lower in the image.
    assert inferior[1] < CENTRE[1] and anterior[1] < CENTRE[1]
    assert inferior[0] > CENTRE[0] + 10 > anterior[0] + 20
    # Both lie on the myocardium.
    assert myo[int(inferior[0]), int(inferior[1])] and myo[int(anterior[0]), int(anterior[1])]


def test_no_rv_is_insertion_point_error():
    myo, rv = ring_and_rv()
    with pytest.raises(InsertionPointError, match="no RV"):
        g.insertion_point_from_rv(myo, np.zeros_like(rv))


def test_rv_not_touching_myocardium_is_insertion_point_error():
    myo, _ = ring_and_rv()
    far = np.zeros(SHAPE, dtype=bool)
    far[5:15, 5:15] = True
    with pytest.raises(InsertionPointError, match="does not come within"):
        g.insertion_point_from_rv(myo, far)


def test_rv_surrounding_the_lv_is_ambiguous():
    myo, _ = ring_and_rv()
    epi = g.polygon_to_mask(circle(CENTRE, 32.0), SHAPE)
    around = g.polygon_to_mask(circle(CENTRE, 40.0), SHAPE) & ~epi
    with pytest.raises(InsertionPointError, match="surrounds"):
        g.insertion_point_from_rv(myo, around)


def test_rotation_angle_puts_point_at_six_oclock():
    centre = np.array([50.0, 50.0])
    for point in ([50.0, 80.0], [20.0, 50.0], [50.0, 10.0], [80.0, 50.0], [31.0, 77.0]):
        angle = g.rotation_angle_deg(centre, np.array(point))
        moved = g.rotate_points(np.array(point), centre, angle)
        assert moved[0] > centre[0] and abs(moved[1] - centre[1]) < 1e-9
    assert g.rotation_angle_deg(centre, np.array([80.0, 50.0])) == 0.0
    assert g.rotation_angle_deg(centre, np.array([50.0, 80.0])) == pytest.approx(-90.0)


def test_rotation_angle_undefined_when_point_is_centre():
    with pytest.raises(GeometryError, match="coincides"):
        g.rotation_angle_deg(np.array([5.0, 5.0]), np.array([5.0, 5.0]))
    with pytest.raises(GeometryError, match="finite"):
        g.rotation_angle_deg(np.array([5.0, np.nan]), np.array([1.0, 5.0]))


def test_rotate_about_moves_pixels_where_rotate_points_says():
    image = np.zeros(SHAPE, dtype=np.float32)
    point = np.array([40.0, 120.0])
    image[40, 120] = 1.0
    for angle in (-130.0, -37.0, 25.0, 90.0, 171.0):
        rotated = g.rotate_about(image, CENTRE, angle, order=1)
        expected = g.rotate_points(point, CENTRE, angle)
        peak = np.array(np.unravel_index(np.argmax(rotated), SHAPE))
        assert np.abs(peak - expected).max() <= 1.0


def test_rotate_about_keeps_mask_dtype_and_area():
    myo, _ = ring_and_rv()
    rotated = g.rotate_about(myo, CENTRE, 33.0)
    assert rotated.dtype == bool
    assert abs(int(rotated.sum()) - int(myo.sum())) < 0.03 * myo.sum()


@pytest.mark.parametrize("true_angle", [-150.0, -95.0, -40.0, 0.0, 35.0, 80.0, 120.0, 175.0])
def test_orientation_is_recovered_after_a_known_rotation(true_angle):
    """Rotate a ring + RV phantom by a known angle; the pipeline must undo it within 5 degrees."""
    myo0, rv0 = ring_and_rv()
    centre0 = g.lv_centre(myo0)
    reference = g.rotation_angle_deg(centre0, g.insertion_point_from_rv(myo0, rv0))
    myo = g.rotate_about(myo0, CENTRE, true_angle)
    rv = g.rotate_about(rv0, CENTRE, true_angle)
    centre = g.lv_centre(myo)
    angle = g.rotation_angle_deg(centre, g.insertion_point_from_rv(myo, rv))
    assert abs(angle_diff(angle, reference - true_angle)) < 5.0
    # After correction the derived insertion point sits at 6 o'clock.
    myo_fixed = g.rotate_about(myo, centre, angle)
    rv_fixed = g.rotate_about(rv, centre, angle)
    point = g.insertion_point_from_rv(myo_fixed, rv_fixed)
    assert abs(angle_diff(float(g.point_angle_deg(g.lv_centre(myo_fixed), point)), -90.0)) < 5.0


# --- resampling and crop -------------------------------------------------------------------------
def test_resample_keeps_field_of_view_and_area():
    myo, _ = ring_and_rv()
    spacing = (0.75, 0.8)
    out = g.resample_to_spacing(myo, spacing, 1.25)
    assert out.dtype == bool
    assert out.shape == g.resampled_shape(SHAPE, spacing, 1.25) == (96, 115)
    area_mm2 = myo.sum() * spacing[0] * spacing[1]
    assert abs(out.sum() * 1.25**2 - area_mm2) / area_mm2 < 0.05
    centre_mm = g.lv_centre(myo)
    np.testing.assert_allclose(g.lv_centre(out), g.resample_points(centre_mm, spacing, 1.25), atol=0.5)


def test_resample_image_values_and_bad_spacing():
    image = np.linspace(0, 1, SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    out = g.resample_to_spacing(image, (1.0, 1.0), 2.0)
    assert out.dtype == np.float32 and out.shape == (80, 90)
    assert out.min() >= 0.0 and out.max() <= 1.0
    with pytest.raises(GeometryError, match="spacing_mm"):
        g.resample_to_spacing(image, (0.0, 1.0), 1.25)
    with pytest.raises(GeometryError, match="target_mm"):
        g.resample_to_spacing(image, (1.0, 1.0), np.nan)


def test_crop_centred_shape_centre_and_padding():
    image = np.arange(SHAPE[0] * SHAPE[1], dtype=np.float32).reshape(SHAPE)
    crop = g.crop_centred(image, (80.2, 90.7))
    assert crop.shape == (128, 128)
    assert crop[64, 64] == image[80, 91]
    corner = g.crop_centred(image, (3.0, 170.0), fill=-1.0)
    assert corner.shape == (128, 128)
    assert corner[64, 64] == image[3, 170]
    assert (corner[:61] == -1).all() and (corner[:, 64 + 10 :] == -1).all()
    origin = g.crop_origin((3.0, 170.0))
    assert corner[10 - origin[0], 160 - origin[1]] == image[10, 160]


def test_crop_centred_leading_axes_and_far_outside():
    stack = np.ones((2, 3, 50, 60), dtype=np.uint8)
    assert g.crop_centred(stack, (25, 30), size=32).shape == (2, 3, 32, 32)
    assert (g.crop_centred(stack[0, 0], (500, 500), size=16) == 0).all()


def test_geometry_of_one_large_slice_end_to_end():
    """A 480x480 slice goes through mask, centre, insertion point and oriented crop (speed: see
    benchmarks/cmr_preprocess_speed.py, not a timed test)."""
    shape = (480, 480)
    centre = np.array([240.0, 250.0])
    epi, endo = circle(centre, 45.0, 300), circle(centre, 30.0, 300)
    _, rv = ring_and_rv(
        shape=shape, centre=centre, r_epi=45.0, r_endo=30.0, rv_offset=(0.0, -65.0), rv_radius=30.0
    )
    image = np.random.default_rng(0).random(shape).astype(np.float32)

    def one_slice() -> tuple[np.ndarray, np.ndarray]:
        myo = g.myocardium_mask(epi, endo, shape)
        c = g.lv_centre(myo)
        angle = g.rotation_angle_deg(c, g.insertion_point_from_rv(myo, rv))
        crops = [g.oriented_crop(x, c, angle, spacing_mm=(0.73, 0.73)) for x in (image, myo)]
        return crops[0], crops[1]

    image_crop, myo_crop = one_slice()
    assert image_crop.shape == myo_crop.shape == (128, 128)
    assert myo_crop.any()


def test_oriented_crop_equals_resample_rotate_crop():
    myo, rv = ring_and_rv()
    image = (np.random.default_rng(1).random(SHAPE) + 2.0 * myo).astype(np.float32)
    spacing = (0.8, 0.8)
    centre = g.lv_centre(myo)
    angle = g.rotation_angle_deg(centre, g.insertion_point_from_rv(myo, rv))
    fast = g.oriented_crop(myo, centre, angle, spacing_mm=spacing, size=96)
    small = g.resample_to_spacing(myo, spacing, 1.25)
    c_small = g.resample_points(centre, spacing, 1.25)
    slow = g.crop_centred(g.rotate_about(small, c_small, angle), c_small, size=96)
    assert fast.dtype == bool and fast.shape == (96, 96)
    assert (fast & slow).sum() / (fast | slow).sum() > 0.85  # the slow path rounds the centre
    np.testing.assert_allclose(g.lv_centre(fast), [48, 48], atol=0.6)
    # Points follow the pixels: the insertion point lands straight below the crop centre.
    point = g.oriented_points(g.insertion_point_from_rv(myo, rv), centre, angle, spacing_mm=spacing, size=96)
    assert point[0] > 48 + 10 and abs(point[1] - 48) < 1e-6
    assert g.oriented_crop(image, centre, angle, spacing_mm=spacing).dtype == np.float32


def test_oriented_crop_handles_anisotropic_pixels():
    """A circle imaged with 0.6 x 1.2 mm pixels is an ellipse on the grid; the crop must show a circle."""
    shape = (200, 100)
    rows, cols = np.indices(shape)
    disc = ((rows - 100) * 0.6) ** 2 + ((cols - 50) * 1.2) ** 2 < 30.0**2
    crop = g.oriented_crop(disc, (100.0, 50.0), 37.0, spacing_mm=(0.6, 1.2), target_mm=1.0, size=80)
    r, c = np.nonzero(crop)
    assert abs(np.ptp(r) - np.ptp(c)) <= 2
    assert abs(crop.sum() - np.pi * 30.0**2) / (np.pi * 30.0**2) < 0.03


def test_oriented_uncrop_maps_a_crop_back_onto_the_source_grid() -> None:
    from cardiopredict.cmr.geometry import oriented_crop, oriented_uncrop

    rows, cols = np.mgrid[0:150, 0:170]
    disk = np.hypot(rows - 70, cols - 90) < 30
    centre, angle, spacing = np.array([72.3, 88.6]), 37.0, (0.9, 1.1)
    crop = oriented_crop(disk.astype(np.float32), centre, angle, spacing_mm=spacing, order=1)
    back = oriented_uncrop(crop, centre, angle, shape=disk.shape, spacing_mm=spacing) >= 0.5
    assert back.shape == disk.shape
    assert 2.0 * (back & disk).sum() / (back.sum() + disk.sum()) > 0.97
    ones = oriented_uncrop(np.ones((128, 128)), centre, angle, shape=(400, 400), spacing_mm=spacing)
    assert ones[72, 89] == pytest.approx(1.0) and ones[399, 399] == 0.0  # 400 mm away: outside the crop
