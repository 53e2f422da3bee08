"""Parametric LGE short-axis phantoms with a known scar and a known orientation, and a DICOM writer.

The phantom is drawn in the standard short-axis view (anterior up, RV on the image left, inferior down)
and then rotated by ``rotation_deg`` (counter-clockwise on screen) about the LV centre, so a test knows the
rotation the pipeline must undo.

Anatomy per slice (base -> apex: the LV shrinks, the wall thins slightly):
    * LV blood pool: a disc of radius 24 mm at the base down to 11 mm at the apex (bright: 0.75);
    * myocardium: a ring of wall thickness ``wall_thickness_mm`` (default 9 mm at the base, 7 mm at the
      apex; realistic 6-11 mm), nulled by the inversion time (dark: 0.08);
    * RV blood pool: a crescent hugging the septum on the image left (0.70), whose two junctions with
      the LV epicardium are the anterior and inferior insertion points (the inferior one is returned);
    * scar: an arc of the wall in a coronary territory (LAD anterior/anteroseptal, LCx lateral, RCA
      inferior/inferoseptal), from the endocardium out to ``transmurality`` x wall (subendocardial ->
      transmural) and bright (1.0), surrounded by a ``gray_border_mm`` gray border (0.45);
    * surrounding tissue 0.25 inside a 70 mm body ellipse, air 0; a 0.6 px Gaussian blur gives partial
      volume; Rician noise (magnitude of complex Gaussian noise of SD ``noise_sd``).

Labels are canonical (0 background, 1 LV, 2 myocardium, 3 scar core, 5 RV); the gray border is labelled
myocardium (2).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage

from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import InputError

Territory = Literal["LAD", "LCx", "RCA"]

TERRITORY_CENTRE_DEG: dict[str, float] = {"LAD": -15.0, "LCx": 100.0, "RCA": 200.0}
"""Centre of each coronary territory, degrees clockwise from 12 o'clock in the standard view."""
# A short-axis plane in patient coordinates (LPS): along a row towards the patient's left, down a column
# towards posterior-inferior, so the readers' standard display is the stored pixel grid itself.
_ALONG_ROW_LPS = np.array([1.0, 0.0, 0.0])
_DOWN_COLUMN_LPS = np.array([0.0, 1.0, -1.0]) / np.sqrt(2.0)
INTENSITY = {
    "background": 0.0,
    "tissue": 0.25,
    "lv": 0.75,
    "rv": 0.70,
    "myo": 0.08,
    "scar": 1.0,
    "gray": 0.45,
}


