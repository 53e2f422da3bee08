"""The parts of a prediction's answer every kind of model shares: fold probabilities, the clinical rule
beside the model, their agreement, and the container a scoring hands to the figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardiopredict.errors import InputError
from cardiopredict.serve._models import POSITIVE_LABELS, ServedModel

THRESHOLD = 0.5
"""Probability at which the model's verdict flips (the threshold of the run's reported accuracy)."""
SYNTHETIC_WARNING = "This model was trained on a SYNTHETIC cohort: its output says nothing about patients."


@dataclass
class Scored:
    """The JSON answer of one prediction (without its id and links) and what its figures are drawn from.

    ``ecgs`` maps an ECG field to what its grid needs (record, delineation, features); ``inputs`` is
    the model input of this patient (each array ``(1, ...)``); ``lge`` holds an LGE model's slices.
    """

    answer: dict[str, Any]
    ecgs: dict[str, Any] = field(default_factory=dict)
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    lge: Any = None


def fold_prediction(model: ServedModel, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Mean fold probability, every fold's probability and their spread (one forward pass per fold)."""
    from cardiopredict.training.artifacts import Ensemble

    config = model.ensemble.config
    folds = np.stack([Ensemble([net], config).predict(inputs)[0] for net in model.ensemble.models])
    mean = folds.mean(axis=0)
    spread = {"min": folds.min(axis=0), "max": folds.max(axis=0), "sd": folds.std(axis=0)}
    if mean.ndim == 0:
        probability = float(mean)
        return {
            "outcome": POSITIVE_LABELS.get(model.study, f"{config.get('label', 'class')} = 1"),
            "probability": probability,
            "fold_probabilities": folds.tolist(),
            "spread": {key: float(value) for key, value in spread.items()},
            "threshold": THRESHOLD,
            "positive": probability >= THRESHOLD,
        }
    classes = [str(c) for c in model.classes]
    return {
        "outcome": "class",
        "probabilities": dict(zip(classes, mean.tolist(), strict=True)),
        "fold_probabilities": folds.tolist(),
        "spread": {key: dict(zip(classes, value.tolist(), strict=True)) for key, value in spread.items()},
        "predicted_class": classes[int(np.argmax(mean))],
    }


def clinical_rule(
    study: str, measurements: Mapping[str, Mapping[str, Any]], lvef: float | None
) -> dict[str, Any] | None:
    """The clinical rule of the study beside the model, or None when the study has none."""
    if study == "crt":
        return _crt_rule(measurements.get("pre"))
    if study == "va":
        from cardiopredict.evaluation.baselines import lvef_rule_scores

        name = "LVEF <= 35 %"
        if lvef is None:
            return {"name": name, "applicable": False, "positive": None, "reason": "no LVEF given"}
        verdict = lvef_rule_scores([lvef])[0]
        return {"name": name, "applicable": True, "positive": bool(verdict), "inputs": {"lvef_percent": lvef}}
    return None


def _crt_rule(pre: Mapping[str, Any] | None) -> dict[str, Any]:
    from cardiopredict.evaluation.baselines import guideline_rule_scores

    name = "QRS >= 150 ms + LBBB (AHA/ACC/HRS), measured on the pre-implant ECG"
    if pre is None:
        return {"name": name, "applicable": False, "positive": None, "reason": "no pre-implant ECG"}
    qrs, lbbb = pre.get("qrs_duration_ms"), pre.get("lbbb_aha")
    try:
        verdict = guideline_rule_scores([np.nan if qrs is None else qrs], [np.nan if lbbb is None else lbbb])
    except InputError as error:
        return {"name": name, "applicable": False, "positive": None, "reason": str(error).splitlines()[0]}
    return {
        "name": name,
        "applicable": True,
        "positive": bool(verdict[0] == 1.0),
        "inputs": {"qrs_duration_ms": qrs, "lbbb_aha": lbbb},
    }


def agreement(prediction: Mapping[str, Any], rule: Mapping[str, Any] | None) -> bool | None:
    """Whether model and rule give the same verdict; None when the rule does not apply."""
    if not rule or not rule.get("applicable") or "positive" not in prediction:
        return None
    return bool(prediction["positive"]) == bool(rule["positive"])


def answer_of(
    model: ServedModel,
    prediction: dict[str, Any],
    measurements: dict[str, Any],
    *,
    lvef_percent: float | None,
    quality: dict[str, Any],
    warnings: list[str],
) -> dict[str, Any]:
    """The answer's common keys (without ``result_id``, ``figures`` and ``model_card``)."""
    rule = clinical_rule(model.study, measurements, lvef_percent)
    synthetic = model.card.get("training_cohort", {}).get("synthetic")
    return {
        "model": model.name,
        "study": model.study,
        "prediction": prediction,
        "rule": rule,
        "agreement": agreement(prediction, rule),
        "measurements": {**measurements, "lvef_percent": lvef_percent},
        "quality": quality,
        "warnings": ([SYNTHETIC_WARNING] if synthetic else []) + warnings,
        "research_use_only": True,
    }
