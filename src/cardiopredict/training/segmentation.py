"""Training the learned scar segmenter: labelled cases, the fit loop, patient-level k-fold, resume.

``cardiopredict cmr train-scar`` runs :func:`cross_validate_scar` on the cases of a manifest: each of
``folds`` folds trains on the other folds' patients with an inner validation split (patients) for model
selection (early stopping, or none with ``selection="last"``) and, with ``tune_threshold``, the
probability threshold, and with ``tune_min_component`` / ``tune_min_scar_percent`` the post-processing
(:func:`fit_postprocessing`: the smallest scar component kept, the smallest case burden); it saves its
model and scores every held-out case at the acquired resolution with the benchmark's definition
(:func:`cardiopredict.cmr.scar.scar_dice`, pooled over the case's slices). Then a final model is trained
on all cases for the median of the folds' best epochs (``max_epochs`` with ``selection="last"``), with
the median of the folds' thresholds and post-processing values. Nothing is fitted on a held-out case. A
fold whose ``heldout.json`` exists is not trained again (resume), provided the cases and options are the
same (``run.json``).

Output folder::

    run.json                 options, case ids, data fingerprint (a resume must match it)
    fold<k>/scar_model.*     the fold's model (safetensors + JSON)
    fold<k>/heldout.json     per held-out case: Dice, expert and predicted scar burden (%)
    final/scar_model.*       the model trained on every case: use it as --scar learned:<out>/final
    per_case.csv, cv.json    every held-out case, and the summary (mean Dice, burden agreement, times)
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from cardiopredict._io import atomic_write_csv, atomic_write_json, provenance
from cardiopredict.cmr.learned import LearnedScar, save_scar_model
from cardiopredict.cmr.scar import scar_burden, scar_dice, segment_scar
from cardiopredict.errors import InputError, InsufficientDataError
from cardiopredict.training._scar_cases import (
    LabelledCase,
    data_fingerprint,
    labelled_case,
    read_labelled_cases,
)
from cardiopredict.training._scar_fit import (
    DEFAULT_TRAINING,
    ScarTrainingConfig,
    choose_postprocessing,
    fit_scar_network,
    warm_start,
)
from cardiopredict.training.crossval import make_folds

__all__ = [
    "LabelledCase",
    "ScarTrainingConfig",
    "assign_folds",
    "cross_validate_scar",
    "data_fingerprint",
    "evaluate_case",
    "fit_postprocessing",
    "fit_scar_network",
    "labelled_case",
    "read_labelled_cases",
    "save_trained_scar_model",
]

RUN_FILE = "run.json"
HELDOUT_FILE = "heldout.json"


def evaluate_case(segmenter: LearnedScar, case: LabelledCase) -> dict[str, float]:
    """Dice and scar burden (% of the myocardium) of one case at the acquired resolution."""
    result = segment_scar(
        case.images,
        case.myo,
        segmenter,
        pixel_spacing_mm=case.pixel_spacing_mm,
        rotation_deg=case.rotation_deg,
    )
    predicted, _ = scar_burden(result.mask, case.myo, case.pixel_spacing_mm, 1.0)
    expert, _ = scar_burden(case.truth, case.myo, case.pixel_spacing_mm, 1.0)
    return {
        "dice": round(scar_dice(result.mask, case.truth), 4),
        "burden_pct": round(predicted, 3),
        "expert_burden_pct": round(expert, 3),
        "slices": len(case.images),
    }


def fit_postprocessing(
    model_dir: str | os.PathLike[str],
    cases: Sequence[LabelledCase],
    *,
    min_component: bool = True,
    min_scar_percent: bool = False,
    threshold: float | None = None,
    test_time_flips: bool | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Fit a saved model's post-processing on ``cases`` (its inner validation cases), in order.

    The model's masks of ``cases`` at the acquired resolution, without post-processing, go to
    :func:`~cardiopredict.training._scar_fit.choose_postprocessing`: the components smaller than each
    area of :data:`~cardiopredict.cmr.learned.MIN_COMPONENT_GRID_MM2` removed (``min_component``); then,
    with the chosen area applied, every case under each burden of
    :data:`~cardiopredict.cmr.learned.MIN_SCAR_PERCENT_GRID` called scar-free (``min_scar_percent``).
    Each step keeps the value with the best mean Dice (ties: the smaller); a step not asked for keeps 0.

    Parameters
    ----------
    model_dir : path
        A scar model folder.
    cases : sequence of LabelledCase
        Never the cases the model is scored on.
    min_component, min_scar_percent : bool
        Which steps to fit.
    threshold, test_time_flips : optional
        Override the model's own (as :meth:`LearnedScar.load`).
    device : str

    Returns
    -------
    dict
        ``min_component_mm2``, ``min_scar_percent`` and, per fitted step, its mean Dice per candidate
        (``min_component_dice``, ``min_scar_percent_dice``).
    """
    segmenter = LearnedScar.load(
        model_dir,
        threshold=threshold,
        test_time_flips=test_time_flips,
        min_component_mm2=0.0,
        min_scar_percent=0.0,
        device=device,
    )
    masks = [
        segment_scar(
            c.images, c.myo, segmenter, pixel_spacing_mm=c.pixel_spacing_mm, rotation_deg=c.rotation_deg
        ).mask
        for c in cases
    ]
    return choose_postprocessing(masks, cases, min_component=min_component, min_scar_percent=min_scar_percent)


