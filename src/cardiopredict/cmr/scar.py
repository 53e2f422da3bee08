"""Scar segmentation on LGE short-axis slices: segmenter objects for n-SD, FWHM, hysteresis, labels, models.

A *segmenter* holds validated parameters; the maths lives in the private functions below, and
:func:`segment_scar` only drives a segmenter (checks the arrays, confines the result to the myocardium).
Every segmenter works on a stack of slices and only ever marks pixels inside the myocardium mask.
Thresholds are computed per slice, because LGE signal (coil sensitivity, inversion time) drifts between
slices. :func:`scar_method` builds one from a short spec (``"nsd"``, ``"fwhm"``, ``"hysteresis"``,
``"labels"``, ``"learned:DIR"``), and ``describe()`` gives its name and parameters as JSON (a study stores
it, ``predict`` compares it).

Segmenters
----------
:class:`NSD` (n standard deviations above remote myocardium)
    The remote (healthy) region is chosen automatically: the myocardium is split into six equal angular
    sectors about its centroid (like the six AHA segments of a basal or mid slice) and the sector with the
    lowest *median* intensity is taken as remote (sectors with fewer than ``MIN_REMOTE_PIXELS`` pixels
    are skipped). Scar = myocardium pixels brighter than ``mean_remote + n_sd * sd_remote``. The common
    conventions are n = 2, 3, 5 and 6 (Flett et al., JACC Cardiovasc Imaging 2011; 5 SD agrees best
    with the manual reference there).
:class:`FWHM` (full width at half maximum)
    The maximum is the 99th percentile of the myocardial intensity (robust to a single hot pixel; the
    "brightest region" seed of the manual method). Scar = myocardium pixels >= 50 % of it, kept only in
    connected components that contain a seed: a connected region of at least the cleanup size whose
    pixels are all brighter than ``mean_remote + 3 SD`` (the same remote region as :class:`NSD`). With no
    seed the slice has no scar: FWHM alone would call half of a healthy myocardium scar.
    ``baseline="zero"`` (default) is the classic rule (Amado et al., JACC 2004): threshold = 50 % of the
    maximum. ``"remote"`` measures the half maximum above the remote mean,
    ``remote + 0.5 (max - remote)``, for images whose nulled myocardium is far from zero (e.g. EMIDEC,
    where remote myocardium sits at ~80 % of the maximum and the classic rule calls nearly all of it
    scar).
:class:`Hysteresis` (FWHM-style hysteresis with morphological regularisation)
    Two fractions of the same maximum as :class:`FWHM`: seeds are regions of at least the FWHM seed size
    whose pixels are all >= ``fractions[0]`` (80 %) of the maximum *and* above ``mean_remote + 3 SD``;
    scar is every myocardium pixel >= ``fractions[1]`` (45 %) of the maximum connected to a seed
    (hysteresis thresholding, as in Canny edge detection). The result is then opened with a disk of
    radius ``opening_radius_mm`` (1.5 mm; 2 pixels at 0.73 mm), which removes one- and two-pixel-thin
    bright rims (partial volume with the blood pool at the endocardial border, epicardial fat at the
    epicardial border) and speckle, and components smaller than ``min_component_mm2`` (40 mm²) are
    dropped. ``baseline="remote"`` measures both fractions above the remote mean instead of above zero.
    The three numbers were chosen on the odd-numbered MyoPS cases only and checked on the even-numbered
    ones (docs/BENCHMARKS.md).
:class:`LabelScar`
    A provided canonical label map: by default 3 (infarct) and 4 (no-reflow/MVO) are scar.
:class:`cardiopredict.cmr.learned.LearnedScar`
    A network trained on labelled cases (``cardiopredict cmr train-scar``), loaded from safetensors + JSON.

Gray zone (peri-infarct heterogeneous tissue), always reported beside the scar and never overlapping it:
    * ``"sd"``: between 2 and 3 SD above remote (Yan et al., Circulation 2006;114:32-39), default of
      :class:`NSD`;
    * ``"fwhm"``: 35-50 % of the maximum (Roes et al., Circ Cardiovasc Imaging 2009;2:183-190), default of
      the others.

Small-component cleanup: 4-connected scar components smaller than ``min_component_mm2`` (default 5 mm²,
about 9 pixels at 0.75 mm or 3 pixels at 1.25 mm; 40 mm² for :class:`Hysteresis`) are removed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import numpy as np

from cardiopredict.cmr._scar_rules import (
    MYOCARDIUM_DENSITY_G_PER_ML,
    GrayZoneRule,
    bounding_box,
    clean_small,
    fwhm_rule,
    gray_zone_from_scar,
    hysteresis_rule,
    min_component_pixels,
    nsd_rule,
    paste,
    remote_region,
    scar_burden,
    scar_dice,
)
from cardiopredict.errors import InputError

__all__ = [
    "FWHM",
    "MYOCARDIUM_DENSITY_G_PER_ML",
    "NSD",
    "SCAR_LABELS",
    "Hysteresis",
    "LabelScar",
    "ScarResult",
    "ScarSegmenter",
    "remote_region",
    "scar_burden",
    "scar_dice",
    "scar_method",
    "segment_scar",
]
FWHMBaseline = Literal["zero", "remote"]

SCAR_LABELS = (3, 4)
"""Canonical label values counted as scar: 3 infarct, 4 no-reflow / microvascular obstruction."""
DEFAULT_MIN_COMPONENT_MM2 = 5.0
HYSTERESIS_FRACTIONS = (0.80, 0.45)
"""(seed, grow) fractions of the maximum for :class:`Hysteresis` (chosen on odd-numbered MyoPS cases)."""
OPENING_RADIUS_MM = 1.5
HYSTERESIS_MIN_COMPONENT_MM2 = 40.0
SCAR_METHODS = ("nsd", "fwhm", "hysteresis", "labels", "learned:DIR")
"""The specs :func:`scar_method` understands."""


@dataclass(frozen=True)
class ScarResult:
    """The outcome of a scar segmentation.

    Parameters
    ----------
    mask : bool ndarray of shape (H, W) or (n_slices, H, W)
        Scar, always inside the myocardium mask.
    gray_zone : bool ndarray, same shape
        Peri-infarct gray zone (never overlapping ``mask``).
    remote_mask : bool ndarray, same shape, or None
        The remote myocardium the thresholds were computed from (None for labels or models).
    thresholds : float ndarray of shape (n_slices,)
        The scar intensity threshold per slice (for :class:`Hysteresis` the lower, grow threshold; NaN
        where none was computed).
    method : str
        The segmenter's name (``"nsd"``, ``"fwhm"``, ``"hysteresis"``, ``"labels"``, ``"learned"`` ...).
    params : dict
        The segmenter's parameters (its ``describe()`` without the name).
    """

    mask: np.ndarray
    gray_zone: np.ndarray
    remote_mask: np.ndarray | None
    thresholds: np.ndarray
    method: str
    params: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class ScarSegmenter(Protocol):
    """Anything that segments scar in one LGE slice stack; :func:`segment_scar` drives it.

    ``__call__(images, myo_mask, *, pixel_spacing_mm, labels=None, rotation_deg=None) -> ScarResult``
    with ``images`` float32 (n_slices, H, W), ``myo_mask`` bool of the same shape, ``pixel_spacing_mm``
    (row, col) in mm, ``labels`` the canonical label map when the study has one and ``rotation_deg`` the
    per-slice rotation that puts the RV insertion point at 6 o'clock (NaN where unknown), for segmenters
    that work on the oriented crop. ``describe()`` returns ``{"name": ..., <parameters>}`` as JSON
    values; a learned segmenter adds its ``"preprocessing"`` (the pipeline refuses a mismatch).
    """

    name: str

    def __call__(
        self,
        images: np.ndarray,
        myo_mask: np.ndarray,
        *,
        pixel_spacing_mm: tuple[float, float],
        labels: np.ndarray | None = None,
        rotation_deg: np.ndarray | None = None,
    ) -> ScarResult: ...

    def describe(self) -> dict[str, Any]: ...


def _check_gray_zone(owner: str, rule: str) -> None:
    if rule not in ("sd", "fwhm"):
        raise InputError(f"{owner}: gray_zone={rule!r}; choose 'sd' or 'fwhm'.")


def _check_min_component(owner: str, value: float) -> None:
    if not (np.isfinite(value) and value >= 0):
        raise InputError(f"{owner}: min_component_mm2={value}; give 0 (keep everything) or more.")


def _check_baseline(owner: str, baseline: str) -> None:
    if baseline not in ("zero", "remote"):
        raise InputError(f"{owner}: baseline={baseline!r}; choose 'zero' or 'remote'.")


class _ThresholdRule:
    """Shared driver of the threshold rules: work on the myocardium's bounding box, clean, paste back."""

    name: ClassVar[str]
    min_component_mm2: float

    def __call__(
        self,
        images: np.ndarray,
        myo_mask: np.ndarray,
        *,
        pixel_spacing_mm: tuple[float, float],
        labels: np.ndarray | None = None,
        rotation_deg: np.ndarray | None = None,
    ) -> ScarResult:
        min_px = min_component_pixels(self.min_component_mm2, pixel_spacing_mm)
        # Thresholds only ever look at myocardial pixels: the bounding box gives the same answer, faster.
        box = bounding_box(myo_mask, margin=2)
        part = (slice(None), *box)
        part_labels = None if labels is None else labels[part]
        scar, gray, remote, thresholds = self._segment(
            images[part], myo_mask[part], pixel_spacing_mm=pixel_spacing_mm, labels=part_labels, min_px=min_px
        )
        if min_px > 1 and self.cleans:
            scar, gray = clean_small(scar, gray, min_px)
        shape = images.shape
        return ScarResult(
            paste(scar, shape, box),
            paste(gray, shape, box),
            None if remote is None else paste(remote, shape, box),
            np.asarray(thresholds, dtype=float),
            self.name,
            {k: v for k, v in self.describe().items() if k != "name"},
        )

    cleans: ClassVar[bool] = True

    def _segment(
        self,
        images: np.ndarray,
        myo: np.ndarray,
        *,
        pixel_spacing_mm: tuple[float, float],
        labels: np.ndarray | None,
        min_px: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """``{"name": ..., <every parameter>}`` (JSON values)."""
        return {"name": self.name, **dataclasses.asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class NSD(_ThresholdRule):
    """Scar = myocardium brighter than the remote mean + ``n_sd`` remote SDs (module docstring).

    Parameters
    ----------
    n_sd : float
        Number of remote standard deviations (2, 3, 5 and 6 are the usual choices).
    gray_zone : {"sd", "fwhm"}
    min_component_mm2 : float
        Scar components smaller than this (mm²) are removed; 0 keeps everything.
    """

    n_sd: float = 5.0
    gray_zone: GrayZoneRule = "sd"
    min_component_mm2: float = DEFAULT_MIN_COMPONENT_MM2
    name: ClassVar[str] = "nsd"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.n_sd) and self.n_sd > 0):
            raise InputError(f"NSD: n_sd={self.n_sd}; give a positive number of standard deviations.")
        _check_gray_zone("NSD", self.gray_zone)
        _check_min_component("NSD", self.min_component_mm2)

    def _segment(self, images, myo, *, pixel_spacing_mm, labels, min_px):  # type: ignore[no-untyped-def]
        return nsd_rule(images, myo, n_sd=self.n_sd, gray_zone=self.gray_zone)


