"""Synthetic ventricular-arrhythmia (VA) cohort: ischaemic LGE stacks with a known true risk (the oracle).

Each patient's latent traits fix an LGE short-axis stack (:class:`cardiopredict.cmr.simulate.InfarctSpec`,
rendered by :func:`cardiopredict.cmr.simulate.simulate_infarct_lge`) and a true hazard of a ventricular
arrhythmic event. Drawing is separate from rendering: :func:`draw_va_patients` gives thousands of patients
(traits, true scar features, hazard, outcome) in about a second, without any image.

Generative model (one row per patient; ischaemic cardiomyopathy)
    * ``sex`` 20 % F; ``age`` ~ N(64, 10) clipped to 35-88 years.
    * Acquisition: 6-12 slices 8, 9 or 10 mm apart (contiguous: thickness = spacing), pixels 1.2-1.8 mm,
      a 280-380 mm field of view (matrix 160-256), in-plane rotation N(0, 25 deg), the LV centre up to
      15 mm off the image centre, Rician noise SD 0.02-0.045 of the core, a coil bias field.
    * LV: basal cavity radius N(27, 3) mm (2 mm less in women), basal wall N(9, 1) mm (6.5-12 mm).
    * Infarct outline in one coronary territory (LAD 45 %, RCA 35 %, LCx 20 %): LAD infarcts run from a
      mid-ventricular slice to the apex, RCA/LCx ones from the base to a mid/apical slice; angular
      extent N(120, 30) deg (50-210), transmurality Beta(4, 2) (0.25-1).
    * Arrhythmic substrate: a heterogeneity trait ``h`` ~ N(0, 1), independent of the infarct size,
      sets the gray-zone border ``2.2 exp(0.45 h)`` mm (0.8-7 mm; it takes the place of dense core inside
      the outline, so the scar % does not depend on ``h``) and the expected number of gray-zone channels
      crossing the core, ``0.8 exp(0.9 h)`` (Poisson, at most 3, only through a core >= 4 mm deep;
      3-5 mm wide, through up to 4 consecutive slices, at most one channel per slice).
    * True scar features, from the exact areas of the drawn shapes
      (:func:`cardiopredict.cmr.simulate.infarct_areas_mm2`) x slice spacing x 1.05 g/ml: ``core_g``,
      ``gray_zone_g`` (channels included), ``channel_g``, ``n_channels``, ``myocardium_g``,
      ``scar_pct`` = 100 (core + gray zone) / myocardium, and the AHA segments the core reaches
      (:func:`cardiopredict.cmr.simulate.infarct_aha_segments`; they do not enter the hazard).
    * ``lvef`` = 42 - 0.5 (scar % - 15) - 1.2 (cavity radius - sex mean) + N(0, 7), clipped to 15-65 %:
      it falls with infarct size and dilation, only loosely.
    * True hazard: Weibull proportional hazards (shape 1.3) with the linear predictor of
      :data:`VA_HAZARD`. Event time T; administrative censoring C ~ U(horizon, 2 horizon) (staggered
      enrolment; everyone is followed at least to the horizon of 5 years). ``va_event`` = [T <= horizon],
      the paper's binary composite (SCD, cardiac arrest, sustained VT); ``time_to_event_days`` =
      min(T, C) rounded up to a day; ``event`` = [T <= C]. ``p_va_event`` = P(T <= horizon | traits) is
      the oracle: the label is drawn from it, so no model beats its AUC in expectation.

The coefficients were set once, by design, from expected AUCs on 30 000 drawn patients (no label noise):
25 % events, AUC of LVEF <= 35 % 0.58, of the scar % 0.65, of the oracle 0.81 (issue 13's targets for
n = 235; ``benchmarks/va_cohort_calibration.py`` measures the seeds). Most of the signal is in the
channels and the gray zone, which the scar % only partly reflects.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_dir
from cardiopredict.cmr.io import write_contours
from cardiopredict.cmr.scar import MYOCARDIUM_DENSITY_G_PER_ML
from cardiopredict.cmr.simulate import (
    GrayChannel,
    InfarctSpec,
    infarct_aha_segments,
    infarct_areas_mm2,
    simulate_infarct_lge,
    write_lge_dicom,
    write_lge_nifti,
)
from cardiopredict.errors import InputError, InsufficientDataError

__all__ = [
    "FORMATS",
    "HORIZON_DAYS",
    "VA_HAZARD",
    "draw_va_cohort",
    "draw_va_patients",
    "infarct_spec",
    "simulate_va_cohort",
]

FORMATS = ("dicom", "nifti")
HORIZON_DAYS = 1826
"""Follow-up horizon of the binary composite ``va_event``: 5 years."""
WEIBULL_SHAPE = 1.3
TERRITORIES = {"LAD": 0.45, "RCA": 0.35, "LCx": 0.20}
VA_HAZARD = {
    "intercept": -1.72,
    "gray_zone_g": 0.3,
    "n_channels": 1.0,
    "core_g": 0.05,
    "lvef": -0.45,
    "age": 0.15,
}
"""Log-hazard coefficients: per SD of ``gray_zone_g`` and ``core_g`` (log grams, cohort-free constants
:data:`FEATURE_SCALE`), per channel, per 10 % LVEF and per 10 years."""
GRAY_BORDER_MM = (2.2, 0.45)
"""Gray-zone border width ``a exp(b h)`` mm for heterogeneity ``h``."""
CHANNEL_RATE = (0.8, 0.9)
"""Expected number of channels ``a exp(b h)`` for heterogeneity ``h``."""
FEATURE_SCALE = {"gray_zone_g": (np.log(6.0), 0.75), "core_g": (np.log(8.0), 0.8)}
"""(centre, scale) of the log-gram features in the hazard; fixed numbers, so the hazard of a patient does
not depend on who else is in the cohort."""


def draw_va_patients(n: int, *, rng: np.random.Generator) -> pd.DataFrame:
    """Latent traits, acquisition, true scar features, hazard and outcome of ``n`` patients.

    Returns
    -------
    DataFrame
        One row per patient: covariates (``sex``, ``age``, ``lvef``), acquisition and anatomy (the
        :class:`~cardiopredict.cmr.simulate.InfarctSpec` fields; ``channels`` as a tuple of
        :class:`~cardiopredict.cmr.simulate.GrayChannel`), the true features (``myocardium_g``,
        ``core_g``, ``gray_zone_g``, ``channel_g``, ``n_channels``, ``scar_pct``), ``linear_predictor``,
        ``p_va_event`` and the outcome (``va_event``, ``time_to_event_days``, ``event``).
    """
    female = rng.random(n) < 0.20
    age = np.clip(rng.normal(64.0, 10.0, n), 35, 88).round()
    traits = _draw_anatomy(n, female=female, rng=rng)
    traits["sex"] = np.where(female, "F", "M")
    traits["age"] = age.astype(int)
    traits["heterogeneity"] = rng.normal(0.0, 1.0, n)
    traits.update(_split_core_and_border(traits))
    traits["channels"] = _draw_channels(traits, rng=rng)
    patients = pd.DataFrame(traits)
    patients = pd.concat([patients, scar_features(patients)], axis=1)
    dilation_mm = patients["endo_radius_mm"] - np.where(female, 25.0, 27.0)
    lvef = 42.0 - 0.5 * (patients["scar_pct"] - 15.0) - 1.2 * dilation_mm + rng.normal(0.0, 7.0, n)
    patients["lvef"] = np.clip(lvef, 15, 65).round().astype(int)
    patients["linear_predictor"] = linear_predictor(patients)
    patients["p_va_event"] = event_probability(patients["linear_predictor"].to_numpy())
    return pd.concat([patients, _draw_outcome(patients["linear_predictor"].to_numpy(), rng=rng)], axis=1)


def _draw_anatomy(n: int, *, female: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    """Acquisition, LV geometry, infarct outline and contrast of ``n`` patients (arrays of length n)."""
    spacing_mm = rng.uniform(1.2, 1.8, n).round(2)
    matrix = np.clip(np.round(rng.uniform(280.0, 380.0, n) / spacing_mm / 16) * 16, 160, 256).astype(int)
    territory = rng.choice(list(TERRITORIES), size=n, p=list(TERRITORIES.values()))
    lad = territory == "LAD"
    start = np.where(lad, rng.uniform(0.1, 0.5, n), 0.0)
    end = np.where(lad, 1.0, rng.uniform(0.45, 0.9, n))
    return {
        "territory": territory,
        "n_slices": rng.integers(6, 13, n),
        "slice_spacing_mm": rng.choice([8.0, 9.0, 10.0], size=n),
        "pixel_spacing_mm": spacing_mm,
        "matrix": matrix,
        "rotation_deg": rng.normal(0.0, 25.0, n).round(1),
        "centre_offset_x_mm": rng.uniform(-15.0, 15.0, n).round(1),
        "centre_offset_y_mm": rng.uniform(-15.0, 15.0, n).round(1),
        "endo_radius_mm": np.clip(rng.normal(27.0, 3.0, n) - 2.0 * female, 19.0, 36.0),
        "wall_thickness_mm": np.clip(rng.normal(9.0, 1.0, n), 6.5, 12.0),
        "scar_start": start,
        "scar_end": end,
        "infarct_extent_deg": np.clip(rng.normal(120.0, 30.0, n), 50.0, 210.0),
        "infarct_transmurality": np.clip(rng.beta(4.0, 2.0, n), 0.25, 1.0),
        "blood": rng.uniform(0.6, 0.8, n),
        "noise_sd": rng.uniform(0.02, 0.045, n),
        "bias_a": rng.normal(0.0, 0.15, n),
        "bias_b": rng.normal(0.0, 0.15, n),
        "bias_c": rng.normal(-0.1, 0.05, n),
    }


def _split_core_and_border(traits: dict[str, Any]) -> dict[str, np.ndarray]:
    """Core and gray border inside the infarct's outline: heterogeneity widens the border at the expense
    of the core, so the infarct size (and the scar %) does not depend on it."""
    border = np.clip(GRAY_BORDER_MM[0] * np.exp(GRAY_BORDER_MM[1] * traits["heterogeneity"]), 0.8, 7.0)
    wall, radius = traits["wall_thickness_mm"], traits["endo_radius_mm"]
    border_deg = np.rad2deg(border / (radius + wall / 2.0))
    return {
        "gray_border_mm": border,
        "extent_deg": np.maximum(traits["infarct_extent_deg"] - 2.0 * border_deg, 20.0),
        "transmurality": np.clip(traits["infarct_transmurality"] - 0.5 * border / wall, 0.15, 1.0),
    }


def _draw_channels(traits: dict[str, Any], *, rng: np.random.Generator) -> list[tuple[GrayChannel, ...]]:
    """Gray-zone channels of each patient (at most 3), on slices that cut the infarct, one per slice."""
    rate = CHANNEL_RATE[0] * np.exp(CHANNEL_RATE[1] * traits["heterogeneity"])
    counts = np.minimum(rng.poisson(rate), 3)
    out = []
    for k, count in enumerate(counts):
        n_slices = int(traits["n_slices"][k])
        f = np.linspace(0.0, 1.0, n_slices)
        free = (f >= traits["scar_start"][k] - 1e-9) & (f <= traits["scar_end"][k] + 1e-9)
        core_depth = traits["transmurality"][k] * traits["wall_thickness_mm"][k] * 0.85  # mid-apical
        channels = []
        for _ in range(count if core_depth >= 4.0 else 0):
            if not free.any():
                break
            length = int(rng.integers(2, 5))
            first = last = int(rng.choice(np.flatnonzero(free)))
            while last + 1 < n_slices and free[last + 1] and last - first + 1 < length:
                last += 1
            free[first : last + 1] = False
            channels.append(
                GrayChannel(
                    first_slice=first,
                    last_slice=last,
                    depth_start=float(rng.uniform(0.3, 0.7)),
                    depth_end=float(rng.uniform(0.3, 0.7)),
                    width_mm=float(rng.uniform(3.0, min(5.0, core_depth - 1.0))),
                )
            )
        out.append(tuple(channels))
    return out


def infarct_spec(row: Any) -> InfarctSpec:
    """The :class:`~cardiopredict.cmr.simulate.InfarctSpec` of one row of :func:`draw_va_patients`."""
    return InfarctSpec(
        n_slices=int(row.n_slices),
        slice_spacing_mm=float(row.slice_spacing_mm),
        pixel_spacing_mm=float(row.pixel_spacing_mm),
        shape=(int(row.matrix), int(row.matrix)),
        rotation_deg=float(row.rotation_deg),
        centre_offset_mm=(float(row.centre_offset_x_mm), float(row.centre_offset_y_mm)),
        endo_radius_mm=float(row.endo_radius_mm),
        wall_thickness_mm=float(row.wall_thickness_mm),
        territory=str(row.territory),  # type: ignore[arg-type]
        scar_span=(float(row.scar_start), float(row.scar_end)),
        extent_deg=float(row.extent_deg),
        transmurality=float(row.transmurality),
        gray_border_mm=float(row.gray_border_mm),
        channels=tuple(row.channels),
        blood=float(row.blood),
        noise_sd=float(row.noise_sd),
        bias=(float(row.bias_a), float(row.bias_b), float(row.bias_c)),
    )


def scar_features(patients: pd.DataFrame) -> pd.DataFrame:
    """True scar features of each patient from the exact areas of its drawn infarct.

    Returns
    -------
    DataFrame
        ``myocardium_g``, ``core_g``, ``gray_zone_g``, ``channel_g``, ``n_channels``, ``scar_pct``,
        ``n_aha_segments`` and ``aha_segments`` (``;``-separated AHA segments the dense core reaches).
    """
    rows = []
    for row in patients.itertuples(index=False):
        spec = infarct_spec(row)
        areas = infarct_areas_mm2(spec)
        segments = infarct_aha_segments(spec)
        grams = {
            k: float(v.sum()) * spec.slice_spacing_mm / 1000.0 * MYOCARDIUM_DENSITY_G_PER_ML
            for k, v in areas.items()
        }
        rows.append(
            {
                "myocardium_g": grams["myocardium"],
                "core_g": grams["core"],
                "gray_zone_g": grams["gray_zone"],
                "channel_g": grams["channel"],
                "n_channels": len(spec.channels),
                "scar_pct": 100.0 * (grams["core"] + grams["gray_zone"]) / grams["myocardium"],
                "n_aha_segments": len(segments),
                "aha_segments": ";".join(str(k) for k in segments),
            }
        )
    return pd.DataFrame(rows, index=patients.index)


def linear_predictor(patients: pd.DataFrame) -> np.ndarray:
    """True log-hazard ratio of each patient (:data:`VA_HAZARD`)."""
    c = VA_HAZARD

    def standard(name: str) -> np.ndarray:
        centre, scale = FEATURE_SCALE[name]
        return (np.log(np.maximum(patients[name].to_numpy(float), 0.1)) - centre) / scale

    return (
        c["intercept"]
        + c["gray_zone_g"] * standard("gray_zone_g")
        + c["core_g"] * standard("core_g")
        + c["n_channels"] * patients["n_channels"].to_numpy(float)
        + c["lvef"] * (patients["lvef"].to_numpy(float) - 35.0) / 10.0
        + c["age"] * (patients["age"].to_numpy(float) - 65.0) / 10.0
    )


def event_probability(linear_predictor: np.ndarray, *, horizon_days: float = HORIZON_DAYS) -> np.ndarray:
    """P(T <= horizon) under the Weibull model: ``1 - exp(-(t / horizon)^k exp(lp))`` at t = horizon."""
    return -np.expm1(
        -np.exp(np.asarray(linear_predictor, dtype=float)) * (horizon_days / HORIZON_DAYS) ** WEIBULL_SHAPE
    )


def _draw_outcome(linear_predictor: np.ndarray, *, rng: np.random.Generator) -> pd.DataFrame:
    n = len(linear_predictor)
    # Inverse of the survival function S(t) = exp(-(t / horizon)^k exp(lp)).
    event_days = HORIZON_DAYS * (rng.exponential(1.0, n) / np.exp(linear_predictor)) ** (1.0 / WEIBULL_SHAPE)
    censor_days = rng.uniform(HORIZON_DAYS, 2 * HORIZON_DAYS, n)
    return pd.DataFrame(
        {
            "va_event": (event_days <= HORIZON_DAYS).astype(int),
            "time_to_event_days": np.ceil(np.minimum(event_days, censor_days)).astype(int),
            "event": (event_days <= censor_days).astype(int),
        }
    )


# --- cohort on disk ----------------------------------------------------------------------------------
MANIFEST_COLUMNS = (
    "patient_id",
    "lge",
    "contours",
    "lvef",
    "age",
    "sex",
    "va_event",
    "time_to_event_days",
    "event",
)
ORACLE_FEATURES = (
    "myocardium_g",
    "core_g",
    "gray_zone_g",
    "channel_g",
    "n_channels",
    "scar_pct",
    "n_aha_segments",
    "aha_segments",
)
STUDY_DATE = date(2020, 1, 1)
"""StudyDate written into every synthetic DICOM series (a fixed date keeps the bytes reproducible)."""


def draw_va_cohort(n: int, *, seed: int) -> tuple[pd.DataFrame, list[np.random.Generator]]:
    """The patients of the VA cohort of this ``n`` and ``seed``, and one random stream per patient.

    :func:`simulate_va_cohort` renders exactly these patients; tests and the calibration benchmark use
    it to study the same patients without writing images.
    """
    root = np.random.default_rng([int(seed), 3])
    patients = draw_va_patients(n, rng=root)
    return patients, root.spawn(n)


def simulate_va_cohort(
    out_dir: str | os.PathLike[str],
    *,
    n: int = 235,
    seed: int = 0,
    format: str = "dicom",
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Write a synthetic VA cohort: one LGE stack and contour file per patient, manifest and oracle.

    Parameters
    ----------
    out_dir : path
        Folder to create (absent or empty unless ``overwrite``); built in a temporary sibling and renamed
        into place, so it is never half-written.
    n : int
        Patients (>= 1; the paper's cohort has 235).
    seed : int
        Same seed, same bytes.
    format : {"dicom", "nifti"}
        ``lge/<id>/IM_0001.dcm ...`` (a DICOM MR series with geometry tags) or ``lge/<id>.nii.gz``.
    overwrite : bool
        Replace a non-empty ``out_dir``.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir/manifest.csv``: ``patient_id, lge, contours, lvef, age, sex, va_event,
        time_to_event_days, event`` (paths relative to it; contours in the paper's JSON form under
        ``contours/``). ``oracle.csv`` beside it: ``patient_id, p_va_event, linear_predictor``, the true
        scar features (``myocardium_g, core_g, gray_zone_g, channel_g, n_channels, scar_pct``, the AHA
        segments the core reaches ``n_aha_segments, aha_segments``) and ``territory``. The oracle is for
        scoring only, never a model input.

    Raises
    ------
    InsufficientDataError
        ``n`` < 1.
    InputError
        Unknown ``format``; ``out_dir`` is a file, or a non-empty folder without ``overwrite``.
    """
    out = _check_request(Path(out_dir), n=n, format=format, overwrite=overwrite)
    patients, streams = draw_va_cohort(n, seed=seed)
    ids = [f"va{k + 1:04d}" for k in range(n)]
    indices: Any = range(n)
    if progress:
        from rich.progress import track

        indices = track(indices, description="simulating VA cohort", transient=True)
    with atomic_dir(out, overwrite=overwrite) as staging:
        rows = []
        for k in indices:
            row = patients.iloc[k]
            phantom = simulate_infarct_lge(infarct_spec(row), seed=streams[k], patient_id=ids[k])
            lge, contours = _write_patient(phantom.study, staging, format=format, key=f"va-{seed}-{ids[k]}")
            rows.append({"patient_id": ids[k], "lge": lge, "contours": contours})
        manifest = pd.DataFrame(rows).join(patients[list(MANIFEST_COLUMNS[3:])].reset_index(drop=True))
        manifest[list(MANIFEST_COLUMNS)].to_csv(staging / "manifest.csv", index=False)
        oracle = patients[["p_va_event", "linear_predictor", *ORACLE_FEATURES, "territory"]].round(6)
        oracle.insert(0, "patient_id", ids)
        oracle.to_csv(staging / "oracle.csv", index=False)
    return out / "manifest.csv"


