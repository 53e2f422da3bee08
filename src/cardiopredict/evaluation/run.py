"""Every metric of a run, from its ``predictions.csv`` and the ``evaluation`` block of its ``config.json``.

``predictions.csv`` (one schema for every study) is long form: one row per patient and task with
``patient_id, task, fold, y_true``, then a ``score_<name>`` column per model, baseline and oracle of a
binary task (probability of the positive class, or a 0/1 rule), or ``score_<name>_<class>`` per class of
a multiclass task; optional ``time_days`` and ``event`` columns carry time-to-event outcomes. Columns a
task does not use are empty in its rows.

The ``evaluation`` block says, per task, which names are models, baselines, 0/1 rules (no Brier
score, accuracy of ``score >= 0.5``) and oracles, which baselines the models are tested against
(DeLong), an optional ``table_block`` (a per-fold AUC table, e.g. the paper's Table 2) and
``horizon_days`` (time-dependent AUC), and the layout of ``metrics.json``: ``"single"`` (one binary
task at the top level, as in the paper's Tables 1 and 2) or ``"per_task"`` (``table3[task][model]``
with one baseline per task, as in Table 3, and ``multiclass`` from the multiclass task). The study
writes ``metrics.json`` with :func:`evaluate_run`; ``cardiopredict report RUN_DIR`` calls it again and
gets the same numbers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from cardiopredict.errors import InputError
from cardiopredict.evaluation.metrics import auc_score, delong_test, multiclass_summary, summarize
from cardiopredict.evaluation.survival import concordance_index_score, time_dependent_auc_score

__all__ = ["PREDICTION_KEYS", "evaluate_predictions", "evaluate_run", "read_predictions"]

PREDICTION_KEYS = ("patient_id", "task", "fold", "y_true")


def read_predictions(run_dir: str | Path) -> pd.DataFrame:
    """``predictions.csv`` of a run, with ``patient_id`` and ``task`` as strings."""
    path = Path(run_dir) / "predictions.csv"
    try:
        table = pd.read_csv(
            path, dtype={"patient_id": str, "task": str}, keep_default_na=False, na_values=[""]
        )
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: cannot read it ({error}); re-run the study to rewrite it.") from error
    missing = [key for key in PREDICTION_KEYS if key not in table]
    if missing:
        raise InputError(
            f"{path} lacks the column(s) {missing}; it was not written by a cardiopredict study."
        )
    return table


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: cannot read it as JSON ({error}); re-run the study.") from error
    if not isinstance(config, dict) or "evaluation" not in config:
        raise InputError(f"{path} has no 'evaluation' block; it was written by an older version. Re-run it.")
    return config


def evaluate_run(run_dir: str | Path) -> dict[str, Any]:
    """The content of ``metrics.json`` of a finished run, recomputed from its files.

    Parameters
    ----------
    run_dir : path
        A study's run directory (``config.json`` with an ``evaluation`` block, ``predictions.csv``).

    Returns
    -------
    dict
        The run facts of ``config.json["run"]`` (runtime, exclusions, ...) and the metrics of
        :func:`evaluate_predictions`.
    """
    run_dir = Path(run_dir)
    config = _read_config(run_dir)
    metrics = evaluate_predictions(read_predictions(run_dir), config["evaluation"])
    return {**metrics, **config.get("run", {})}


def evaluate_predictions(predictions: pd.DataFrame, evaluation: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics of a prediction table under an ``evaluation`` block (see the module docstring)."""
    n_boot, seed = int(evaluation.get("n_boot", 2000)), int(evaluation.get("seed", 0))
    blocks = {}
    for task, spec in evaluation["tasks"].items():
        frame = predictions[predictions["task"] == task].reset_index(drop=True)
        if frame.empty:
            raise InputError(f"predictions.csv has no row of task {task!r}; the run did not finish it.")
        if len(spec["classes"]) > 2:
            blocks[task] = _multiclass_block(frame, spec)
        else:
            blocks[task] = _binary_block(frame, spec, n_boot=n_boot, seed=seed)
    if evaluation.get("layout", "single") == "single":
        if len(blocks) != 1:
            raise InputError(f"layout 'single' needs one task; the run has {list(blocks)}.")
        return next(iter(blocks.values()))
    return _per_task_layout(blocks, evaluation["tasks"])


