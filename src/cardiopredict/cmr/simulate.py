"""Parametric LGE short-axis phantoms with a known scar and a known orientation; DICOM and NIfTI writers.

Two phantoms share the geometry helpers (RV crescent, insertion point, contours):

* :func:`simulate_lge_phantom`: a simple stack with one scar arc (tests of the pipeline's geometry);
* :func:`simulate_infarct_lge`: an ischaemic LV described by an :class:`InfarctSpec` (size, wall,
  infarct outline by territory and slices, dense core, heterogeneous gray zone, gray-zone channels
  crossing the core, coil bias, Rician noise), whose exact areas :func:`infarct_areas_mm2` gives; the
  synthetic VA cohort (:mod:`cardiopredict.cohort.va`) is drawn with it.

:func:`write_lge_dicom` writes a DICOM MR series with geometry tags (seeded UIDs for reproducible bytes),
:func:`write_lge_nifti` one NIfTI volume whose affine gives the same geometry.

Both are drawn in the standard short-axis view (anterior up, RV on the image left, inferior down) and
then rotated by ``rotation_deg`` (counter-clockwise on screen) about the LV centre, so a test knows the
rotation the pipeline must undo. The rest of this page describes :func:`simulate_lge_phantom`.

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
myocardium (2), in both phantoms.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from cardiopredict._io import atomic_dir, atomic_target
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
    _check_phantom_options(n_slices, transmurality, territory)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    H, W = shape
    dr, dc = pixel_spacing_mm
    images = np.empty((n_slices, H, W), dtype=np.float32)
    labels = np.zeros((n_slices, H, W), dtype=np.uint8)
    endo, epi, points = [], [], []
    fractions = np.linspace(0.0, 1.0, n_slices) if n_slices > 1 else np.zeros(1)
    theta = np.deg2rad(rotation_deg)
    scar = {"territory": territory, "extent_deg": scar_extent_deg, "transmurality": transmurality}
    for k, f in enumerate(fractions):
        centre = np.array([H / 2.0, W / 2.0]) + rng.normal(0.0, 1.0, 2)
        r_endo = 24.0 - 13.0 * f
        wall = wall_thickness_mm[0] + (wall_thickness_mm[1] - wall_thickness_mm[0]) * f
        r_epi = r_endo + wall
        x, y = _standard_view(shape, centre, pixel_spacing_mm, theta)
        scar_slice = {**scar, "territory": territory if f < 0.95 else None}
        label, core, gray = _phantom_labels(x, y, r_endo, wall, f, scar_slice, gray_border_mm)
        images[k] = _phantom_image(x, y, label, core, gray, noise_sd, rng)
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


def _check_phantom_options(n_slices: int, transmurality: float, territory: Territory | None) -> None:
    """Refuse the options of :func:`simulate_lge_phantom` that draw no sensible phantom."""
    if n_slices < 1:
        raise InputError(f"simulate_lge_phantom: n_slices={n_slices}; give at least 1.")
    if not 0.0 < transmurality <= 1.0:
        raise InputError(f"simulate_lge_phantom: transmurality={transmurality}; give a fraction in (0, 1].")
    if territory is not None and territory not in TERRITORY_CENTRE_DEG:
        raise InputError(f"simulate_lge_phantom: territory={territory!r}; choose LAD, LCx, RCA or None.")


def _standard_view(
    shape: tuple[int, int], centre: np.ndarray, pixel_spacing_mm: tuple[float, float], theta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Standard-view coordinates (mm; x right, y up, the rotation undone) of every pixel, each (H, W)."""
    dr, dc = pixel_spacing_mm
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    x_screen = (cols - centre[1]) * dc
    y_screen = -(rows - centre[0]) * dr
    x = np.cos(theta) * x_screen + np.sin(theta) * y_screen
    y = -np.sin(theta) * x_screen + np.cos(theta) * y_screen
    return x, y


