"""Readers: NIfTI, DICOM series, PNG slices, label conventions and contour files (synthetic files)."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from skimage.io import imsave

from cardiopredict import read_lge
from cardiopredict.cmr.io import detect_convention, map_labels, read_contours, read_label_map, write_contours
from cardiopredict.errors import (
    ContourError,
    IntensityError,
    LabelConventionError,
    LGEFormatError,
    MultipleSeriesError,
    SpacingError,
)


def circle_xy(centre_xy, radius, n=60):
    t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
    return np.column_stack([centre_xy[0] + radius * np.cos(t), centre_xy[1] + radius * np.sin(t)])


# --- DICOM ---------------------------------------------------------------------------------------
IOP_STANDARD = [1.0, 0.0, 0.0, 0.0, 0.7071068, -0.7071068]  # rows: patient left; columns: posterior-inferior


def write_dicom_series(
    folder,
    *,
    n=3,
    series_uid="1.2.3.4",
    shape=(24, 32),
    spacing=True,
    iop=IOP_STANDARD,
    slope=2.0,
    intercept=-10.0,
    numbers=None,
    shuffle=True,
):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    folder.mkdir(parents=True, exist_ok=True)
    normal = np.cross(iop[:3], iop[3:])
    numbers = numbers or list(range(1, n + 1))
    order = [2, 0, 1] if shuffle and n == 3 else list(range(n))
    for file_index, k in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = meta.MediaStorageSOPClassUID
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 7
        ds.SeriesDescription = "LGE SAX"
        ds.PatientID = "ANON"
        ds.Modality = "MR"
        ds.InstanceNumber = numbers[k]
        ds.Rows, ds.Columns = shape
        if spacing:
            ds.PixelSpacing = [1.25, 1.5]
        ds.SliceThickness = 8.0
        ds.ImageOrientationPatient = list(iop)
        ds.ImagePositionPatient = list(np.array([10.0, 20.0, 30.0]) + 8.0 * k * normal)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        pixels = np.full(shape, 100 * (k + 1), dtype=np.uint16)
        pixels[0, 0] = 5  # marks the first stored row/column
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"{series_uid[-1]}_{file_index}.dcm", enforce_file_format=True)
    return folder


def test_dicom_series_sorted_along_normal_and_rescaled(tmp_path):
    study = read_lge(write_dicom_series(tmp_path / "s"))
    assert study.images.shape == (3, 24, 32)
    # Slice k holds stored value 100 (k + 1): rescaled to 2 * stored - 10, sorted by position.
    np.testing.assert_allclose(study.images[:, 5, 5], [190.0, 390.0, 590.0])
    np.testing.assert_allclose(np.diff(study.slice_positions_mm), [8.0, 8.0])
    assert study.pixel_spacing_mm == (1.25, 1.5)
    assert study.meta["instance_numbers"] == [1, 2, 3]
    assert study.meta["reorientation"] == {"transpose": False, "flip_rows": False, "flip_cols": False}
    assert study.slice_thickness_mm == 8.0
    assert study.images[0, 0, 0] == 0.0  # stored 5 -> 0 after rescale, still at the top-left


def test_dicom_reoriented_to_standard_display(tmp_path):
    # Rows run towards the patient's right: the reader flips the columns (patient's left on the right).
    iop = [-1.0, 0.0, 0.0, 0.0, 0.7071068, -0.7071068]
    study = read_lge(write_dicom_series(tmp_path / "s", iop=iop))
    assert study.meta["reorientation"]["flip_cols"] is True
    assert study.images[0, 0, -1] == 0.0


def test_several_series_in_one_folder_are_listed(tmp_path):
    folder = write_dicom_series(tmp_path / "s", series_uid="1.2.3.4")
    write_dicom_series(folder, series_uid="1.2.3.5")
    with pytest.raises(MultipleSeriesError, match=r"2 DICOM series(.|\n)*1\.2\.3\.4(.|\n)*1\.2\.3\.5"):
        read_lge(folder)
    study = read_lge(folder, series_uid="1.2.3.5")
    assert study.n_slices == 3 and study.meta["series_uid"] == "1.2.3.5"
    with pytest.raises(MultipleSeriesError, match="not found"):
        read_lge(folder, series_uid="9.9")


def test_missing_pixel_spacing_needs_a_hint(tmp_path):
    folder = write_dicom_series(tmp_path / "s", spacing=False)
    with pytest.raises(SpacingError, match=r"PixelSpacing(.|\n)*pixel_spacing_mm="):
        read_lge(folder)
    assert read_lge(folder, pixel_spacing_mm=(1.0, 1.1)).pixel_spacing_mm == (1.0, 1.1)


def test_empty_folder_and_missing_path(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hello")
    with pytest.raises(LGEFormatError, match="no DICOM image"):
        read_lge(tmp_path / "empty")
    with pytest.raises(LGEFormatError, match="does not exist"):
        read_lge(tmp_path / "nothing")


# --- NIfTI ---------------------------------------------------------------------------------------
def write_nifti(path, data, *, zooms=(0.75, 0.75, 10.0), affine=None, qform_code=1, sform_code=0):
    if affine is None:
        # LPS rows -> patient left, columns -> posterior-inferior, written as RAS (x, y negated).
        affine = np.eye(4)
        affine[:3, 0] = np.array([-1.0, 0.0, 0.0]) * zooms[0]  # i: RAS -x = patient left
        affine[:3, 1] = np.array([0.0, -0.7071068, -0.7071068]) * zooms[1]  # j: posterior + inferior
        affine[:3, 2] = np.array([0.0, -0.7071068, 0.7071068]) * zooms[2]
    image = nib.Nifti1Image(np.asarray(data), affine)
    image.header.set_zooms(zooms[: np.asarray(data).ndim])
    image.header["qform_code"], image.header["sform_code"] = qform_code, sform_code
    if qform_code:
        image.set_qform(affine, code=qform_code)
    nib.save(image, str(path))
    return path


def test_nifti_with_trusted_affine(tmp_path):
    data = np.zeros((30, 40, 4), dtype=np.int16)
    for k in range(4):
        data[:, :, k] = k + 1
    data[0, 0, :] = 99
    study = read_lge(write_nifti(tmp_path / "x_LGE.nii.gz", data))
    # The file's i axis points left, so it becomes the columns: (n, j, i) after the transpose.
    assert study.images.shape == (4, 40, 30)
    assert study.meta["reorientation"]["transpose"] is True
    assert study.images[0, 0, 0] == 99
    assert study.pixel_spacing_mm == (0.75, 0.75)
    assert np.all(np.diff(study.slice_positions_mm) > 0)
    assert study.patient_id == "x"
    assert "standard" in study.meta["orientation"]


def test_nifti_whose_affine_lacks_spacing_uses_zooms(tmp_path):
    data = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])  # EMIDEC/ACDC style: flipped identity, no spacing
    path = write_nifti(
        tmp_path / "e.nii.gz", data, zooms=(1.4, 1.6, 13.0), affine=affine, qform_code=0, sform_code=2
    )
    study = read_lge(path)
    assert study.pixel_spacing_mm == pytest.approx((1.6, 1.4))  # rows follow j
    np.testing.assert_allclose(study.slice_positions_mm, [0.0, 13.0, 26.0])
    np.testing.assert_allclose(study.images[1], data[:, :, 1].T)
    assert study.meta["orientation"].startswith("unknown")


def test_nifti_without_spacing_needs_hint(tmp_path):
    data = np.ones((10, 12, 2), dtype=np.float32)
    path = write_nifti(tmp_path / "z.nii", data, zooms=(1.0, 1.0, 1.0), affine=np.eye(4), qform_code=0)
    raw = bytearray(path.read_bytes())
    raw[80:88] = np.zeros(2, dtype="<f4").tobytes()  # pixdim[1:3] = 0; nibabel would read them as 1 mm
    path.write_bytes(bytes(raw))
    with pytest.raises(SpacingError, match="pixel_spacing_mm"):
        read_lge(path)
    assert read_lge(path, pixel_spacing_mm=(2.0, 2.0)).pixel_spacing_mm == (2.0, 2.0)


def test_nifti_with_non_finite_pixels_is_a_named_error(tmp_path):
    data = np.ones((10, 12, 2), dtype=np.float32)
    data[3, 3, 1] = np.nan
    with pytest.raises(IntensityError, match="non-finite"):
        read_lge(write_nifti(tmp_path / "n.nii.gz", data))


def test_four_d_nifti_needs_frame(tmp_path):
    data = np.random.default_rng(0).random((10, 12, 2, 5)).astype(np.float32)
    path = write_nifti(tmp_path / "cine.nii.gz", data, zooms=(1.0, 1.0, 8.0, 30.0))
    with pytest.raises(LGEFormatError, match="frame="):
        read_lge(path)
    assert read_lge(path, frame=3).n_slices == 2


def test_myops_labels_found_beside_the_image_and_mapped(tmp_path):
    data = np.ones((20, 20, 2), dtype=np.int16)
    data[5, 5, 0] = 9
    labels = np.zeros((20, 20, 2), dtype=np.int16)
    labels[2:4, 2:4, :] = 200
    labels[4, 4, :] = 1220
    labels[5, 5, :] = 2221
    labels[10:12, 10:12, :] = 500
    labels[15:17, 15:17, :] = 600
    folder = tmp_path / "Case0001"
    folder.mkdir()
    write_nifti(folder / "Case0001_LGE.nii.gz", data)
    write_nifti(folder / "Case0001_gd.nii.gz", labels)
    study = read_lge(folder)
    assert study.label_convention == "myops" and study.patient_id == "Case0001"
    assert set(np.unique(study.labels)) == {0, 1, 2, 3, 5}
    assert study.myocardium_mask()[0].sum() == 6  # 200 x4, edema, scar
    assert study.scar_label_mask().sum() == 2
    # Labels follow the same reorientation as the image.
    assert study.labels[0][study.images[0] == 9].tolist() == [3]
    direct, convention = read_label_map(folder / "Case0001_gd.nii.gz")
    assert convention == "myops"
    np.testing.assert_array_equal(direct, study.labels)
    assert read_lge(folder, labels=None).labels is None


def test_label_map_on_another_grid_is_rejected(tmp_path):
    write_nifti(tmp_path / "a.nii.gz", np.ones((20, 20, 2), dtype=np.int16))
    write_nifti(tmp_path / "b.nii.gz", np.zeros((20, 22, 2), dtype=np.int16))
    with pytest.raises(LGEFormatError, match="does not match the image grid"):
        read_lge(tmp_path / "a.nii.gz", labels=tmp_path / "b.nii.gz")


# --- label conventions ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "convention", "expected"),
    [
        ([0, 200, 500, 600, 1220, 2221], "myops", [0, 2, 1, 5, 2, 3]),
        ([0, 1, 2, 3, 4], "emidec", [0, 1, 2, 3, 4]),
        ([0, 1, 2, 3], "acdc", [0, 5, 2, 1]),
        ([0, 1, 2, 3, 4, 5], "canonical", [0, 1, 2, 3, 4, 5]),
    ],
)
def test_map_labels(values, convention, expected):
    mapped, used = map_labels(np.array(values), convention)
    assert used == convention
    assert mapped.dtype == np.uint8 and mapped.tolist() == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [([0, 200, 500], "myops"), ([0, 1, 2, 3, 4], "emidec"), ([0, 2, 5], "canonical"), ([0], "canonical")],
)
def test_detect_convention_when_the_values_decide(values, expected):
    assert detect_convention(np.array(values)) == expected


def test_ambiguous_and_unknown_label_values():
    with pytest.raises(LabelConventionError, match="label_convention='acdc'"):
        map_labels(np.array([0, 1, 2, 3]))
    with pytest.raises(LabelConventionError, match="fit no known convention"):
        map_labels(np.array([0, 7, 300]))
    with pytest.raises(LabelConventionError, match=r"values \[4\] are not part of the 'acdc'"):
        map_labels(np.array([0, 1, 4]), "acdc")
    with pytest.raises(LabelConventionError, match="unknown label_convention"):
        map_labels(np.array([0, 1]), "kaggle")
    with pytest.raises(LabelConventionError, match="integers"):
        map_labels(np.array([0.0, 1.5]))


# --- PNG -----------------------------------------------------------------------------------------
def test_png_slices_with_masks_and_spacing_hint(tmp_path):
    images, masks = tmp_path / "train", tmp_path / "trainannot"
    images.mkdir()
    masks.mkdir()
    for k in range(3):
        img = np.full((16, 16), 10 * (k + 1), dtype=np.uint8)
        img[0, 1] = 255
        imsave(images / f"Case_P001_slice{k:03d}.png", img, check_contrast=False)
        mask = np.zeros((16, 16), dtype=np.uint8)
        mask[4:8, 4:8] = 2
        mask[5, 5] = 3
        imsave(masks / f"Case_P001_slice{k:03d}.png", mask, check_contrast=False)
    imsave(images / "Case_N002_slice000.png", np.zeros((16, 16), dtype=np.uint8), check_contrast=False)
    with pytest.raises(SpacingError, match="pixel_spacing_mm"):
        read_lge(images, case="Case_P001")
    with pytest.raises(LGEFormatError, match="case="):
        read_lge(images, pixel_spacing_mm=(1.0, 1.0))
    study = read_lge(images, case="Case_P001", pixel_spacing_mm=(1.5, 1.5), slice_thickness_mm=10.0)
    assert study.n_slices == 3 and study.patient_id == "Case_P001"
    np.testing.assert_allclose(study.slice_positions_mm, [0.0, 10.0, 20.0])
    assert study.label_convention == "emidec" and study.scar_label_mask()[0].sum() == 1
    # EMIDEC png_256 slices are rot180 of the NIfTI slice: the reader undoes it (transpose + both flips).
    assert study.images[0, -2, -1] == 255


# --- contours ------------------------------------------------------------------------------------
def contour_study_files(tmp_path):
    data = np.zeros((60, 70, 3), dtype=np.float32) + np.arange(3)
    path = write_nifti(
        tmp_path / "c.nii.gz", data, affine=np.diag([-1.0, -1.0, 1.0, 1.0]), qform_code=0, sform_code=2
    )
    return path


def test_paper_form_json_round_trip(tmp_path):
    path = contour_study_files(tmp_path)
    doc = {
        "patient_id": "c",
        "slices": [
            {
                "slice": 1,
                "epicardium": circle_xy((30, 35), 15).tolist(),
                "endocardium": circle_xy((30, 35), 9).tolist(),
                "insertion_point": [18.0, 44.0],
            }
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(doc))
    study = read_lge(path, contours=tmp_path / "c.json")
    assert study.epi[0] is None and study.epi[1] is not None and study.insertion_points[1] is not None
    # Orientation unknown: rows follow the file's j axis, so file (x = j, y = i) lands at (row, col) = (x, y).
    np.testing.assert_allclose(study.insertion_points[1], [18.0, 44.0])
    assert study.myocardium_mask()[1].sum() > 400
    out = write_contours(study, tmp_path / "out.json")
    again = read_lge(path, contours=out)
    np.testing.assert_allclose(again.epi[1], study.epi[1], atol=1e-3)
    out_csv = write_contours(study, tmp_path / "out.csv")
    table = pd.read_csv(out_csv)
    assert list(table.columns) == ["slice", "structure", "x", "y"]
    assert set(table["structure"]) == {"epicardium", "endocardium", "insertion_point"}
    np.testing.assert_allclose(read_lge(path, contours=out_csv).endo[1], study.endo[1], atol=1e-3)


def test_contours_follow_the_dicom_reorientation(tmp_path):
    iop = [-1.0, 0.0, 0.0, 0.0, 0.7071068, -0.7071068]  # columns are flipped by the reader
    folder = write_dicom_series(tmp_path / "s", iop=iop, numbers=[11, 12, 13])
    rows = [{"instance_number": 12, "structure": "insertion_point", "x": 3.0, "y": 4.0}]
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    study = read_lge(folder, contours=tmp_path / "c.csv")
    np.testing.assert_allclose(study.insertion_points[1], [4.0, 32 - 1 - 3.0])
    back = pd.read_csv(write_contours(study, tmp_path / "back.csv"))
    assert back.loc[0, "instance_number"] == 12 and back.loc[0, "x"] == 3.0 and back.loc[0, "y"] == 4.0


def test_sunnybrook_contours_are_matched_by_instance_number(tmp_path):
    folder = write_dicom_series(tmp_path / "dicom", shape=(64, 64), numbers=[48, 59, 68])
    contours = tmp_path / "contours" / "i-contours"
    contours.mkdir(parents=True)
    np.savetxt(contours / "IM-0001-0059-icontour-manual.txt", circle_xy((30.5, 28.0), 8), fmt="%.2f")
    (tmp_path / "contours" / "o-contours").mkdir()
    np.savetxt(
        tmp_path / "contours" / "o-contours" / "IM-0001-0059-ocontour-manual.txt", circle_xy((30.5, 28.0), 14)
    )
    study = read_lge(folder, contours=tmp_path / "contours")
    assert study.endo[1] is not None and study.epi[1] is not None and study.endo[0] is None
    # x is the column, y the row.
    np.testing.assert_allclose(study.endo[1].mean(axis=0), [28.0, 30.5], atol=1e-6)
    assert len(read_contours(contours / "IM-0001-0059-icontour-manual.txt")) == 1


def test_contour_problems_are_named(tmp_path):
    path = contour_study_files(tmp_path)
    outside = {"slices": [{"slice": 0, "epicardium": circle_xy((30, 65), 15).tolist()}]}
    (tmp_path / "outside.json").write_text(json.dumps(outside))
    with pytest.raises(ContourError, match="outside"):
        read_lge(path, contours=tmp_path / "outside.json")
    missing = {"slices": [{"slice": 7, "endocardium": circle_xy((30, 30), 5).tolist()}]}
    (tmp_path / "missing.json").write_text(json.dumps(missing))
    with pytest.raises(LGEFormatError, match="slice 7, which is not in the image"):
        read_lge(path, contours=tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(LGEFormatError, match="not valid JSON"):
        read_contours(tmp_path / "bad.json")
    (tmp_path / "cols.csv").write_text("slice,x\n0,1\n")
    with pytest.raises(LGEFormatError, match="needs columns"):
        read_contours(tmp_path / "cols.csv")
    (tmp_path / "kind.csv").write_text("slice,structure,x,y\n0,septum,1,2\n")
    with pytest.raises(LGEFormatError, match="unknown structure"):
        read_contours(tmp_path / "kind.csv")
    (tmp_path / "nan.csv").write_text(
        "slice,structure,x,y\n0,endocardium,1,2\n0,endocardium,,3\n0,endocardium,4,4\n"
    )
    with pytest.raises(ContourError, match="non-finite"):
        read_contours(tmp_path / "nan.csv")
    twice = {"slices": [{"slice": 0, "insertion_point": [[1, 2], [3, 4]]}]}
    (tmp_path / "two.json").write_text(json.dumps(twice))
    with pytest.raises(ContourError, match="one \\[x, y\\] pair"):
        read_contours(tmp_path / "two.json")
    with pytest.raises(LGEFormatError, match="instance_number"):
        (tmp_path / "inst.csv").write_text("instance_number,structure,x,y\n3,insertion_point,1,2\n")
        read_lge(path, contours=tmp_path / "inst.csv")
    with pytest.raises(LGEFormatError, match="unknown contour file type"):
        (tmp_path / "c.xml").write_text("<x/>")
        read_contours(tmp_path / "c.xml")


def test_contours_follow_nifti_slice_sorting_and_reorientation(tmp_path):
    data = np.zeros((30, 40, 3), dtype=np.float32)
    for k in range(3):
        data[:, :, k] = k + 1
    affine = np.eye(4)
    affine[:3, 0] = [-0.75, 0.0, 0.0]
    affine[:3, 1] = np.array([0.0, -0.7071068, -0.7071068]) * 0.75
    affine[:3, 2] = np.array([0.0, 0.7071068, -0.7071068]) * 10.0  # slices run against the normal
    path = write_nifti(tmp_path / "r.nii.gz", data, affine=affine)
    (tmp_path / "r.json").write_text(json.dumps({"slices": [{"slice": 0, "insertion_point": [5.0, 7.0]}]}))
    study = read_lge(path, contours=tmp_path / "r.json")
    assert study.meta["file_slice_index"] == [2, 1, 0]
    np.testing.assert_allclose(study.images[:, 0, 0], [3.0, 2.0, 1.0])
    assert study.insertion_points[2] is not None and study.insertion_points[0] is None
    # File pixel (row i = y = 7, col j = x = 5) is transposed to (row, col) = (5, 7) in the study.
    np.testing.assert_allclose(study.insertion_points[2], [5.0, 7.0])
    back = json.loads(write_contours(study, tmp_path / "back.json").read_text())
    assert back["slices"] == [{"slice": 0, "insertion_point": [5.0, 7.0]}]


def test_dicom_series_with_mixed_pixel_spacing_is_rejected(tmp_path):
    import pydicom

    folder = write_dicom_series(tmp_path / "s")
    first = sorted(folder.glob("*.dcm"))[0]
    ds = pydicom.dcmread(first)
    ds.PixelSpacing = [2.0, 2.0]
    ds.save_as(first)
    with pytest.raises(LGEFormatError, match="PixelSpacing"):
        read_lge(folder)


# --- reliability (issue 15): every failure names the file ---------------------------------------
@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_truncated_nifti_image_and_label_map_name_the_file(tmp_path, suffix):
    data = np.arange(30 * 40 * 4, dtype=np.float32).reshape(30, 40, 4)
    image = write_nifti(tmp_path / f"p1_LGE{suffix}", data)
    labels = write_nifti(tmp_path / f"p1_gd{suffix}", (data % 3).astype(np.uint8))
    for path in (image, labels):
        raw = path.read_bytes()
        path.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(LGEFormatError, match=r"p1_LGE\.nii.*truncated or damaged.*re-download"):
        read_lge(image, labels=None)
    with pytest.raises(LGEFormatError, match=r"p1_gd\.nii.*(truncated or damaged|not a readable NIfTI file)"):
        read_label_map(labels)


def test_unexpected_failure_under_read_lge_is_named(tmp_path, monkeypatch):
    path = write_nifti(tmp_path / "x.nii.gz", np.zeros((8, 8, 2), np.float32))

    def broken(*args, **kwargs):
        raise ZeroDivisionError("deep inside a library")

    monkeypatch.setattr("cardiopredict.cmr.io._api.require_spacing", broken)
    with pytest.raises(LGEFormatError, match=r"LGE study .*x\.nii\.gz cannot be read \(ZeroDivisionError"):
        read_lge(path)


def test_dicom_with_damaged_pixels_or_geometry_is_named(tmp_path):
    folder = write_dicom_series(tmp_path / "series")
    files = sorted(folder.glob("*.dcm"))
    raw = files[1].read_bytes()
    files[1].write_bytes(raw[: len(raw) - 200])  # pixel data cut short
    with pytest.raises(LGEFormatError, match=r"cannot (decode the pixel data|be read)"):
        read_lge(folder)