def assign_folds(cases: Sequence[LabelledCase], *, folds: int, seed: int) -> np.ndarray:
    """Patient-level folds, stratified by whether the expert marked scar (when both can fill every fold)."""
    if folds < 2 or folds > len(cases):
        raise InsufficientDataError(f"folds={folds} with {len(cases)} cases; use 2 to {len(cases)} folds.")
    ids = np.asarray([c.patient_id for c in cases])
    has_scar = np.asarray([c.has_scar for c in cases], dtype=int)
    try:
        return make_folds(has_scar, ids, n_folds=folds, seed=seed)
    except InsufficientDataError:
        order = np.random.default_rng(seed).permutation(len(cases))
        assigned = np.empty(len(cases), dtype=int)
        assigned[order] = np.arange(len(cases)) % folds
        return assigned


def _inner_validation(cases: Sequence[LabelledCase], fraction: float, seed: int) -> tuple[list, list]:
    order = np.random.default_rng(seed).permutation(len(cases))
    n_val = max(1, round(fraction * len(cases))) if len(cases) >= 3 else 0
    val = {int(i) for i in order[:n_val]}
    return [c for i, c in enumerate(cases) if i not in val], [c for i, c in enumerate(cases) if i in val]


def _check_resume(out: Path, run: dict[str, Any], *, fresh: bool) -> None:
    path = out / RUN_FILE
    if path.is_file() and not fresh:
        before = json.loads(path.read_text(encoding="utf-8"))
        before["config"] = {**_new_options(before.get("config", {})), **before.get("config", {})}
        keys = ("cases", "data_sha256", "config", "folds")
        if any(before.get(k) != run[k] for k in keys):
            changed = [k for k in keys if before.get(k) != run[k]]
            raise InputError(
                f"{out} holds a train-scar run with other {', '.join(changed)}; resume needs the same cases "
                "and options. Choose another --out, or pass --fresh to start over there."
            )
    elif fresh:
        for stale in [*out.glob("fold*"), out / "final"]:
            shutil.rmtree(stale, ignore_errors=True)
    atomic_write_json(path, run)


LEGACY_OPTIONS = {"init_from": None, "tune_min_scar_percent": False}
"""What a run saved before each of these options existed did (it ran without them)."""


def _new_options(saved: dict[str, Any]) -> dict[str, Any]:
    """The options a run saved by an earlier version did not have, as that version ran them."""
    return {key: value for key, value in LEGACY_OPTIONS.items() if key not in saved}