def simulate_lge_phantom(
    *,
    n_slices: int = 8,
    shape: tuple[int, int] = (192, 192),
    pixel_spacing_mm: tuple[float, float] = (1.4, 1.4),
    slice_thickness_mm: float = 8.0,
    rotation_deg: float = 0.0,
    territory: Territory | None = "LAD",
    scar_extent_deg: float = 80.0,
    transmurality: float = 0.7,
    gray_border_mm: float = 2.0,
    wall_thickness_mm: tuple[float, float] = (9.0, 7.0),
    noise_sd: float = 0.04,
    patient_id: str = "phantom",
    seed: int | np.random.Generator = 0,
) -> LGEStudy:
    """Draw one phantom LGE short-axis stack.

    Parameters
    ----------
    n_slices : int
        Slices from base (index 0, slice position 0 mm) to apex.
    shape : (int, int)
        Image size (H, W), pixels.
    pixel_spacing_mm : (float, float)
        (row, col) pixel size, mm.
    slice_thickness_mm : float
        Slice thickness = spacing between slices, mm.
    rotation_deg : float
        Counter-clockwise on-screen rotation of the whole anatomy about the LV centre, degrees.
        The pipeline must rotate by ``-rotation_deg`` to get the standard view back.
    territory : {"LAD", "LCx", "RCA"} or None
        Coronary territory of the scar; None draws no scar.
    scar_extent_deg : float
        Angular extent of the scar core, degrees.
    transmurality : float
        Fraction of the wall (from the endocardium) the scar core spans, 0-1.
    gray_border_mm : float
        Width of the gray border around the core, mm.
    wall_thickness_mm : (float, float)
        Wall thickness at base and apex, mm (6-11 mm is realistic).
    noise_sd : float
        SD of each Gaussian component of the Rician noise (intensities span 0-1).
    patient_id : str
    seed : int or numpy.random.Generator
        Draws the small per-slice jitter of the centre and the noise.

    Returns
    -------
    LGEStudy
        Canonical labels, epi/endo contours (64 vertices) and inferior insertion points per slice;
        ``meta`` holds the parameters (``rotation_deg``, ``territory`` ...) and ``slice_thickness_mm``.
    """
    if n_slices < 1:
        raise InputError(f"simulate_lge_phantom: n_slices={n_slices}; give at least 1.")
    if not 0.0 < transmurality <= 1.0:
        raise InputError(f"simulate_lge_phantom: transmurality={transmurality}; give a fraction in (0, 1].")
    if territory is not None and territory not in TERRITORY_CENTRE_DEG:
        raise InputError(f"simulate_lge_phantom: territory={territory!r}; choose LAD, LCx, RCA or None.")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    H, W = shape
    dr, dc = pixel_spacing_mm
    images = np.empty((n_slices, H, W), dtype=np.float32)
    labels = np.zeros((n_slices, H, W), dtype=np.uint8)
    endo, epi, points = [], [], []
    fractions = np.linspace(0.0, 1.0, n_slices) if n_slices > 1 else np.zeros(1)
    theta = np.deg2rad(rotation_deg)
    for k, f in enumerate(fractions):
        centre = np.array([H / 2.0, W / 2.0]) + rng.normal(0.0, 1.0, 2)
        r_endo = 24.0 - 13.0 * f
        wall = wall_thickness_mm[0] + (wall_thickness_mm[1] - wall_thickness_mm[0]) * f
        r_epi = r_endo + wall
        # Standard-view coordinates (mm) of every pixel: x right, y up, after undoing the rotation.
        rows, cols = np.mgrid[0:H, 0:W].astype(np.float64)
        x_screen = (cols - centre[1]) * dc
        y_screen = -(rows - centre[0]) * dr
        x = np.cos(theta) * x_screen + np.sin(theta) * y_screen
        y = -np.sin(theta) * x_screen + np.cos(theta) * y_screen
        radius = np.hypot(x, y)
        clock = np.rad2deg(np.arctan2(x, y))  # clockwise from 12 o'clock, (-180, 180]
        rv = _rv_crescent(x, y, r_epi=r_epi, f=f)
        label = np.zeros((H, W), dtype=np.uint8)
        label[(radius < r_endo)] = 1
        myo = (radius >= r_endo) & (radius < r_epi)
        label[myo] = 2
        label[rv & ~myo & (radius >= r_epi)] = 5
        core = np.zeros((H, W), dtype=bool)
        gray = np.zeros((H, W), dtype=bool)
        if territory is not None and f < 0.95:
            core, gray = _scar(
                clock,
                radius,
                myo,
                r_endo=r_endo,
                wall=wall,
                territory=territory,
                extent_deg=scar_extent_deg,
                transmurality=transmurality,
                border_mm=gray_border_mm,
            )
            label[core] = 3
        body = (x / 150.0) ** 2 + (y / 110.0) ** 2 < 1.0
        image = np.where(body, INTENSITY["tissue"], INTENSITY["background"])
        for name, value in (("lv", 1), ("rv", 5)):
            image[label == value] = INTENSITY[name]
        image[myo] = INTENSITY["myo"]
        image[gray] = INTENSITY["gray"]
        image[core] = INTENSITY["scar"]
        image = ndimage.gaussian_filter(image, 0.6)
        noisy = np.hypot(
            image + rng.normal(0.0, noise_sd, image.shape), rng.normal(0.0, noise_sd, image.shape)
        )
        images[k] = noisy.astype(np.float32)
        labels[k] = label
        endo.append(_circle(centre, r_endo, theta, pixel_spacing_mm))
        epi.append(_circle(centre, r_epi, theta, pixel_spacing_mm))
        points.append(_insertion_point(centre, r_epi, f, theta, pixel_spacing_mm))
    return LGEStudy(
        images=images,
        pixel_spacing_mm=(float(dr), float(dc)),
        slice_positions_mm=np.arange(n_slices) * float(slice_thickness_mm),
        endo=endo,
        epi=epi,
        insertion_points=points,
        labels=labels,
        label_convention="canonical",
        meta={
            "source": "cardiopredict.cmr.simulate.simulate_lge_phantom",
            "synthetic": True,
            "rotation_deg": float(rotation_deg),
            "territory": territory,
            "scar_extent_deg": float(scar_extent_deg),
            "transmurality": float(transmurality),
            "slice_thickness_mm": float(slice_thickness_mm),
            "base_index": 0,
        },
        patient_id=patient_id,
    )