@dataclass(frozen=True)
class FWHM(_ThresholdRule):
    """Scar = seeded components >= half the myocardial maximum (module docstring).

    Parameters
    ----------
    baseline : {"zero", "remote"}
        Half of the maximum (classic), or half-way from the remote mean to the maximum.
    gray_zone : {"sd", "fwhm"}
    min_component_mm2 : float
        Smallest seed and scar component, mm².
    """

    baseline: FWHMBaseline = "zero"
    gray_zone: GrayZoneRule = "fwhm"
    min_component_mm2: float = DEFAULT_MIN_COMPONENT_MM2
    name: ClassVar[str] = "fwhm"

    def __post_init__(self) -> None:
        _check_baseline("FWHM", self.baseline)
        _check_gray_zone("FWHM", self.gray_zone)
        _check_min_component("FWHM", self.min_component_mm2)

    def _segment(self, images, myo, *, pixel_spacing_mm, labels, min_px):  # type: ignore[no-untyped-def]
        return fwhm_rule(
            images, myo, gray_zone=self.gray_zone, min_px=min_px, baseline_remote=self.baseline == "remote"
        )


@dataclass(frozen=True)
class Hysteresis(_ThresholdRule):
    """FWHM-style hysteresis thresholding with an opening and a size cleanup (module docstring).

    Parameters
    ----------
    fractions : (float, float)
        (seed, grow) fractions of the maximum, 0 < grow <= seed <= 1.
    opening_radius_mm : float
        Radius of the disk the scar is opened with, mm; 0 switches it off.
    baseline : {"zero", "remote"}
    gray_zone : {"sd", "fwhm"}
    min_component_mm2 : float
        Scar components smaller than this (mm²) are removed (seeds use the 5 mm² default).
    """

    fractions: tuple[float, float] = HYSTERESIS_FRACTIONS
    opening_radius_mm: float = OPENING_RADIUS_MM
    baseline: FWHMBaseline = "zero"
    gray_zone: GrayZoneRule = "fwhm"
    min_component_mm2: float = HYSTERESIS_MIN_COMPONENT_MM2
    name: ClassVar[str] = "hysteresis"

    def __post_init__(self) -> None:
        high, low = (float(f) for f in self.fractions)
        if not 0 < low <= high <= 1:
            raise InputError(
                f"Hysteresis: fractions={tuple(self.fractions)}; give (seed, grow) with "
                "0 < grow <= seed <= 1, e.g. (0.8, 0.45)."
            )
        object.__setattr__(self, "fractions", (high, low))
        if not (np.isfinite(self.opening_radius_mm) and self.opening_radius_mm >= 0):
            raise InputError(f"Hysteresis: opening_radius_mm={self.opening_radius_mm}; give 0 (off) or more.")
        _check_baseline("Hysteresis", self.baseline)
        _check_gray_zone("Hysteresis", self.gray_zone)
        _check_min_component("Hysteresis", self.min_component_mm2)

    def _segment(self, images, myo, *, pixel_spacing_mm, labels, min_px):  # type: ignore[no-untyped-def]
        return hysteresis_rule(
            images,
            myo,
            fractions=self.fractions,
            gray_zone=self.gray_zone,
            seed_px=min_component_pixels(DEFAULT_MIN_COMPONENT_MM2, pixel_spacing_mm),
            radius_px=round(self.opening_radius_mm / float(np.mean(pixel_spacing_mm))),
            baseline_remote=self.baseline == "remote",
        )


