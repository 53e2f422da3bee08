"""Score new patients with a trained fold ensemble (``cardiopredict predict``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_csv
from cardiopredict.cohort.manifest import read_manifest
from cardiopredict.config import ECGWindowConfig
from cardiopredict.errors import ModelFileError
from cardiopredict.features import FEATURE_VERSION, FeatureCache, cohort_features
from cardiopredict.training.artifacts import Ensemble


def predict_manifest(
    model_dir: str | Path,
    manifest_path: str | Path,
    out_path: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Score every patient of a manifest with the fold ensemble in ``model_dir``.

    The input is rebuilt exactly as in training from the ``model.json`` of the ensemble (window
    definition, input files, features); a model whose preprocessing this version cannot reproduce is
    refused. Patients whose ECG cannot be used are kept in the output with ``status = "excluded"``
    and the reason.

    Parameters
    ----------
    model_dir : path
        ``<run>/models/<model>`` with ``fold*.safetensors`` and ``model.json``.
    manifest_path : path
        Manifest with ``patient_id`` and the file columns the model was trained on (labels optional).
    out_path : path, optional
        CSV to write atomically.

    Returns
    -------
    DataFrame
        ``patient_id, status, reason`` and ``score`` (binary: probability of the positive class) or
        ``score_<class>`` (multiclass).
    """
    ensemble = Ensemble.load(model_dir)
    config = ensemble.config
    spec = config.get("inputs_spec")
    if not spec or "window" not in config:
        raise ModelFileError(
            f"{model_dir}/model.json does not say how its inputs were built (no inputs_spec/window); "
            "it was not trained by a cardiopredict study. Retrain it with `cardiopredict crt run` or "
            "`cardiopredict cardiomyopathy run`."
        )
    if config.get("feature_version") != FEATURE_VERSION:
        raise ModelFileError(
            f"{model_dir} was trained on ECG features of version {config.get('feature_version')}, "
            f"this cardiopredict builds version {FEATURE_VERSION}; its preprocessing differs from "
            "training. Retrain the model or install the cardiopredict version that trained it."
        )
    window = ECGWindowConfig(**config["window"])
    columns = sorted({item["column"] for item in spec.values()})
    manifest = read_manifest(manifest_path, label_column=None, file_columns=columns)
    table = manifest.table
    cache = FeatureCache(Path(cache_dir) if cache_dir else None, window)
    features, exclusions = cohort_features(table, columns, cache, progress=progress, description="scoring")
    pids = [pid for pid in table["patient_id"].astype(str) if pid not in exclusions]
    result = pd.DataFrame({"patient_id": table["patient_id"].astype(str)})
    result["status"] = np.where(result["patient_id"].isin(list(exclusions)), "excluded", "scored")
    result["reason"] = result["patient_id"].map(lambda pid: exclusions.get(pid, ""))
    classes = config.get("classes") or [0, 1]
    if pids:
        inputs = {
            key: np.stack([getattr(features[item["column"]][pid], item["feature"]) for pid in pids])
            for key, item in spec.items()
        }
        proba = np.asarray(ensemble.predict(inputs))
        scored = result["status"] == "scored"
        if proba.ndim == 1:
            result["score"] = np.nan
            result.loc[scored, "score"] = proba
        else:
            for k, cls in enumerate(classes):
                result[f"score_{cls}"] = np.nan
                result.loc[scored, f"score_{cls}"] = proba[:, k]
    if out_path is not None:
        atomic_write_csv(Path(out_path), result)
    return result