def _check_request(out_dir: Path, *, n: int, format: str, overwrite: bool) -> Path:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InsufficientDataError(f"simulate_va_cohort: n={n!r} patients; give a whole number >= 1.")
    if format not in FORMATS:
        raise InputError(f"simulate_va_cohort: format={format!r}; choose one of {', '.join(FORMATS)}.")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"simulate_va_cohort: output {out_dir} exists and is not a folder; choose another.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(
            f"simulate_va_cohort: output folder {out_dir} exists and is not empty; pass overwrite=True "
            "(--overwrite) to replace it, or choose another folder."
        )
    return out_dir.absolute()


def _write_patient(study: Any, root: Path, *, format: str, key: str) -> tuple[str, str]:
    """Write one stack and its contour file under ``root``; return their paths relative to it."""
    pid = study.patient_id
    contours = Path("contours") / f"{pid}.json"
    if format == "dicom":
        lge = Path("lge") / pid
        write_lge_dicom(study, root / lge, contours=False, uid_seed=key, study_date=STUDY_DATE)
        # contour files address DICOM slices by InstanceNumber (the labels are not written anywhere)
        instances = list(range(1, study.n_slices + 1))
        study = study.replace(
            labels=None, label_convention=None, meta={**study.meta, "instance_numbers": instances}
        )
    else:
        lge = Path("lge") / f"{pid}.nii.gz"
        write_lge_nifti(study, root / lge)
    write_contours(study, root / contours)
    return lge.as_posix(), contours.as_posix()