@dataclass(frozen=True)
class LabelScar(_ThresholdRule):
    """Scar from the study's canonical label map (no cleanup: the expert's pixels are kept as drawn).

    Parameters
    ----------
    scar_labels : tuple of int
        Canonical values counted as scar: (3, 4) infarct + no-reflow (default), (3,) infarct only.
    gray_zone : {"sd", "fwhm"}
    """

    scar_labels: tuple[int, ...] = SCAR_LABELS
    gray_zone: GrayZoneRule = "fwhm"
    name: ClassVar[str] = "labels"
    min_component_mm2: ClassVar[float] = 0.0
    cleans: ClassVar[bool] = False

    def __post_init__(self) -> None:
        values = tuple(int(v) for v in self.scar_labels)
        if not values or not set(values) <= set(SCAR_LABELS):
            raise InputError(
                f"LabelScar: scar_labels={self.scar_labels}; choose from the canonical scar values "
                f"{SCAR_LABELS} (3 infarct, 4 no-reflow)."
            )
        object.__setattr__(self, "scar_labels", values)
        _check_gray_zone("LabelScar", self.gray_zone)

    def _segment(self, images, myo, *, pixel_spacing_mm, labels, min_px):  # type: ignore[no-untyped-def]
        if labels is None:
            raise InputError(
                "LabelScar needs the study's label map (canonical values, 3 and 4 = scar): read the study "
                "with labels=, or choose a threshold rule such as 'nsd' or 'hysteresis'."
            )
        scar = np.isin(labels, self.scar_labels) & myo
        gray = gray_zone_from_scar(images, myo, scar, rule=self.gray_zone)
        return scar, gray, None, np.full(len(images), np.nan)