def _rv_crescent(x: np.ndarray, y: np.ndarray, *, r_epi: float, f: float) -> np.ndarray:
    """RV cavity: an ellipse left of the LV, outside the LV epicardium (the septum is shared)."""
    centre_x = -0.9 * r_epi
    a_x = 0.9 * r_epi * (1.0 - 0.2 * f)
    a_y = 1.0 * r_epi
    inside = ((x - centre_x) / a_x) ** 2 + (y / a_y) ** 2 < 1.0
    return inside & (np.hypot(x, y) >= r_epi)


def _insertion_point(
    centre: np.ndarray, r_epi: float, f: float, theta: float, spacing: tuple[float, float]
) -> np.ndarray:
    """Inferior junction of the RV crescent with the epicardium (searched along the epicardial circle)."""
    angles = np.deg2rad(np.linspace(90.0, 270.0, 3601))  # clockwise from 12 o'clock: the inferior half
    rr = r_epi + 1.0
    x, y = rr * np.sin(angles), rr * np.cos(angles)
    inside = _rv_crescent(x, y, r_epi=r_epi, f=f)
    if not inside.any():
        raise InputError("simulate_lge_phantom: the RV does not touch the LV; adjust the phantom geometry.")
    # The inferior junction: the first angle (going clockwise from 3 o'clock through 6) inside the RV.
    a = angles[np.argmax(inside)]
    return _to_pixels(np.array([r_epi * np.sin(a)]), np.array([r_epi * np.cos(a)]), centre, theta, spacing)[0]


def _circle(centre: np.ndarray, radius_mm: float, theta: float, spacing: tuple[float, float]) -> np.ndarray:
    a = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    return _to_pixels(radius_mm * np.sin(a), radius_mm * np.cos(a), centre, theta, spacing)


def _to_pixels(
    x: np.ndarray, y: np.ndarray, centre: np.ndarray, theta: float, spacing: tuple[float, float]
) -> np.ndarray:
    """Standard-view mm (x right, y up) -> rotated on-screen (row, col) pixel coordinates."""
    xs = np.cos(theta) * x - np.sin(theta) * y
    ys = np.sin(theta) * x + np.cos(theta) * y
    return np.stack([centre[0] - ys / spacing[0], centre[1] + xs / spacing[1]], axis=1)