def _binary_block(frame: pd.DataFrame, spec: Mapping[str, Any], *, n_boot: int, seed: int) -> dict[str, Any]:
    rules = set(spec.get("rules", ()))

    def block(name: str) -> dict[str, Any]:
        threshold = None if name in rules else 0.5
        return summarize(frame, f"score_{name}", threshold=threshold, seed=seed, n_boot=n_boot)

    y = frame["y_true"].to_numpy()
    result: dict[str, Any] = {
        "models": {name: block(name) for name in spec["models"]},
        "baselines": {name: block(name) for name in spec.get("baselines", ())},
        "delong": {},
    }
    for name in [*spec["models"], *spec.get("baselines", ())]:
        for reference in spec.get("references", ()):
            if name != reference:
                result["delong"][f"{name}_vs_{reference}"] = delong_test(
                    y, frame[f"score_{name}"].to_numpy(), frame[f"score_{reference}"].to_numpy()
                )
    for key, name in spec.get("oracles", {}).items():
        result[key] = auc_score(y, frame[f"score_{name}"].to_numpy())
    if spec.get("table_block"):
        result[spec["table_block"]] = _fold_table({**result["models"], **result["baselines"]})
    if "time_days" in frame and frame["time_days"].notna().any():
        result["survival"] = _survival_block(frame, [*spec["models"], *spec.get("baselines", ())], spec)
    return result


def _fold_table(blocks: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The paper's Table 2: per-fold AUC, their mean and SD, for every score."""
    return {
        name: {
            "fold_auc": [fold["auc"] for fold in block["folds"]],
            "auc_mean": block["auc_mean"],
            "auc_sd": block["auc_sd"],
        }
        for name, block in blocks.items()
    }


def _survival_block(frame: pd.DataFrame, names: list[str], spec: Mapping[str, Any]) -> dict[str, Any]:
    """Harrell's C-index and the time-dependent AUC at the horizon of every score (higher = riskier)."""
    known = frame["time_days"].notna().to_numpy()
    time = frame["time_days"].to_numpy(dtype=float)[known]
    event = frame["event"].to_numpy(dtype=float)[known].astype(int)
    horizon = float(spec["horizon_days"])
    result: dict[str, Any] = {
        "horizon_days": horizon,
        "n": int(known.sum()),
        "c_index": {},
        "auc_at_horizon": {},
    }
    for name in [*names, *spec.get("oracles", {}).values()]:
        score = frame[f"score_{name}"].to_numpy(dtype=float)[known]
        result["c_index"][name] = concordance_index_score(time, event, score)
        result["auc_at_horizon"][name] = time_dependent_auc_score(time, event, score, horizon_days=horizon)
    return result


def _multiclass_block(frame: pd.DataFrame, spec: Mapping[str, Any]) -> dict[str, Any]:
    classes = [str(c) for c in spec["classes"]]
    y = frame["y_true"].to_numpy().astype(int)
    names = [*spec["models"], *spec.get("baselines", ())]
    result = {}
    for name in names:
        result[name] = multiclass_summary(
            y, frame[[f"score_{name}_{c}" for c in classes]].to_numpy(), classes
        )
    for key, name in spec.get("oracles", {}).items():
        proba = frame[[f"score_{name}_{c}" for c in classes]].to_numpy(dtype=float)
        result[key.removesuffix("_auc")] = multiclass_summary(y, proba, classes)
    return {"multiclass": result}


def _per_task_layout(blocks: Mapping[str, dict[str, Any]], tasks: Mapping[str, Any]) -> dict[str, Any]:
    """Table 3: ``table3[task][model]``, ``baselines[task]`` (the task's one baseline), ``delong[task]``,
    ``oracle_auc[task]`` (and every other oracle key), ``multiclass`` of the multiclass task."""
    result: dict[str, Any] = {"table3": {}, "baselines": {}, "delong": {}, "oracle_auc": {}, "multiclass": {}}
    for task, block in blocks.items():
        if "multiclass" in block:
            result["multiclass"].update(block["multiclass"])
            continue
        result["table3"][task] = block["models"]
        baselines = list(block["baselines"].values())
        if len(baselines) != 1:
            raise InputError(
                f"layout 'per_task' needs one baseline per task; task {task!r} has {len(baselines)}."
            )
        result["baselines"][task] = baselines[0]
        result["delong"][task] = {
            key: value
            for key, value in block["delong"].items()
            if key.split("_vs_")[0] in tasks[task]["models"]
        }
        for key in tasks[task].get("oracles", {}):
            result.setdefault(key, {})[task] = block[key]
    return result
