"""Score new patients with a trained fold ensemble (``cardiopredict predict``).

The input is rebuilt exactly as in training from the ensemble's ``model.json``: ECG models carry their
window definition and feature version, LGE models their preprocessing (scar method with its
parameters or a learned model's fingerprint, crop, slices). A model whose preprocessing this version
cannot reproduce is refused. Every manifest row gets an output row: ``scored``, or ``excluded`` with
the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_csv
from cardiopredict.cohort.manifest import read_manifest
from cardiopredict.config import ECGWindowConfig, LGEInputConfig
from cardiopredict.errors import ModelFileError
from cardiopredict.features import (
    FEATURE_VERSION,
    LGE_FEATURE_VERSION,
    CohortInputs,
    build_ecg_inputs,
    build_lge_inputs,
    lge_preprocessing,
)
from cardiopredict.training.artifacts import Ensemble

__all__ = ["input_builder", "model_inputs", "predict_manifest"]

Builder = Callable[[pd.DataFrame, bool], CohortInputs]


def _ecg_builder(config: dict[str, Any], model_dir: Path, cache_dir: Path | None) -> Builder:
    if config.get("feature_version") != FEATURE_VERSION:
        raise ModelFileError(
            f"{model_dir} was trained on ECG features of version {config.get('feature_version')}, "
            f"this cardiopredict builds version {FEATURE_VERSION}; its preprocessing differs from "
            "training. Retrain the model or install the cardiopredict version that trained it."
        )
    window = ECGWindowConfig(**config["window"])
    columns = sorted({item["column"] for item in config["inputs_spec"].values()})
    return lambda table, progress: build_ecg_inputs(
        table, columns, window=window, cache_dir=cache_dir, progress=progress
    )


def _lge_builder(config: dict[str, Any], model_dir: Path, cache_dir: Path | None) -> Builder:
    lge = LGEInputConfig(**config["lge_input"])
    now = lge_preprocessing(lge)
    trained = config.get("lge_preprocessing")
    if config.get("lge_feature_version") != LGE_FEATURE_VERSION or (trained and trained != now):
        raise ModelFileError(
            f"{model_dir} was trained on LGE inputs preprocessed as {trained or config.get('lge_input')} "
            f"(version {config.get('lge_feature_version')}); this cardiopredict preprocesses them as {now}. "
            "The preprocessing differs from training (e.g. another scar model): retrain, or use the scar "
            "model and cardiopredict version that trained it."
        )
    return lambda table, progress: build_lge_inputs(table, config=lge, cache_dir=cache_dir, progress=progress)


def input_builder(ensemble: Ensemble, model_dir: Path, cache_dir: Path | None = None) -> Builder:
    """The function that rebuilds ``ensemble``'s inputs from manifest rows exactly as in training.

    It is called as ``build(table, progress)`` on a validated manifest table (absolute paths) and
    returns :class:`CohortInputs` with every unusable patient excluded with the reason.

    Raises
    ------
    ModelFileError
        ``model.json`` does not say how its inputs were built, or this version preprocesses them
        differently (another feature version, scar method or LGE configuration).
    """
    config = ensemble.config
    if not config.get("inputs_spec"):
        raise ModelFileError(
            f"{model_dir}/model.json does not say how its inputs were built (no inputs_spec); it was not "
            "trained by a cardiopredict study. Retrain it with a `cardiopredict <study> run` command."
        )
    if "lge_input" in config:
        return _lge_builder(config, model_dir, cache_dir)
    if "window" in config:
        return _ecg_builder(config, model_dir, cache_dir)
    raise ModelFileError(f"{model_dir}/model.json names neither an ECG window nor an LGE preprocessing.")


def model_inputs(spec: dict[str, dict[str, str]], cohort: CohortInputs) -> dict[str, np.ndarray]:
    """The arrays the networks read, by input key, from a cohort built by :func:`input_builder`."""
    return {key: cohort.arrays[f"{item['column']}.{item['feature']}"] for key, item in spec.items()}


def predict_manifest(
    model_dir: str | Path,
    manifest_path: str | Path,
    out_path: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every patient of a manifest with the fold ensemble in ``model_dir``.

    Parameters
    ----------
    model_dir : path
        ``<run>/models/<model>`` with ``fold*.safetensors`` and ``model.json``.
    manifest_path : path
        Manifest with ``patient_id`` and the file columns the model was trained on (labels optional).
    out_path : path, optional
        CSV to write atomically.
    cache_dir : path, optional
        Feature cache (none by default).

    Returns
    -------
    DataFrame
        ``patient_id, status, reason`` and ``score`` (binary: probability of the positive class) or
        ``score_<class>`` (multiclass).
    """
    model_dir = Path(model_dir)
    ensemble = Ensemble.load(model_dir)
    spec = ensemble.config["inputs_spec"] if ensemble.config.get("inputs_spec") else {}
    build = input_builder(ensemble, model_dir, Path(cache_dir) if cache_dir else None)
    columns = sorted({item["column"] for item in spec.values()})
    optional = ("contours", "labels") if "lge" in columns else ()
    manifest = read_manifest(
        manifest_path,
        label_column=None,
        file_columns=columns,
        optional_file_columns=optional,
        check_files="lge" not in columns,  # a DICOM series is a folder: the builder checks it per patient
    )
    cohort = build(manifest.table, progress)
    result = pd.DataFrame({"patient_id": manifest.table["patient_id"].astype(str)})
    result["status"] = np.where(result["patient_id"].isin(list(cohort.exclusions)), "excluded", "scored")
    result["reason"] = result["patient_id"].map(lambda pid: cohort.exclusions.get(pid, ""))
    if len(cohort.patient_ids):
        proba = np.asarray(ensemble.predict(model_inputs(spec, cohort)))
        scored = result["status"] == "scored"
        if proba.ndim == 1:
            result["score"] = np.nan
            result.loc[scored, "score"] = proba
        else:
            for k, cls in enumerate(ensemble.config.get("classes") or range(proba.shape[1])):
                result[f"score_{cls}"] = np.nan
                result.loc[scored, f"score_{cls}"] = proba[:, k]
    if out_path is not None:
        atomic_write_csv(Path(out_path), result)
    return result
