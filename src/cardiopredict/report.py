"""Run directory → one self-contained ``report.html``.

The report only renders: every number comes from ``metrics.json`` (written by
:func:`cardiopredict.evaluation.run.evaluate_run` from ``predictions.csv``), the settings and provenance
from ``config.json``, and the PNGs under ``figures/`` (embedded as base64, so the file can be mailed or
archived alone). Rendering the same run twice gives the same bytes (the date shown is the run's).
Patient-level information never enters the tables; the only identifier that can appear is the
cohort's ``patient_id`` drawn in the waveform-figure legends.

``run_dir`` is either one study's run directory (its ``config.json`` has ``"study"``) or a parent folder
whose sub-folders are study run directories (e.g. ``crt/``, ``cardiomyopathy/``, later ``va/``); the
latter gives one report with a section per study.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cardiopredict._io import atomic_write_text
from cardiopredict.errors import InputError

__all__ = ["study_dirs", "write_report"]

REPORT_NAME = "report.html"
_TITLES = {
    "crt": "CRT response (paper Table 1)",
    "va": "Ventricular arrhythmia (paper Table 2)",
    "cardiomyopathy": "Genetic cardiomyopathy vs myocarditis vs sarcoidosis (paper Table 3)",
}
_FIGURE_GROUPS = (
    ("roc", "ROC curves (out-of-fold)"),
    ("reliability", "Calibration"),
    ("curves_", "Training curves per fold (train vs validation)"),
    ("saliency_", "Integrated-gradients saliency"),
)


# --- reading the run -------------------------------------------------------------------------
def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(
            f"{path}: cannot read it as JSON ({error}); re-run the study to rewrite it."
        ) from error
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object, got {type(data).__name__}.")
    return data


def _is_study_dir(path: Path) -> bool:
    config = path / "config.json"
    if not config.is_file():
        return False
    try:
        return "study" in json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def study_dirs(run_dir: Path) -> list[Path]:
    """The study run directories of ``run_dir``: itself, or its sub-folders in the paper's order."""
    if _is_study_dir(run_dir):
        return [run_dir]
    order = list(_TITLES)  # the paper's order: CRT, VA, cardiomyopathy; unknown studies after them
    found = sorted(
        (child for child in run_dir.iterdir() if child.is_dir() and _is_study_dir(child)),
        key=lambda child: (order.index(child.name) if child.name in order else len(order), child.name),
    )
    if not found:
        raise InputError(
            f"{run_dir}: neither a study run directory (config.json with a 'study' field) nor a folder "
            "holding such directories (e.g. crt/, cardiomyopathy/). Point to the --out folder of a run."
        )
    return found


# --- formatting ------------------------------------------------------------------------------
def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return str(value)