def cross_validate_scar(
    cases: Sequence[LabelledCase],
    out_dir: str | os.PathLike[str],
    *,
    folds: int = 5,
    config: ScarTrainingConfig = DEFAULT_TRAINING,
    fresh: bool = False,
    final: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Patient-level k-fold training and scoring of the scar network, then a final model (module docstring).

    Parameters
    ----------
    cases : sequence of LabelledCase
    out_dir : path
    folds : int
    config : ScarTrainingConfig
    fresh : bool
        Discard earlier folds in ``out_dir`` instead of resuming.
    final : bool
        Also train the model on every case.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict
        The summary written to ``cv.json``.
    """
    if config.threads:
        torch.set_num_threads(int(config.threads))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    assigned = assign_folds(cases, folds=folds, seed=config.seed)
    run = {
        "cases": [c.patient_id for c in cases],
        "data_sha256": data_fingerprint(cases),
        "config": asdict(config),
        "folds": int(folds),
        "fold_of_case": {c.patient_id: int(f) for c, f in zip(cases, assigned, strict=True)},
        "provenance": provenance(),
    }
    run["config"]["channels"] = list(config.channels)
    run["config"]["scar_labels"] = list(config.scar_labels)
    run["config"].update(_initialised_from(config))
    _check_resume(out, run, fresh=fresh)
    with _EpochBar(progress, total=config.max_epochs * config.ensemble * (folds + int(final))) as bar:
        results = [_run_fold(cases, assigned, k, out, config, bar) for k in range(folds)]
        final_info = _train_final(cases, results, out, config, bar) if final else None
    return _summarise(cases, results, final_info, out, config)


def _run_fold(cases, assigned, k, out, config, bar) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    folder = out / f"fold{k}"
    done = folder / HELDOUT_FILE
    if done.is_file():
        bar.skip(config.max_epochs * config.ensemble, f"fold {k}: done earlier")
        return json.loads(done.read_text(encoding="utf-8"))
    held = [c for c, f in zip(cases, assigned, strict=True) if f == k]
    rest = [c for c, f in zip(cases, assigned, strict=True) if f != k]
    train, val = _inner_validation(rest, config.validation_fraction, config.seed + k)
    network, history = fit_scar_network(train, val, config=config, on_epoch=bar.epoch(f"fold {k}", config))
    bar.finish_fold(config.max_epochs * config.ensemble - history["total_epochs"])
    post = _save_fold_model(network, history, folder, train, val, config)
    segmenter = LearnedScar.load(folder, device=config.device)
    started = time.perf_counter()
    per_case = {c.patient_id: evaluate_case(segmenter, c) for c in held}
    seconds = time.perf_counter() - started
    result = {
        "fold": k,
        "per_case": per_case,
        "best_epoch": history["best_epoch"],
        "epochs_run": history["epochs_run"],
        "threshold": history["threshold"],
        **post,
        "train_seconds": history["seconds"],
        "inference_slices_per_s": round(sum(c.images.shape[0] for c in held) / max(seconds, 1e-9), 2),
        "train_patients": [c.patient_id for c in train],
        "validation_patients": [c.patient_id for c in val],
    }
    atomic_write_json(done, result)
    return result


def _save_fold_model(network, history, folder, train, val, config) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Save a fold's model; fit the post-processing asked for on ``val`` and save it in the model."""
    training = {**history, "validation_patients": [c.patient_id for c in val]}
    save = functools.partial(
        save_trained_scar_model, network, folder, config, train + val, threshold=history["threshold"]
    )
    save(training=training)
    post = {"min_component_mm2": 0.0, "min_scar_percent": 0.0}
    if not ((config.tune_min_component or config.tune_min_scar_percent) and val):
        return post
    fitted = fit_postprocessing(
        folder,
        val,
        min_component=config.tune_min_component,
        min_scar_percent=config.tune_min_scar_percent,
        device=config.device,
    )
    post = {key: fitted[key] for key in post}
    save(training={**training, **fitted}, **post)
    return post


def save_trained_scar_model(
    network: torch.nn.Module,
    folder: str | Path,
    config: ScarTrainingConfig,
    cases: Sequence[LabelledCase],
    *,
    training: dict[str, Any],
    threshold: float | None = None,
    min_component_mm2: float = 0.0,
    min_scar_percent: float = 0.0,
) -> Path:
    """Save a network trained with ``config`` on ``cases`` (its architecture, labels, data fingerprint).

    Parameters
    ----------
    network : torch.nn.Module
        From :func:`fit_scar_network`.
    folder : path
    config : ScarTrainingConfig
        The options it was trained with (architecture, scar labels, flips, starting weights).
    cases : sequence of LabelledCase
        Every case it was fitted or validated on (fingerprinted and listed in ``training_data``).
    training : dict
        The training summary to store.
    threshold : float, optional
        Probability threshold (default ``config.threshold``).
    min_component_mm2, min_scar_percent : float
        Post-processing: smallest component area, smallest case burden (0 keeps everything).

    Returns
    -------
    Path
        ``folder``.
    """
    return save_scar_model(
        network,
        folder,
        arch=config.arch,
        network_kwargs=config.network_kwargs(),
        scar_labels=config.scar_labels,
        training_data={
            "sha256": data_fingerprint(cases),
            "patients": [c.patient_id for c in cases],
            **_initialised_from(config),
        },
        training=training,
        threshold=config.threshold if threshold is None else threshold,
        test_time_flips=config.test_time_flips,
        min_component_mm2=min_component_mm2,
        min_scar_percent=min_scar_percent,
    )


def _initialised_from(config: ScarTrainingConfig) -> dict[str, Any]:
    """Where the networks' starting weights came from (``init_from``): its weights and training data."""
    if not config.init_from:
        return {}
    start = warm_start(config)
    return {
        "initialised_from": {
            "weights_sha256": start.config["weights_sha256"],
            "training_data_sha256": start.config["training_data"]["sha256"],
            "patients": len(start.config["training_data"].get("patients", [])),
            "patient_ids": sorted(start.training_patients),
        }
    }


def _train_final(cases, results, out, config, bar) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    folder = out / "final"
    if (folder / "scar_model.json").is_file():
        bar.skip(config.max_epochs * config.ensemble, "final: done earlier")
        return json.loads((folder / "scar_model.json").read_text(encoding="utf-8"))["training"]
    epochs = config.max_epochs
    if results and config.selection != "last":
        epochs = int(np.median([r["best_epoch"] for r in results]))
    threshold = config.threshold
    if results and config.tune_threshold:
        threshold = float(np.median([r.get("threshold", config.threshold) for r in results]))
    post = {
        key: float(np.median([r.get(key, 0.0) for r in results])) if results and tuned else 0.0
        for key, tuned in (
            ("min_component_mm2", config.tune_min_component),
            ("min_scar_percent", config.tune_min_scar_percent),
        )
    }
    network, history = fit_scar_network(
        cases, [], config=config, epochs=epochs, on_epoch=bar.epoch("final", config)
    )
    bar.finish_fold(config.max_epochs * config.ensemble - history["total_epochs"])
    info = {**history, "threshold": threshold, **post}
    save_trained_scar_model(network, folder, config, cases, training=info, threshold=threshold, **post)
    return info


def _summarise(cases, results, final_info, out, config) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    rows = [{"patient_id": pid, "fold": r["fold"], **m} for r in results for pid, m in r["per_case"].items()]
    table = pd.DataFrame(
        rows, columns=["patient_id", "fold", "dice", "burden_pct", "expert_burden_pct", "slices"]
    )
    atomic_write_csv(out / "per_case.csv", table)
    diff = (table.burden_pct - table.expert_burden_pct).to_numpy(dtype=float)
    summary = {
        "cases": len(cases),
        "folds": len(results),
        "mean_dice": round(float(table.dice.mean()), 4) if len(table) else None,
        "median_dice": round(float(table.dice.median()), 4) if len(table) else None,
        "burden_bland_altman_pct": _bland_altman(diff),
        "per_case_dice": dict(zip(table.patient_id, table.dice, strict=True)),
        "train_seconds_per_fold": [r["train_seconds"] for r in results],
        "best_epochs": [r["best_epoch"] for r in results],
        "thresholds": [r.get("threshold") for r in results],
        "min_components_mm2": [r.get("min_component_mm2", 0.0) for r in results],
        "min_scar_percents": [r.get("min_scar_percent", 0.0) for r in results],
        "inference_slices_per_s": [r["inference_slices_per_s"] for r in results],
        "final_model": None if final_info is None else str(out / "final"),
        "final_train_seconds": None if final_info is None else final_info.get("seconds"),
        "config": {
            **asdict(config),
            "channels": list(config.channels),
            "scar_labels": list(config.scar_labels),
        },
    }
    atomic_write_json(out / "cv.json", summary)
    return summary


def _bland_altman(diff: np.ndarray) -> dict[str, float | None]:
    """Mean difference and 95 % limits of agreement (mean +- 1.96 SD)."""
    if diff.size < 2:
        return {"mean": None, "sd": None, "lower": None, "upper": None}
    mean, sd = float(diff.mean()), float(diff.std(ddof=1))
    return {
        k: round(v, 3)
        for k, v in {"mean": mean, "sd": sd, "lower": mean - 1.96 * sd, "upper": mean + 1.96 * sd}.items()
    }


class _EpochBar:
    """A rich progress bar over every epoch of every fold (a no-op when off)."""

    def __init__(self, enabled: bool, *, total: int) -> None:
        self.enabled, self.total, self._progress, self._task = enabled, total, None, None

    def __enter__(self) -> _EpochBar:
        if self.enabled:
            from rich.progress import Progress

            self._progress = Progress()
            self._progress.start()
            self._task = self._progress.add_task("train-scar", total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def epoch(self, label: str, config: ScarTrainingConfig) -> Any:
        def report(epoch: int, score: float | None) -> None:
            if self._progress is not None:
                dice = "" if score is None else f" val Dice {score:.3f}"
                self._progress.update(self._task, advance=1, description=f"{label} epoch {epoch}{dice}")

        return report

    def finish_fold(self, remaining: int) -> None:
        if self._progress is not None and remaining > 0:
            self._progress.update(self._task, advance=remaining)

    def skip(self, epochs: int, label: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=epochs, description=label)