def _scar(
    clock: np.ndarray,
    radius: np.ndarray,
    myo: np.ndarray,
    *,
    r_endo: float,
    wall: float,
    territory: str,
    extent_deg: float,
    transmurality: float,
    border_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    offset = np.abs((clock - TERRITORY_CENTRE_DEG[territory] + 180.0) % 360.0 - 180.0)
    depth = radius - r_endo
    core = myo & (offset <= extent_deg / 2) & (depth <= transmurality * wall)
    border_deg = np.rad2deg(border_mm / max(r_endo + wall / 2, 1e-6))
    grown = myo & (offset <= extent_deg / 2 + border_deg) & (depth <= transmurality * wall + border_mm)
    return core, grown & ~core


# --- DICOM export --------------------------------------------------------------------------------
def write_lge_dicom(
    study: LGEStudy, out_dir: str | os.PathLike[str], *, contours: bool = True, overwrite: bool = False
) -> Path:
    """Write a study as a DICOM MR series (one file per slice) plus a contour file, like a clinical export.

    Parameters
    ----------
    study : LGEStudy
    out_dir : str or Path
        Created; holds ``IM_0001.dcm`` ... and, with ``contours=True``, ``contours.json`` in the paper's
        form written by :func:`cardiopredict.cmr.io.write_contours` (per DICOM instance number:
        ``epicardium``, ``endocardium`` and ``insertion_point`` as ``[x, y]`` pixel coordinates; see
        docs/CMR_FORMATS.md).
    contours : bool
        Also write the contour file.
    overwrite : bool
        Refuse to write into a folder that already holds DICOM files unless True.

    Returns
    -------
    Path
        ``out_dir``.

    Notes
    -----
    Geometry tags: ImageOrientationPatient ``[1, 0, 0, 0, 0.707, -0.707]`` (along a row to the patient's
    left, down a column posterior-inferior: the standard short-axis display, which the readers keep);
    ImagePositionPatient = slice position x the slice normal; PixelSpacing ``[row_mm, col_mm]``; pixel values
    stored as uint16 with RescaleSlope/Intercept giving back the float intensities (within 1/4095 of
    the range).
    """
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.glob("*.dcm")) and not overwrite:
        raise InputError(
            f"write_lge_dicom: {out} already holds .dcm files; pass overwrite=True or a new folder."
        )
    lo, hi = float(study.images.min()), float(study.images.max())
    slope = (hi - lo) / 4095.0 if hi > lo else 1.0
    study_uid, series_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    now = datetime.now(UTC)
    thickness = study.slice_thickness_mm or 8.0
    normal = np.cross(_ALONG_ROW_LPS, _DOWN_COLUMN_LPS)
    for k in range(study.n_slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        path = out / f"IM_{k + 1:04d}.dcm"
        ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study_uid, series_uid, frame_uid
        ds.Modality = "MR"
        ds.PatientID = study.patient_id or "phantom"
        ds.PatientName = "Phantom^LGE"
        ds.StudyDate = ds.SeriesDate = now.strftime("%Y%m%d")
        ds.SeriesDescription = "LGE SAX PSIR (synthetic phantom)"
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImageOrientationPatient = [*_ALONG_ROW_LPS.tolist(), *_DOWN_COLUMN_LPS.tolist()]
        ds.ImagePositionPatient = (float(study.slice_positions_mm[k]) * normal).round(4).tolist()
        ds.SliceLocation = float(study.slice_positions_mm[k])
        ds.PixelSpacing = [float(study.pixel_spacing_mm[0]), float(study.pixel_spacing_mm[1])]
        ds.SliceThickness = float(thickness)
        ds.Rows, ds.Columns = study.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:.10g}", f"{lo:.10g}"
        stored = np.clip(np.round((study.images[k] - lo) / slope), 0, 4095).astype(np.uint16)
        ds.PixelData = stored.tobytes()
        tmp = path.with_suffix(".dcm.tmp")
        pydicom.dcmwrite(tmp, ds, enforce_file_format=True)
        os.replace(tmp, path)
    if contours:
        from cardiopredict.cmr.io import write_contours

        keyed = study.replace(meta={**study.meta, "instance_numbers": list(range(1, study.n_slices + 1))})
        write_contours(keyed, out / "contours.json")
    return out
