"""Ventricular-arrhythmia study (paper section 2.2, Table 2, Figs 7–11) as a :class:`StudySpec`.

Cohort → each patient's LGE series with contours or a label map → the pipeline's myocardium and scar
maps (the configured scar method, so segmentation error flows through as in the paper), oriented
128 x 128 crops, 3–10 slices base → apex (:func:`cardiopredict.features.build_lge_inputs`) →
patient-level stratified k-fold → the paper's sliding slice CNN + MLP (``scarnet``; ``scarnet_pooled``
is its order-free variant) → on the same folds the guideline rule LVEF <= 35 %, a logistic model on
LVEF, a logistic model on handcrafted scar features (core and gray-zone mass and %, scar entropy,
transmurality, scarred AHA segments), and — when the manifest carries ``time_to_event_days`` and
``event`` — a Cox model on the same features (its predicted probability of an event by the horizon).

``metrics.json`` adds to the engine's blocks a Table-2 block (per-fold AUC, mean, SD of every score)
and, with time-to-event columns, Harrell's C-index and the time-dependent AUC at the horizon of every
score. Patients without LVEF, with a time but no event flag (or the reverse), or with fewer than 3
usable slices are excluded with the reason in ``cohort.csv``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.cmr.scar_features import SCAR_FEATURE_NAMES
from cardiopredict.config import VA_MODELS, LGEInputConfig, StudyProfile
from cardiopredict.errors import ConfigError
from cardiopredict.evaluation.baselines import cv_logistic, lvef_rule_scores
from cardiopredict.evaluation.survival import cv_cox
from cardiopredict.features import LGE_FEATURE_VERSION, CohortInputs, build_lge_inputs, lge_preprocessing
from cardiopredict.plots import plot_reliability, plot_roc, plot_training_curves
from cardiopredict.plots.va import extreme_rows, plot_va_extremes, scar_saliency
from cardiopredict.studies.engine import ModelSpec, StudySpec, Task, TrainedModel, read_oracle, run_study

__all__ = ["HORIZON_DAYS", "RULE", "run_va_study", "va_spec"]

RULE = "lvef35"
HORIZON_DAYS = 1826.0
"""Default follow-up horizon of the binary outcome: 5 years (set it to your cohort's)."""
_TIME, _EVENT = "time_to_event_days", "event"
POLAR_LEARNING_RATE = 1e-3
"""``scarnet_polar``'s Adam learning rate under every protocol unless ``--learning-rate`` is given. The
paper's 1e-4 was chosen for its own network and leaves this one under-trained (inner early stopping at
epochs 1–100, two folds at the limit); 1e-3 is the rate of its development-cohort configuration (seed 1).
Every result of both rates on the other cohorts is in docs/BENCHMARKS.md, section 11."""


def model_spec(name: str, config: LGEInputConfig) -> ModelSpec:
    """``scarnet`` (slice vectors in base → apex order into the MLP), ``scarnet_pooled`` (masked mean) or
    ``scarnet_polar`` (each slice unwrapped to a depth x angle map of its myocardium, masked mean)."""
    kwargs: dict[str, Any] = {
        "input_key": "slices",
        "mask_key": "slice_mask",
        "in_channels": 3 if config.lge_channel else 2,
        "max_slices": config.max_slices,
        "image_size": config.size,
        "pooling": "ordered" if name == "scarnet" else "mean",
    }
    learning_rate = None
    if name == "scarnet_polar":
        kwargs["representation"] = "polar"
        learning_rate = POLAR_LEARNING_RATE
    inputs = {"slices": "lge.slices", "slice_mask": "lge.slice_mask"}
    spec = {key: {"column": "lge", "feature": array.split(".")[1]} for key, array in inputs.items()}
    return ModelSpec(name, "scarnet", kwargs, inputs, spec, learning_rate=learning_rate)


def _covariate_problems(row: dict[str, Any]) -> str | None:
    """Why a patient's covariates cannot be used, or None."""
    lvef = pd.to_numeric(pd.Series([row.get("lvef")]), errors="coerce").iloc[0]
    if not np.isfinite(lvef):
        return "lvef: missing or not a number; the study compares with LVEF <= 35 % and needs every LVEF"
    if not 5 <= lvef <= 90:
        return f"lvef: {lvef} is not a plausible ejection fraction in % (5–90); fix the manifest"
    time_given = pd.notna(row.get(_TIME)) if _TIME in row else False
    event_given = pd.notna(row.get(_EVENT)) if _EVENT in row else False
    if time_given != event_given:
        have, lack = (_TIME, _EVENT) if time_given else (_EVENT, _TIME)
        return f"{have} given without {lack}; give both (or neither) for every patient"
    if time_given and (float(row[_TIME]) < 0 or row[_EVENT] not in (0, 1, 0.0, 1.0)):
        return f"{_TIME} must be >= 0 days and {_EVENT} 0 or 1; got {row[_TIME]!r}, {row[_EVENT]!r}"
    return None


def _build(config: LGEInputConfig, cache_dir: Path | None):
    def build(table: pd.DataFrame, out: Path, progress: bool) -> CohortInputs:
        problems = {str(row["patient_id"]): _covariate_problems(row) for row in table.to_dict("records")}
        problems = {pid: reason for pid, reason in problems.items() if reason}
        usable = table[~table["patient_id"].astype(str).isin(list(problems))].reset_index(drop=True)
        cohort = build_lge_inputs(
            usable, config=config, cache_dir=cache_dir or out / "cache", progress=progress, evaluation=True
        )
        cohort.exclusions.update(problems)
        cohort.extras["has_time"] = _TIME in table and bool(cohort.table[_TIME].notna().any())
        cohort.config["run_facts"] = {
            "scar_method": cohort.config["lge_preprocessing"]["scar_method"],
            "assumed_pixel_spacing_mm": config.pixel_spacing_mm,
            "oriented": config.orient,
        }
        return cohort

    return build


def _tasks(cohort: CohortInputs) -> list[Task]:
    y = cohort.table["va_event"].astype(int).to_numpy()
    return [Task("va_event", (0, 1), np.arange(len(y)), y, positive=1, class_names=("no event", "event"))]


def _baselines(horizon_days: float):
    def baselines(task: Task, cohort: CohortInputs, folds: np.ndarray, seed: int) -> dict[str, np.ndarray]:
        lvef = pd.to_numeric(cohort.table["lvef"], errors="coerce").to_numpy(dtype=float)
        scar = cohort.arrays["lge.scar_features"].astype(float)
        result = {
            RULE: lvef_rule_scores(lvef),
            "lvef_logistic": cv_logistic(lvef[:, None], task.y, folds, seed=seed),
            "scar_logistic": cv_logistic(scar, task.y, folds, seed=seed),
        }
        if cohort.extras["has_time"]:
            time = cohort.table[_TIME].to_numpy(dtype=float)
            event = cohort.table[_EVENT].to_numpy(dtype=float).astype(int)
            cox = cv_cox(
                scar, time, event, folds, horizon_days=horizon_days, feature_names=list(SCAR_FEATURE_NAMES)
            )
            result["scar_cox"] = cox.event_probability
        return result

    return baselines


def _oracle(task: Task, cohort: CohortInputs) -> dict[str, np.ndarray]:
    oracle = read_oracle(cohort.config["manifest"], cohort.patient_ids)
    if oracle is None or "p_va_event" not in oracle:
        return {}
    return {"oracle": oracle["p_va_event"].to_numpy(dtype=float)[task.rows]}


def _outcomes(task: Task, cohort: CohortInputs) -> dict[str, np.ndarray]:
    if not cohort.extras["has_time"]:
        return {}
    return {
        "time_days": cohort.table[_TIME].to_numpy(dtype=float)[task.rows],
        "event": cohort.table[_EVENT].to_numpy(dtype=float)[task.rows],
    }


def _figures(out: Path, predictions: pd.DataFrame, cohort: CohortInputs, trained: list[TrainedModel]) -> None:
    """Per-fold train/val curves (Figs 7–11), ROC, calibration, and slice montages with integrated-gradients
    saliency of the top-3 and bottom-3 scored patients."""
    figures = out / "figures"
    slices, image = cohort.arrays["lge.slices"], cohort.arrays["lge.image"]
    counts = cohort.arrays["lge.slice_mask"].sum(axis=1).astype(int)
    for model in trained:
        name = model.spec.name
        plot_training_curves(model.result.curves, figures / f"curves_{name}.png")
        scores = predictions[f"score_{name}"].to_numpy()
        rows = np.concatenate(extreme_rows(scores, k=3))
        saliency = scar_saliency(
            out / "models" / model.key, slices[rows], cohort.arrays["lge.slice_mask"][rows]
        )
        pids = [str(pid) for pid in cohort.patient_ids[rows]]
        plot_va_extremes(
            [image[i, : counts[i]] for i in rows],
            [slices[i, : counts[i]] for i in rows],
            scores[rows],
            pids,
            saliency={
                pid: saliency[j, : counts[i]] for j, (pid, i) in enumerate(zip(pids, rows, strict=True))
            },
            k=3,
            out_dir=figures / f"waveforms_{name}",
            prefix=name,
            oriented=cohort.config["lge_preprocessing"]["config"]["orient"],
        )
    score_columns = [c for c in predictions.columns if c.startswith("score_")]
    plot_roc(predictions, score_columns, figures / "roc.png")
    best = trained[0].spec.name
    plot_reliability(predictions, f"score_{best}", figures / f"reliability_{best}.png")


def va_spec(
    *,
    models: Sequence[str] = ("scarnet",),
    config: LGEInputConfig | None = None,
    horizon_days: float = HORIZON_DAYS,
    cache_dir: str | Path | None = None,
) -> StudySpec:
    """The VA study's spec for the chosen networks (any of :data:`VA_MODELS`)."""
    models = tuple(models)
    if not models or any(name not in VA_MODELS for name in models):
        raise ConfigError(f"models={list(models)}: choose one or more of {', '.join(VA_MODELS)}.")
    if not np.isfinite(horizon_days) or horizon_days <= 0:
        raise ConfigError(
            f"horizon_days={horizon_days}: give the follow-up horizon of va_event in days (> 0)."
        )
    config = config or LGEInputConfig()
    return StudySpec(
        name="va",
        label="va_event",
        label_values=(0, 1),
        file_columns=("lge",),
        optional_file_columns=("contours", "labels"),
        build_inputs=_build(config, Path(cache_dir) if cache_dir else None),
        tasks=_tasks,
        models=lambda task: [model_spec(name, config) for name in models],
        baselines=_baselines(horizon_days),
        rules=(RULE,),
        references=(RULE, "scar_logistic"),
        oracle=_oracle,
        outcome_columns=_outcomes,
        figures=_figures,
        model_json={
            "lge_input": config.to_dict(),
            "lge_preprocessing": lge_preprocessing(config),
            "lge_feature_version": LGE_FEATURE_VERSION,
        },
        selection={"models": list(models), "horizon_days": horizon_days},
        evaluation={"horizon_days": horizon_days, "table_block": "table2"},
        input_version=f"lge-v{LGE_FEATURE_VERSION}",
        check_files=False,
    )


def run_va_study(
    manifest_path: str | Path,
    out_dir: str | Path,
    *,
    models: Sequence[str] = ("scarnet",),
    config: LGEInputConfig | None = None,
    horizon_days: float = HORIZON_DAYS,
    profile: StudyProfile | None = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    figures: bool = True,
    resume: bool = True,
) -> dict[str, Any]:
    """Run the ventricular-arrhythmia study and write its run directory (see :func:`run_study`).

    Parameters
    ----------
    manifest_path : path
        Manifest with ``patient_id``, ``va_event`` (0/1), ``lge`` (DICOM series folder, NIfTI or PNG
        folder), ``contours`` (paper contour file) or ``labels`` (label map), ``lvef`` (%), optional
        ``age``, ``sex``, ``time_to_event_days`` + ``event``.
    out_dir : path
        Run directory.
    models : sequence of {"scarnet", "scarnet_pooled", "scarnet_polar"}
    config : LGEInputConfig, optional
        Scar method, crop, slices, optional LGE channel; default hysteresis scar, 128 x 128, 3–10 slices.
    horizon_days : float
        Follow-up horizon of ``va_event`` (for the time-dependent AUC and the Cox model's probability).
    profile, cache_dir, progress, figures, resume
        As in :func:`cardiopredict.studies.crt.run_crt_study`.

    Returns
    -------
    dict
        ``metrics.json``: ``models``, ``baselines``, ``delong``, ``oracle_auc``, ``table2``, ``survival``.
    """
    spec = va_spec(models=models, config=config, horizon_days=horizon_days, cache_dir=cache_dir)
    return run_study(
        spec, manifest_path, out_dir, profile=profile, progress=progress, figures=figures, resume=resume
    )