def _p_value(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _auc_with_ci(block: Mapping[str, Any]) -> str:
    lo, hi = [*(block.get("auc_ci95") or []), None, None][:2]
    return f"{_number(block.get('auc_pooled'))} [{_number(lo)}, {_number(hi)}]"


def _mean_sd(block: Mapping[str, Any]) -> str:
    return f"{_number(block.get('auc_mean'))} ± {_number(block.get('auc_sd'))}"


def _mean(values: Sequence[Any]) -> float | None:
    finite = [float(v) for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


# --- tables ----------------------------------------------------------------------------------
def _delong_pairs(delong: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    pairs = {}
    for key, value in delong.items():
        if "_vs_" in key and not isinstance(value, Mapping):
            name, reference = key.split("_vs_", 1)
            pairs[(name, reference)] = value
    return pairs


def _table1(
    blocks: Mapping[str, tuple[str, Mapping[str, Any]]],
    pairs: Mapping[tuple[str, str], Any],
    references: Sequence[str],
) -> dict[str, Any]:
    """Rows for a Table-1 style table: ``blocks`` maps row name -> (kind, summary block)."""
    n_folds = max((len(block.get("folds") or []) for _, block in blocks.values()), default=0)
    fold_labels = []
    for _, block in blocks.values():
        if len(block.get("folds") or []) == n_folds:
            fold_labels = [str(int(f.get("fold", i)) + 1) for i, f in enumerate(block["folds"])]
            break
    rows = []
    for name, (kind, block) in blocks.items():
        folds = list(block.get("folds") or [])
        fold_aucs = [_number(f.get("auc")) for f in folds] + ["—"] * (n_folds - len(folds))
        rows.append(
            {
                "name": name,
                "kind": kind,
                "fold_aucs": fold_aucs,
                "mean_sd": _mean_sd(block),
                "pooled": _auc_with_ci(block),
                "accuracy": _number(_mean([f.get("accuracy") for f in folds])),
                "brier": _number(block.get("brier")),
                "delong": [
                    "ref." if name == reference else _p_value(pairs.get((name, reference)))
                    for reference in references
                ],
            }
        )
    return {"fold_labels": fold_labels, "references": list(references), "rows": rows}


def _early_stopping(label: Any) -> dict[str, Any]:
    text = str(label) if label is not None else "not recorded"
    return {"label": text, "optimistic": text.strip().lower().startswith("outer")}


def _provenance(config: Mapping[str, Any]) -> dict[str, Any]:
    provenance = dict(config.get("provenance") or {})
    versions = provenance.pop("versions", {}) or {}
    return {
        "versions": {str(k): str(v) if v is not None else "—" for k, v in versions.items()},
        "other": {str(k): str(v) if v is not None else "—" for k, v in provenance.items()},
    }


def _settings(config: Mapping[str, Any]) -> dict[str, str]:
    keep = {}
    for key in ("manifest", "inputs", "tasks", "bootstrap"):
        if key in config:
            value = config[key]
            keep[key] = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    for group in ("training", "window"):
        for key, value in (config.get(group) or {}).items():
            keep[f"{group}.{key}"] = str(value)
    protocol_rate = (config.get("training") or {}).get("learning_rate")
    for model, rate in ((config.get("run") or {}).get("learning_rate_by_model") or {}).items():
        if rate != protocol_rate:
            keep[f"training.learning_rate ({model})"] = str(rate)
    return keep


# --- figures ---------------------------------------------------------------------------------
def _image(path: Path, root: Path, *, embed: bool) -> dict[str, str]:
    if embed:
        source = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    else:
        source = path.relative_to(root).as_posix()
    return {"src": source, "caption": path.stem}


def _figures(study_dir: Path, root: Path, *, embed: bool) -> dict[str, Any]:
    folder = study_dir / "figures"
    if not folder.is_dir():
        return {"groups": [], "waveforms": []}
    loose = sorted(p for p in folder.glob("*.png") if p.is_file())
    groups = []
    used: set[Path] = set()
    for prefix, title in _FIGURE_GROUPS:
        members = [p for p in loose if p.name.startswith(prefix) and p not in used]
        used.update(members)
        if members:
            groups.append({"title": title, "images": [_image(p, root, embed=embed) for p in members]})
    others = [p for p in loose if p not in used]
    if others:
        groups.append({"title": "Other figures", "images": [_image(p, root, embed=embed) for p in others]})
    waveforms = [
        {
            "title": sub.name.removeprefix("waveforms_"),
            "images": [_image(p, root, embed=embed) for p in sorted(sub.glob("*.png"))],
        }
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and any(sub.glob("*.png"))
    ]
    return {"groups": groups, "waveforms": waveforms}


# --- study sections --------------------------------------------------------------------------
def _crt_like(metrics: Mapping[str, Any]) -> dict[str, Any]:
    blocks = {name: ("model", block) for name, block in (metrics.get("models") or {}).items()}
    blocks.update({name: ("baseline", block) for name, block in (metrics.get("baselines") or {}).items()})
    pairs = _delong_pairs(metrics.get("delong") or {})
    references = sorted({reference for _, reference in pairs}, key=lambda r: (r != "qrs150_lbbb", r))
    survival = metrics.get("survival") or {}
    return {
        "table_title": "Table 2" if "table2" in metrics else "Table 1",
        "survival": {
            "horizon_days": _number(survival.get("horizon_days"), 0),
            "n": survival.get("n"),
            "rows": [
                {
                    "name": name,
                    "c_index": _number(c),
                    "auc": _number((survival.get("auc_at_horizon") or {}).get(name)),
                }
                for name, c in (survival.get("c_index") or {}).items()
            ],
        }
        if survival
        else None,
        "scar_method": _describe(metrics.get("scar_method")),
        "assumed_spacing": metrics.get("assumed_pixel_spacing_mm"),
        "table1": _table1(blocks, pairs, references) if blocks else None,
        "oracle_auc": _number(metrics.get("oracle_auc")) if metrics.get("oracle_auc") is not None else None,
        "baseline_inputs": {str(k): str(v) for k, v in (metrics.get("baseline_inputs") or {}).items()},
    }


def _describe(method: Any) -> str | None:
    """``{"name": "hysteresis", "low": 0.35, ...}`` -> ``"hysteresis (low 0.35, ...)"``."""
    if not isinstance(method, Mapping):
        return None
    details = ", ".join(
        f"{k} {v}" for k, v in method.items() if k != "name" and not isinstance(v, Mapping | list)
    )
    return f"{method.get('name', 'scar method')} ({details})" if details else str(method.get("name"))


def _cardiomyopathy(metrics: Mapping[str, Any]) -> dict[str, Any]:
    table3 = metrics.get("table3") or {}
    baselines = metrics.get("baselines") or {}
    delong = metrics.get("delong") or {}
    oracle = metrics.get("oracle_auc") or {}
    oracle_ecg = metrics.get("oracle_ecg_auc") or {}
    inputs: list[str] = []
    for per_input in table3.values():
        inputs += [name for name in per_input if name not in inputs]
    baseline_name = "clinical_logistic"
    rows, details = [], []
    for task, per_input in table3.items():
        pairs = _delong_pairs(delong.get(task) or {})
        baseline_name = next((reference for _, reference in pairs), baseline_name)
        baseline = baselines.get(task)
        rows.append(
            {
                "task": task,
                "cells": _table3_cells(per_input, inputs, pairs, baseline_name),
                "baseline": {"pooled": _auc_with_ci(baseline), "mean_sd": _mean_sd(baseline)}
                if baseline
                else None,
                "oracle": _number(oracle.get(task)) if isinstance(oracle, Mapping) else "—",
                "oracle_ecg": _number(oracle_ecg.get(task)) if isinstance(oracle_ecg, Mapping) else "—",
            }
        )
        blocks = {name: ("model", block) for name, block in per_input.items()}
        if task in baselines:
            blocks[baseline_name] = ("baseline", baselines[task])
        details.append({"task": task, "table1": _table1(blocks, pairs, [baseline_name])})
    multiclass = [_multiclass(name, summary) for name, summary in (metrics.get("multiclass") or {}).items()]
    return {
        "table3": {"inputs": inputs, "baseline": baseline_name, "rows": rows} if rows else None,
        "details": details,
        "multiclass": multiclass,
        "class_counts": {str(k): int(v) for k, v in (metrics.get("class_counts") or {}).items()},
    }


def _table3_cells(
    per_input: Mapping[str, Any], inputs: list[str], pairs: Mapping[tuple[str, str], Any], baseline_name: str
) -> list[dict[str, Any] | None]:
    """One Table 3 cell per input (pooled AUC, mean ± SD, DeLong p vs the baseline); None where absent."""
    return [
        {
            "pooled": _auc_with_ci(per_input[name]),
            "mean_sd": _mean_sd(per_input[name]),
            "p": _p_value(pairs.get((name, baseline_name))),
        }
        if name in per_input
        else None
        for name in inputs
    ]


def _multiclass(name: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """A multiclass model's macro AUC, accuracy, one-vs-rest AUCs and confusion matrix, for the template."""
    classes = [str(c) for c in summary.get("class_names") or []]
    return {
        "name": name,
        "macro_auc": _number(summary.get("macro_auc")),
        "accuracy": _number(summary.get("accuracy")),
        "auc_ovr": {str(k): _number(v) for k, v in (summary.get("auc_ovr") or {}).items()},
        "classes": classes,
        "confusion": [
            {"true": classes[i] if i < len(classes) else str(i), "counts": [int(c) for c in row]}
            for i, row in enumerate(summary.get("confusion_matrix") or [])
        ],
    }


def _section(study_dir: Path, root: Path, *, embed: bool) -> dict[str, Any]:
    config = _read_json(study_dir / "config.json")
    metrics_path = study_dir / "metrics.json"
    if not metrics_path.is_file():
        raise InputError(f"{metrics_path} is missing: the run did not finish. Re-run the study.")
    metrics = _read_json(metrics_path)
    study = str(config.get("study"))
    cohort = study_dir / "cohort.csv"
    section = {
        "study": study,
        "title": _TITLES.get(study, study),
        "anchor": study_dir.name,
        "path": "." if study_dir == root else study_dir.relative_to(root).as_posix(),
        "synthetic": bool(metrics.get("synthetic") or config.get("synthetic")),
        "profile": str(metrics.get("profile") or config.get("profile") or "not recorded"),
        "early_stopping": _early_stopping(metrics.get("early_stopping")),
        "n_patients": metrics.get("n_patients"),
        "n_excluded": metrics.get("n_excluded"),
        "cohort_csv": cohort.relative_to(root).as_posix() if cohort.is_file() else None,
        "runtime_s": _number(metrics.get("runtime_s"), 1) if metrics.get("runtime_s") is not None else None,
        "settings": _settings(config),
        "provenance": _provenance(config),
        "figures": _figures(study_dir, root, embed=embed),
        "crt": None,
        "cardiomyopathy": None,
    }
    if study == "cardiomyopathy" or "table3" in metrics:
        section["cardiomyopathy"] = _cardiomyopathy(metrics)
    else:
        section["crt"] = _crt_like(metrics)
    return section


def _created(root: Path, sections: Sequence[Mapping[str, Any]]) -> str:
    """When the (newest) run was made, from its provenance; now only if no run records it."""
    stamps = [section["provenance"]["other"].get("created_utc", "—") for section in sections]
    stamps = [stamp for stamp in stamps if stamp != "—"]
    return max(stamps) if stamps else datetime.now(UTC).isoformat(timespec="seconds")


def write_report(run_dir: str | Path, *, embed_figures: bool = True) -> Path:
    """Write ``report.html`` for a study run directory or a parent of several (atomically).

    Parameters
    ----------
    run_dir : path
        A study's run directory (``config.json`` with ``"study"``, ``metrics.json``, ``figures/``), or
        a folder whose sub-folders are such directories (one report with a section per study).
    embed_figures : bool
        Embed the PNGs as base64 (a self-contained file, the default) or link them by relative path.

    Returns
    -------
    Path
        ``run_dir / "report.html"``.
    """
    import jinja2

    from cardiopredict import __version__

    root = Path(run_dir)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory; pass the run directory written by a study.")
    sections = [_section(study_dir, root, embed=embed_figures) for study_dir in study_dirs(root)]
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("cardiopredict", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = environment.get_template("report.html").render(
        sections=sections,
        synthetic=any(section["synthetic"] for section in sections),
        version=__version__,
        created_utc=_created(root, sections),
    )
    return atomic_write_text(root / REPORT_NAME, html)