def _phantom_labels(
    x: np.ndarray, y: np.ndarray, r_endo: float, wall: float, f: float, scar: dict[str, Any], border_mm: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Canonical labels of one slice (1 LV, 2 myocardium, 3 scar core, 5 RV) and the core and gray masks."""
    r_epi = r_endo + wall
    radius = np.hypot(x, y)
    clock = np.rad2deg(np.arctan2(x, y))  # clockwise from 12 o'clock, (-180, 180]
    rv = _rv_crescent(x, y, r_epi=r_epi, f=f)
    label = np.zeros(x.shape, dtype=np.uint8)
    label[(radius < r_endo)] = 1
    myo = (radius >= r_endo) & (radius < r_epi)
    label[myo] = 2
    label[rv & ~myo & (radius >= r_epi)] = 5
    core = np.zeros(x.shape, dtype=bool)
    gray = np.zeros(x.shape, dtype=bool)
    if scar["territory"] is not None:
        core, gray = _scar(clock, radius, myo, r_endo=r_endo, wall=wall, border_mm=border_mm, **scar)
        label[core] = 3
    return label, core, gray


def _phantom_image(
    x: np.ndarray,
    y: np.ndarray,
    label: np.ndarray,
    core: np.ndarray,
    gray: np.ndarray,
    noise_sd: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """LGE intensities of one slice from its labels, slightly blurred, with Rician noise; float32."""
    body = (x / 150.0) ** 2 + (y / 110.0) ** 2 < 1.0
    image = np.where(body, INTENSITY["tissue"], INTENSITY["background"])
    for name, value in (("lv", 1), ("rv", 5)):
        image[label == value] = INTENSITY[name]
    image[(label == 2) | (label == 3)] = INTENSITY["myo"]
    image[gray] = INTENSITY["gray"]
    image[core] = INTENSITY["scar"]
    image = ndimage.gaussian_filter(image, 0.6)
    noisy = np.hypot(image + rng.normal(0.0, noise_sd, image.shape), rng.normal(0.0, noise_sd, image.shape))
    return noisy.astype(np.float32)


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


def _circle(
    centre: np.ndarray,
    radius_mm: float,
    theta: float,
    spacing: tuple[float, float],
    *,
    n_vertices: int = 64,
) -> np.ndarray:
    a = np.linspace(0.0, 2 * np.pi, n_vertices, endpoint=False)
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


# --- ischaemic LV with a shaped infarct (the VA cohort) -------------------------------------------
@dataclass(frozen=True)
class GrayChannel:
    """A gray-zone corridor crossing the dense core from one lateral border to the other (an isthmus).

    Parameters
    ----------
    first_slice, last_slice : int
        Slices (0 = base) the channel runs through, inclusive.
    depth_start, depth_end : float
        Depth of the channel's centre line at the two angular ends of the core, as fractions (0-1) of the
        core's depth from the endocardium; the line runs straight between them.
    width_mm : float
        Width of the corridor, mm.
    """

    first_slice: int
    last_slice: int
    depth_start: float
    depth_end: float
    width_mm: float


@dataclass(frozen=True)
class InfarctSpec:
    """Everything that fixes one ischaemic LGE stack: acquisition, LV anatomy, infarct shape, contrast.

    The LV is a stack of rings from base (slice 0) to apex; with ``f`` = 0 at the base and 1 at the apex
    the cavity radius is ``endo_radius_mm * (1 - 0.5 f)`` and the wall ``wall_thickness_mm * (1 - 0.25 f)``.
    The infarct covers the slices with ``scar_span[0] <= f <= scar_span[1]``; on them its dense core spans
    ``extent_deg`` about the territory centre (tapering to 60 % at the ends of the span) and the inner
    ``transmurality`` of the wall; a gray zone ``gray_border_mm`` wide surrounds it in angle and depth
    (never beyond the epicardium), and ``channels`` carve gray corridors through the core.
    Intensities are fractions of the core's: blood ``blood``, nulled myocardium ``myocardium``, gray
    zone a smooth heterogeneous texture between ``gray_range``, channels (surviving myocardium with
    interstitial fibrosis, darker than the gray zone: the scar rules leave them out of the scar) between
    ``channel_range``; Rician noise of SD ``noise_sd``; a coil
    bias ``exp(a x + b y + c r^2)`` (x, y in units of 100 mm from the LV centre) with ``bias = (a, b, c)``.
    """

    n_slices: int = 8
    slice_spacing_mm: float = 8.0
    pixel_spacing_mm: float = 1.4
    shape: tuple[int, int] = (208, 208)
    rotation_deg: float = 0.0
    centre_offset_mm: tuple[float, float] = (0.0, 0.0)
    endo_radius_mm: float = 26.0
    wall_thickness_mm: float = 9.0
    territory: Territory = "LAD"
    scar_span: tuple[float, float] = (0.2, 1.0)
    extent_deg: float = 100.0
    transmurality: float = 0.7
    gray_border_mm: float = 2.5
    channels: tuple[GrayChannel, ...] = ()
    blood: float = 0.7
    myocardium: float = 0.06
    gray_range: tuple[float, float] = (0.3, 0.6)
    channel_range: tuple[float, float] = (0.12, 0.25)
    noise_sd: float = 0.03
    bias: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class InfarctPhantom:
    """A rendered stack and its truth: ``study`` (labels: 3 = dense core, gray zone labelled 2), and bool
    ``(n_slices, H, W)`` masks ``core``, ``gray_zone`` (channels included) and ``channel``."""

    study: LGEStudy
    core: np.ndarray
    gray_zone: np.ndarray
    channel: np.ndarray


def infarct_slices(spec: InfarctSpec) -> dict[str, np.ndarray]:
    """Per-slice geometry of :class:`InfarctSpec`, each an array of shape ``(n_slices,)``.

    Returns
    -------
    dict
        ``f`` (0 base, 1 apex), ``r_endo_mm``, ``wall_mm``, ``scar`` (bool: the slice cuts the infarct),
        ``half_extent_deg`` (core), ``core_depth_mm``, ``border_deg`` (the gray border in angle).
    """
    n = spec.n_slices
    f = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    r_endo = spec.endo_radius_mm * (1.0 - 0.5 * f)
    wall = spec.wall_thickness_mm * (1.0 - 0.25 * f)
    lo, hi = spec.scar_span
    scar = (f >= lo - 1e-9) & (f <= hi + 1e-9)
    mid, half_span = (lo + hi) / 2.0, max((hi - lo) / 2.0, 1e-6)
    taper = 1.0 - 0.4 * np.clip((f - mid) / half_span, -1.0, 1.0) ** 2
    core_depth = spec.transmurality * wall
    return {
        "f": f,
        "r_endo_mm": r_endo,
        "wall_mm": wall,
        "scar": scar,
        "half_extent_deg": np.where(scar, spec.extent_deg / 2.0 * taper, 0.0),
        "core_depth_mm": np.where(scar, core_depth, 0.0),
        "border_deg": np.rad2deg(spec.gray_border_mm / (r_endo + wall / 2.0)),
    }


def infarct_areas_mm2(spec: InfarctSpec) -> dict[str, np.ndarray]:
    """Exact areas of myocardium, dense core, gray zone and channels per slice (mm², ``(n_slices,)``).

    The shapes :func:`simulate_infarct_lge` draws are annular sectors, so their areas have closed forms;
    a rendered stack matches them up to pixelisation and partial volume.
    """
    g = infarct_slices(spec)
    r, wall, cd = g["r_endo_mm"], g["wall_mm"], g["core_depth_mm"]
    myocardium = np.pi * ((r + wall) ** 2 - r**2)
    core_sector = np.deg2rad(2 * g["half_extent_deg"]) / 2.0 * ((r + cd) ** 2 - r**2)
    grown_depth = np.minimum(cd + spec.gray_border_mm, wall)
    grown_angle = np.deg2rad(2 * (g["half_extent_deg"] + g["border_deg"]))
    grown = np.where(g["scar"], grown_angle / 2.0 * ((r + grown_depth) ** 2 - r**2), 0.0)
    channel = np.zeros(spec.n_slices)
    for c in spec.channels:
        on = (np.arange(spec.n_slices) >= c.first_slice) & (np.arange(spec.n_slices) <= c.last_slice)
        centre_depth = cd * (c.depth_start + c.depth_end) / 2.0
        arc = np.deg2rad(2 * g["half_extent_deg"]) * (r + centre_depth)
        channel += np.where(on & g["scar"], c.width_mm * arc, 0.0)
    channel = np.minimum(channel, core_sector)
    return {
        "myocardium": myocardium,
        "core": core_sector - channel,
        "gray_zone": grown - core_sector + channel,
        "channel": channel,
    }


# AHA 17-segment model in the standard view: clockwise from 12 o'clock (anterior) with the septum on the left.
_AHA_RING = (1, 6, 5, 4, 3, 2)  # basal 60-degree sectors centred on 0, 60, ... (mid: + 6)
_AHA_APEX = (13, 16, 15, 14)  # apical 90-degree sectors centred on 0 (anterior), 90 (lateral), ...


def infarct_aha_segments(spec: InfarctSpec) -> tuple[int, ...]:
    """AHA segments (1-16; the apical cap 17 is not imaged) that the dense core of ``spec`` reaches.

    Slices with ``f`` < 1/3 are basal (1-6), < 2/3 mid (7-12), the rest apical (13-16); a segment counts
    when the core's angular interval overlaps its sector.
    """
    g = infarct_slices(spec)
    centre = TERRITORY_CENTRE_DEG[spec.territory]
    found: set[int] = set()
    for f, half in zip(g["f"][g["scar"]], g["half_extent_deg"][g["scar"]], strict=True):
        ring, width = (_AHA_RING, 60.0) if f < 2 / 3 else (_AHA_APEX, 90.0)
        offset = 0 if f < 1 / 3 else (6 if f < 2 / 3 else 0)
        for k, segment in enumerate(ring):
            gap = abs((centre - k * width + 180.0) % 360.0 - 180.0)  # sector centre to core centre
            if gap < width / 2.0 + half:
                found.add(segment + offset)
    return tuple(sorted(found))


def simulate_infarct_lge(
    spec: InfarctSpec, *, seed: int | np.random.Generator = 0, patient_id: str = "phantom"
) -> InfarctPhantom:
    """Render one ischaemic LGE short-axis stack (see :class:`InfarctSpec`), vectorised over slices.

    Parameters
    ----------
    spec : InfarctSpec
    seed : int or numpy.random.Generator
        Draws the per-slice jitter of the LV centre (SD 1 px) and gain (SD 3 %), the gray-zone texture
        and the noise.
    patient_id : str

    Returns
    -------
    InfarctPhantom
        The study (images ``(n_slices, H, W)`` float32, canonical labels, 40-vertex epi/endo contours and
        the inferior insertion point per slice, ``meta["base_index"] = 0``) and the truth masks.
    """
    if spec.n_slices < 1 or spec.territory not in TERRITORY_CENTRE_DEG:
        raise InputError(
            f"simulate_infarct_lge: n_slices={spec.n_slices}, territory={spec.territory!r}; give at least "
            "1 slice and a territory of LAD, LCx, RCA."
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n, (H, W), d = spec.n_slices, spec.shape, float(spec.pixel_spacing_mm)
    g = {
        k: v.reshape(-1, 1, 1).astype(np.float32 if v.dtype.kind == "f" else v.dtype)
        for k, v in infarct_slices(spec).items()
    }
    offset_px = np.array([-spec.centre_offset_mm[1], spec.centre_offset_mm[0]]) / d
    centres = np.array([H / 2.0, W / 2.0]) + offset_px + rng.normal(0.0, 1.0, (n, 2))
    box = _heart_box(g, centres, spec)
    labels = np.zeros((n, H, W), dtype=np.uint8)
    images = np.repeat(_body(spec)[None], n, axis=0)
    masks = _paint_heart(spec, g, centres, box, labels[box], images[box], rng)
    images = _acquire(spec, images, centres, box, rng)
    truth = [_in_full_stack(mask, box, (n, H, W)) for mask in masks]
    theta, spacing = np.deg2rad(spec.rotation_deg), (d, d)
    r_endo_k, r_epi_k = g["r_endo_mm"].ravel(), (g["r_endo_mm"] + g["wall_mm"]).ravel()
    study = LGEStudy(
        images=images,
        pixel_spacing_mm=spacing,
        slice_positions_mm=np.arange(n) * float(spec.slice_spacing_mm),
        endo=[_circle(centres[k], r_endo_k[k], theta, spacing, n_vertices=40) for k in range(n)],
        epi=[_circle(centres[k], r_epi_k[k], theta, spacing, n_vertices=40) for k in range(n)],
        insertion_points=[
            _insertion_point(centres[k], r_epi_k[k], float(g["f"].ravel()[k]), theta, spacing)
            for k in range(n)
        ],
        labels=labels,
        label_convention="canonical",
        meta={
            "source": "cardiopredict.cmr.simulate.simulate_infarct_lge",
            "synthetic": True,
            "rotation_deg": float(spec.rotation_deg),
            "territory": spec.territory,
            "slice_thickness_mm": float(spec.slice_spacing_mm),
            "base_index": 0,
        },
        patient_id=patient_id,
    )
    return InfarctPhantom(study=study, core=truth[0], gray_zone=truth[1], channel=truth[2])


def _heart_box(
    g: dict[str, np.ndarray], centres: np.ndarray, spec: InfarctSpec
) -> tuple[slice, slice, slice]:
    """The box of the stack (all slices) holding the LV and the RV; heart geometry is drawn only in it."""
    (H, W), d = spec.shape, float(spec.pixel_spacing_mm)
    # The RV reaches 1.8 epicardial radii.
    reach = int(np.ceil((1.9 * float(g["r_endo_mm"].max() + g["wall_mm"].max())) / d)) + 3
    top, left = (max(int(v) - reach, 0) for v in centres.mean(axis=0))
    return (slice(None), slice(top, min(top + 2 * reach, H)), slice(left, min(left + 2 * reach, W)))


def _in_full_stack(
    mask: np.ndarray, box: tuple[slice, slice, slice], shape: tuple[int, int, int]
) -> np.ndarray:
    """A bool mask of the heart ``box`` placed in an otherwise False stack of ``shape``."""
    full = np.zeros(shape, dtype=bool)
    full[box] = mask
    return full


def _body(spec: InfarctSpec) -> np.ndarray:
    """Tissue (0.25) inside a 340 x 250 mm chest ellipse about the image centre, air (0) outside."""
    (H, W), d = spec.shape, float(spec.pixel_spacing_mm)
    body = (((np.arange(W) - W / 2.0) * d / 170.0) ** 2)[None, :] + (
        ((np.arange(H) - H / 2.0) * d / 125.0) ** 2
    )[:, None] < 1.0
    return np.where(body, np.float32(INTENSITY["tissue"]), np.float32(0.0))


def _paint_heart(
    spec: InfarctSpec,
    g: dict[str, np.ndarray],
    centres: np.ndarray,
    box: tuple[slice, slice, slice],
    labels: np.ndarray,
    image: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label and paint the LV, RV and infarct into the ``box`` views ``labels`` and ``image`` (in place);
    return the (core, gray zone, channel) masks of the box, before blur, bias and noise."""
    d, theta = float(spec.pixel_spacing_mm), np.deg2rad(spec.rotation_deg)
    rows, cols = np.mgrid[box[1], box[2]].astype(np.float32)
    x_screen = (cols[None] - centres[:, 1, None, None].astype(np.float32)) * d
    y_screen = -(rows[None] - centres[:, 0, None, None].astype(np.float32)) * d
    x = np.cos(theta) * x_screen + np.sin(theta) * y_screen
    y = -np.sin(theta) * x_screen + np.cos(theta) * y_screen
    radius = np.hypot(x, y)
    r_endo, r_epi = g["r_endo_mm"], g["r_endo_mm"] + g["wall_mm"]
    myo = (radius >= r_endo) & (radius < r_epi)
    core, gray, channel = _infarct_masks(spec, g, x, y, radius, myo)
    labels[radius < r_endo] = 1
    labels[myo] = 2
    labels[_rv_crescent(x, y, r_epi=r_epi, f=g["f"]) & ~myo & (radius >= r_epi)] = 5
    labels[core] = 3
    image[labels == 1] = spec.blood
    image[labels == 5] = 0.93 * spec.blood
    image[myo] = spec.myocardium
    lo, hi = spec.gray_range
    image[gray] = lo + (hi - lo) * _texture(x[gray], y[gray], rng)
    c_lo, c_hi = spec.channel_range
    image[channel] = c_lo + (c_hi - c_lo) * _texture(x[channel], y[channel], rng)
    image[core] = 0.92 + 0.08 * _texture(x[core], y[core], rng)
    return core, gray, channel


def _acquire(
    spec: InfarctSpec,
    image: np.ndarray,
    centres: np.ndarray,
    box: tuple[slice, slice, slice],
    rng: np.random.Generator,
) -> np.ndarray:
    """Partial volume (in the heart box), coil bias, per-slice gain and Rician noise."""
    (H, W), d = spec.shape, float(spec.pixel_spacing_mm)
    image[box] = ndimage.gaussian_filter(image[box], (0.0, 0.6, 0.6))
    rows_mm = (np.arange(H)[None, :, None] - centres[:, 0, None, None]) * d
    cols_mm = (np.arange(W)[None, None, :] - centres[:, 1, None, None]) * d
    a, b, c = spec.bias  # exp(a x + b y + c (x² + y²)) factorises into a column and a row profile
    gain = rng.normal(1.0, 0.03, (spec.n_slices, 1, 1))
    bias = np.exp(a * cols_mm / 100.0 + c * (cols_mm / 100.0) ** 2) * np.exp(
        -b * rows_mm / 100.0 + c * (rows_mm / 100.0) ** 2
    )
    image *= (gain * bias).astype(np.float32)
    # Rician: the magnitude of signal + complex Gaussian noise. The imaginary part of each pixel is the
    # real part drawn for another pixel (the field reversed), independent of it, at half the drawing cost.
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(spec.noise_sd)
    return np.hypot(image + noise, noise[::-1, ::-1, ::-1]).astype(np.float32)


def _infarct_masks(
    spec: InfarctSpec,
    g: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    radius: np.ndarray,
    myo: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(core, gray zone with channels, channels), bool ``(n_slices, H, W)``; shapes as in
    :func:`infarct_areas_mm2`."""
    clock = np.rad2deg(np.arctan2(x, y))
    signed = (clock - TERRITORY_CENTRE_DEG[spec.territory] + 180.0) % 360.0 - 180.0
    offset = np.abs(signed)
    depth = radius - g["r_endo_mm"]
    in_scar = myo & g["scar"]
    sector = in_scar & (offset <= g["half_extent_deg"])
    core = sector & (depth <= g["core_depth_mm"])
    grown = in_scar & (offset <= g["half_extent_deg"] + g["border_deg"])
    grown &= depth <= g["core_depth_mm"] + spec.gray_border_mm
    channel = np.zeros_like(core)
    across = (signed + g["half_extent_deg"]) / np.maximum(2.0 * g["half_extent_deg"], 1e-6)
    slice_index = np.arange(spec.n_slices).reshape(-1, 1, 1)
    for c in spec.channels:
        on = (slice_index >= c.first_slice) & (slice_index <= c.last_slice)
        centre_depth = g["core_depth_mm"] * (c.depth_start + (c.depth_end - c.depth_start) * across)
        channel |= core & on & (np.abs(depth - centre_depth) <= c.width_mm / 2.0)
    return core & ~channel, grown & ~(core & ~channel), channel


def _texture(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A smooth random texture in [0, 1] at points (x, y) mm: three plane waves of 4-10 mm wavelength."""
    if x.size == 0:
        return np.zeros(0, dtype=np.float32)
    angles = rng.uniform(0.0, np.pi, 3)
    wave_numbers = 2 * np.pi / rng.uniform(4.0, 10.0, 3)
    phases = rng.uniform(0.0, 2 * np.pi, 3)
    total = sum(
        np.cos(k * (np.cos(a) * x + np.sin(a) * y) + p)
        for a, k, p in zip(angles, wave_numbers, phases, strict=True)
    )
    return ((total / 3.0 + 1.0) / 2.0).astype(np.float32)


# --- DICOM export --------------------------------------------------------------------------------
def write_lge_dicom(
    study: LGEStudy,
    out_dir: str | os.PathLike[str],
    *,
    contours: bool = True,
    overwrite: bool = False,
    uid_seed: str | None = None,
    study_date: date | None = None,
) -> Path:
    """Write a study as a DICOM MR series (one file per slice) plus a contour file, like a clinical export.

    Parameters
    ----------
    study : LGEStudy
    out_dir : str or Path
        Created (staged in a temporary sibling and renamed into place, so never half-written); holds
        ``IM_0001.dcm`` ... and, with ``contours=True``, ``contours.json`` in the paper's form written by
        :func:`cardiopredict.cmr.io.write_contours` (per DICOM instance number: ``epicardium``,
        ``endocardium`` and ``insertion_point`` as ``[x, y]`` pixel coordinates; see docs/CMR_FORMATS.md).
    contours : bool
        Also write the contour file.
    overwrite : bool
        Replace an existing non-empty ``out_dir`` (refused unless True).
    uid_seed : str, optional
        Derive the study, series, frame-of-reference and instance UIDs from this string (the same string
        gives the same UIDs, so a seeded cohort is byte-identical); None draws fresh UIDs.
    study_date : datetime.date, optional
        StudyDate/SeriesDate; None: today (UTC).

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
    from pydicom.uid import generate_uid

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise InputError(
            f"write_lge_dicom: {out} already exists and is not an empty folder; pass overwrite=True "
            "(which replaces it) or a new folder."
        )
    lo, hi = float(study.images.min()), float(study.images.max())
    slope = (hi - lo) / 4095.0 if hi > lo else 1.0

    def uid(part: str) -> str:
        return generate_uid() if uid_seed is None else generate_uid(entropy_srcs=[uid_seed, part])

    template = _dicom_series_template(study, uid, study_date or datetime.now(UTC).date())
    template.RescaleSlope, template.RescaleIntercept = f"{slope:.10g}", f"{lo:.10g}"
    with atomic_dir(out, overwrite=True) as staging:
        _write_dicom_slices(study, staging, template, uid, lo=lo, slope=slope)
        if contours:
            from cardiopredict.cmr.io import write_contours

            keyed = study.replace(meta={**study.meta, "instance_numbers": list(range(1, study.n_slices + 1))})
            write_contours(keyed, staging / "contours.json")
    return out


def _write_dicom_slices(
    study: LGEStudy, folder: Path, template: Any, uid: Any, *, lo: float, slope: float
) -> None:
    import copy

    import pydicom

    normal = np.cross(_ALONG_ROW_LPS, _DOWN_COLUMN_LPS)
    for k in range(study.n_slices):
        ds = copy.copy(template)
        ds.file_meta = copy.copy(template.file_meta)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(f"instance{k + 1}")
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = (float(study.slice_positions_mm[k]) * normal).round(4).tolist()
        ds.SliceLocation = float(study.slice_positions_mm[k])
        stored = np.clip(np.round((study.images[k] - lo) / slope), 0, 4095).astype(np.uint16)
        ds.PixelData = stored.tobytes()
        pydicom.dcmwrite(folder / f"IM_{k + 1:04d}.dcm", ds, enforce_file_format=True)


def _dicom_series_template(study: LGEStudy, uid: Any, day: date) -> Any:
    """The tags every slice of the series shares (slice-specific ones are set by the caller)."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = MRImageStorage
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
        uid("study"),
        uid("series"),
        uid("frame"),
    )
    ds.Modality = "MR"
    ds.PatientID = study.patient_id or "phantom"
    ds.PatientName = "Phantom^LGE"
    ds.StudyDate = ds.SeriesDate = day.strftime("%Y%m%d")
    ds.SeriesDescription = "LGE SAX PSIR (synthetic phantom)"
    ds.SeriesNumber = 1
    ds.ImageOrientationPatient = [*_ALONG_ROW_LPS.tolist(), *_DOWN_COLUMN_LPS.tolist()]
    ds.PixelSpacing = [float(study.pixel_spacing_mm[0]), float(study.pixel_spacing_mm[1])]
    ds.SliceThickness = float(study.slice_thickness_mm or 8.0)
    ds.Rows, ds.Columns = study.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


# --- NIfTI export --------------------------------------------------------------------------------
def write_lge_nifti(study: LGEStudy, path: str | os.PathLike[str]) -> Path:
    """Write a study as one NIfTI volume (int16 with scl_slope/inter) whose affine gives its geometry.

    Parameters
    ----------
    study : LGEStudy
        Slices in the standard short-axis display, evenly spaced along ``slice_positions_mm``.
    path : str or Path
        ``*.nii.gz`` or ``*.nii``; written atomically (gzip without a time stamp: the same study gives the
        same bytes).

    Returns
    -------
    Path

    Notes
    -----
    Voxel ``[i, j, k]`` is pixel ``(row i, column j)`` of slice ``k``; the affine (sform and qform, code 1)
    maps i along ``_DOWN_COLUMN_LPS``, j along ``_ALONG_ROW_LPS`` and k along their normal (converted to
    RAS), so :func:`cardiopredict.cmr.io.read_lge` reads it back in the same display and slice order, and a
    contour file keyed by ``slice`` (file index) applies unchanged.
    """
    import nibabel as nib

    path = Path(path)
    gaps = np.diff(study.slice_positions_mm)
    if gaps.size and not np.allclose(gaps, gaps[0], atol=1e-3):
        raise InputError(f"write_lge_nifti: slices of {path} are not evenly spaced ({gaps.tolist()} mm).")
    dz = float(gaps[0]) if gaps.size else float(study.slice_thickness_mm or 8.0)
    normal = np.cross(_ALONG_ROW_LPS, _DOWN_COLUMN_LPS)
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    affine = np.eye(4)
    dr, dc = study.pixel_spacing_mm
    affine[:3, :3] = lps_to_ras @ np.stack([_DOWN_COLUMN_LPS * dr, _ALONG_ROW_LPS * dc, normal * dz], axis=1)
    affine[:3, 3] = lps_to_ras @ (normal * float(study.slice_positions_mm[0]))
    image = nib.Nifti1Image(np.moveaxis(study.images, 0, 2), affine)
    image.header.set_data_dtype(np.int16)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    suffix = ".nii.gz" if path.name.endswith(".gz") else ".nii"
    with atomic_target(path, suffix=suffix) as tmp:
        if suffix == ".nii":
            nib.save(image, tmp)
        else:
            import gzip

            with (
                open(tmp, "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, filename="", mtime=0) as out,
            ):
                out.write(image.to_bytes())
    return path