def scar_method(spec: str, **params: Any) -> ScarSegmenter:
    """Build a segmenter from a spec: "nsd", "fwhm", "hysteresis", "labels" or "learned:DIR".

    Parameters
    ----------
    spec : str
        The method; ``learned:DIR`` loads the model saved in ``DIR`` (``cardiopredict cmr train-scar``).
        A threshold rule may carry scalar parameters after a colon, ``name:key=value,key=value`` (e.g.
        ``"hysteresis:baseline=remote"``, ``"nsd:n_sd=3"``), so a command line or a study config can
        choose them; numbers are read as floats.
    **params
        The segmenter's parameters, e.g. ``scar_method("nsd", n_sd=3)`` (they override the spec's).

    Raises
    ------
    InputError
        Unknown spec, or a parameter the segmenter does not have.
    ModelFileError
        ``learned:DIR`` holds no readable model.
    """
    text = str(spec).strip()
    if text.lower().startswith("learned:"):
        from cardiopredict.cmr.learned import LearnedScar  # torch: imported only when a model is asked for

        return LearnedScar.load(text.split(":", 1)[1], **params)
    name, _, options = text.partition(":")
    classes: dict[str, type] = {"nsd": NSD, "fwhm": FWHM, "hysteresis": Hysteresis, "labels": LabelScar}
    cls = classes.get(name.strip().lower())
    if cls is None:
        raise InputError(f"unknown scar method {spec!r}; choose one of {', '.join(SCAR_METHODS)}.")
    params = {**_spec_options(text, options), **params}
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(f"scar method {text!r} has no parameter(s) {unknown}; its parameters are {allowed}.")
    try:
        return cls(**params)
    except InputError:
        raise
    except (TypeError, ValueError) as error:
        raise InputError(
            f"scar method {text!r}: {error}; give scalar parameters of the right kind."
        ) from error


def _spec_options(spec: str, options: str) -> dict[str, Any]:
    """``"key=value,key=value"`` of a scar spec as a dict (numbers as floats, other values as text)."""
    parsed: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, equals, value = item.partition("=")
        if not equals or not key.strip() or not value.strip():
            raise InputError(
                f"scar method {spec!r}: {item!r} is not key=value (e.g. 'hysteresis:baseline=remote')."
            )
        try:
            parsed[key.strip()] = float(value)
        except ValueError:
            parsed[key.strip()] = value.strip()
    return parsed


def segment_scar(
    image: np.ndarray,
    myo_mask: np.ndarray,
    segmenter: ScarSegmenter,
    *,
    labels: np.ndarray | None = None,
    pixel_spacing_mm: tuple[float, float] = (1.0, 1.0),
    rotation_deg: np.ndarray | None = None,
) -> ScarResult:
    """Segment scar inside the myocardium of one slice or a stack of slices with ``segmenter``.

    Parameters
    ----------
    image : float ndarray of shape (H, W) or (n_slices, H, W)
        LGE intensities (any scale; thresholds are relative).
    myo_mask : bool ndarray, same shape
        Myocardium (epicardium minus endocardium), healthy and scarred.
    segmenter : ScarSegmenter
        E.g. ``NSD(n_sd=5)``, ``Hysteresis()``, ``LabelScar()``, ``scar_method("learned:DIR")``.
    labels : int ndarray, same shape, optional
        Canonical label map (for :class:`LabelScar`).
    pixel_spacing_mm : (float, float)
        In-plane (row, col) pixel size in mm.
    rotation_deg : float ndarray of shape (n_slices,), optional
        Per-slice rotation putting the RV insertion point at 6 o'clock (for learned segmenters).

    Returns
    -------
    ScarResult
        Arrays of the same shape as ``image``; the scar lies inside ``myo_mask``, the gray zone outside
        the scar.

    Raises
    ------
    InputError
        Shapes differ, the image has non-finite pixels inside the myocardium, or ``segmenter`` is not a
        :class:`ScarSegmenter` (build one with :func:`scar_method`).
    """
    if not isinstance(segmenter, ScarSegmenter):
        raise InputError(
            f"segment_scar: segmenter must be a ScarSegmenter (e.g. NSD(), or scar_method('nsd')), "
            f"not {type(segmenter).__name__} {segmenter!r}."
        )
    image = np.asarray(image)
    myo_mask = np.asarray(myo_mask, dtype=bool)
    single = image.ndim == 2
    if image.ndim not in (2, 3):
        raise InputError(f"segment_scar: image has shape {image.shape}; give (H, W) or (n_slices, H, W).")
    for what, array in (("myo_mask", myo_mask), ("labels", labels)):
        if array is not None and np.shape(array) != image.shape:
            raise InputError(
                f"segment_scar: {what} shape {np.shape(array)} differs from image shape {image.shape}; "
                "give it on the image grid."
            )
    images = (image[None] if single else image).astype(np.float32, copy=False)
    myo = myo_mask[None] if single else myo_mask
    if labels is not None:
        labels = np.asarray(labels)[None] if single else np.asarray(labels)
    if not np.isfinite(images[myo]).all():
        raise InputError(
            "segment_scar: the image has NaN or infinite pixels inside the myocardium; "
            "fix or exclude the slice before segmenting scar."
        )
    result = segmenter(
        images, myo, pixel_spacing_mm=pixel_spacing_mm, labels=labels, rotation_deg=rotation_deg
    )
    scar = np.asarray(result.mask, dtype=bool).reshape(images.shape) & myo
    gray = np.asarray(result.gray_zone, dtype=bool).reshape(images.shape) & myo & ~scar
    remote = None if result.remote_mask is None else np.asarray(result.remote_mask, dtype=bool)
    if single:
        scar, gray = scar[0], gray[0]
        remote = None if remote is None else remote[0]
    thresholds = np.asarray(result.thresholds, dtype=float)
    return ScarResult(scar, gray, remote, thresholds, str(result.method), dict(result.params))
