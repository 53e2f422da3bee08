"""Per-patient inputs for a whole cohort: every patient either gets its inputs or an exclusion reason.

Nothing is dropped silently: a patient whose file cannot be used is excluded with the reason (the
manifest column and the error, never the file path, which may hold what a clinic typed), and the
reasons end up in ``cohort.csv``. An unexpected exception in one patient is recorded with its type
and the cohort goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.config import ECGWindowConfig
from cardiopredict.errors import CardioPredictError
from cardiopredict.features._ecg import ECG_FEATURES, ECGFeatures, FeatureCache

__all__ = [
    "CohortInputs",
    "build_ecg_inputs",
    "cohort_features",
    "cohort_table",
    "exclusion_reason",
    "progress_iter",
]


@dataclass
class CohortInputs:
    """What a study's input builder returns: the usable patients and their per-patient arrays.

    Parameters
    ----------
    patient_ids : ndarray of str, shape (n,)
        Included patients, in manifest order.
    table : DataFrame
        Their manifest rows (covariates, label), same order.
    arrays : dict of str to ndarray
        Per-patient arrays, first axis aligned with ``patient_ids`` (e.g. ``"ecg_pre.qrs"``).
    exclusions : dict of str to str
        ``patient_id -> reason`` for every manifest patient that could not be used.
    derived : dict
        ``patient_id -> {column: value}`` added to ``cohort.csv`` (measured covariates).
    config : dict
        How the inputs were built (window, preprocessing, cache hits), for ``config.json``;
        ``config["run_facts"]`` is copied into ``metrics.json`` (e.g. where a rule's inputs came from).
    extras : dict
        Builder-specific per-patient data the study's baselines read (e.g. ECG measurements).
    """

    patient_ids: np.ndarray
    table: pd.DataFrame
    arrays: dict[str, np.ndarray]
    exclusions: dict[str, str]
    derived: dict[str, dict[str, Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    def exclude(self, reasons: Mapping[str, str]) -> None:
        """Drop the patients of ``reasons`` (patient_id -> reason) from every per-patient array."""
        if not reasons:
            return
        keep = ~np.isin(self.patient_ids, list(reasons))
        self.patient_ids = self.patient_ids[keep]
        self.table = self.table[keep].reset_index(drop=True)
        self.arrays = {name: array[keep] for name, array in self.arrays.items()}
        self.exclusions.update(reasons)
        for pid in reasons:
            self.derived.pop(pid, None)


def exclusion_reason(
    column: str, path: str, error: BaseException, *, also: Mapping[str, str] | None = None
) -> str:
    """``"<column>: <ErrorType>: <first line>"`` with file paths replaced by ``<column file>``.

    ``also`` maps the row's other file columns to their paths (e.g. the contour file named in an LGE
    error), replaced the same way: file names may hold what a clinic typed.
    """
    text = str(error).strip()
    first = text.splitlines()[0] if text else type(error).__name__
    for name, value in {**(also or {}), column: path}.items():
        if value:
            first = first.replace(str(value), f"<{name} file>")
    kind = (
        type(error).__name__
        if isinstance(error, CardioPredictError)
        else f"unexpected {type(error).__name__}"
    )
    return f"{column}: {kind}: {first}"


def progress_iter(items: list, description: str, *, enabled: bool) -> Iterable:
    """``items`` behind a transient rich progress bar when ``enabled``."""
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description=description, transient=True)


def cohort_features(
    table: pd.DataFrame,
    file_columns: Iterable[str],
    cache: FeatureCache,
    *,
    progress: bool = False,
    description: str = "ECG features",
) -> tuple[dict[str, dict[str, ECGFeatures]], dict[str, str]]:
    """ECG features of every patient and file column; exclusions instead of crashing.

    Parameters
    ----------
    table : DataFrame
        Manifest table (``patient_id`` plus absolute file paths in ``file_columns``; optional ``sex``).
    file_columns : iterable of str
        Columns whose files every included patient needs.
    cache : FeatureCache
    progress : bool
        Show a progress bar.

    Returns
    -------
    features : dict
        ``features[column][patient_id]``, only for patients with every column usable.
    exclusions : dict
        ``patient_id -> reason`` for every patient that could not be used.
    """
    columns = list(file_columns)
    features: dict[str, dict[str, ECGFeatures]] = {column: {} for column in columns}
    exclusions: dict[str, str] = {}
    for row in progress_iter(list(table.itertuples(index=False)), description, enabled=progress):
        pid = str(row.patient_id)
        sex = getattr(row, "sex", None)
        sex = sex if isinstance(sex, str) and sex in ("M", "F") else None
        for column in columns:
            path = getattr(row, column)
            if not isinstance(path, str) or not path:
                exclusions[pid] = f"{column}: no file given"
                break
            try:
                features[column][pid] = cache.get(Path(path), sex=sex)
            except Exception as error:  # one bad patient never stops the cohort
                exclusions[pid] = exclusion_reason(column, path, error)
                break
    for column in columns:
        for pid in exclusions:
            features[column].pop(pid, None)
    return features, exclusions


def cohort_table(
    table: pd.DataFrame,
    exclusions: Mapping[str, str],
    *,
    derived: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """``cohort.csv``: every manifest patient, ``included``, ``reason``, and derived measurements.

    Only the cohort's own ``patient_id`` identifies a patient here.
    """
    out = pd.DataFrame({"patient_id": table["patient_id"].astype(str)})
    out["included"] = ~out["patient_id"].isin(list(exclusions))
    out["reason"] = out["patient_id"].map(lambda pid: exclusions.get(pid, ""))
    if derived:
        extra = pd.DataFrame.from_dict(derived, orient="index")
        extra.index.name = "patient_id"
        out = out.merge(extra.reset_index(), on="patient_id", how="left")
    return out


def build_ecg_inputs(
    table: pd.DataFrame,
    columns: Sequence[str],
    *,
    window: ECGWindowConfig,
    cache_dir: Path | None,
    progress: bool = False,
) -> CohortInputs:
    """The ECG studies' input builder: every file column's QRS/RR windows and measurements.

    Parameters
    ----------
    table : DataFrame
        Validated manifest table (absolute paths in ``columns``).
    columns : sequence of str
        ECG file columns every included patient needs (e.g. ``("ecg_pre", "ecg_post")``).
    window : ECGWindowConfig
    cache_dir : Path or None
        Feature cache folder.

    Returns
    -------
    CohortInputs
        ``arrays["<column>.<feature>"]`` for ``feature`` in qrs, rr, rr_features;
        ``extras["measurements"][column][patient_id]`` the measurement dicts.
    """
    cache = FeatureCache(cache_dir, window)
    features, exclusions = cohort_features(table, columns, cache, progress=progress)
    included = table[~table["patient_id"].astype(str).isin(list(exclusions))].reset_index(drop=True)
    pids = included["patient_id"].astype(str).to_numpy()
    arrays = (
        {
            f"{column}.{name}": np.stack([getattr(features[column][pid], name) for pid in pids])
            for column in columns
            for name in ECG_FEATURES
        }
        if len(pids)
        else {}
    )
    measurements = {column: {pid: features[column][pid].measurements for pid in pids} for column in columns}
    config = {"window": window.to_dict(), "feature_cache": {"hits": cache.hits, "misses": cache.misses}}
    derived = {
        pid: {f"{column}_quality": measurements[column][pid].get("quality", "") for column in columns}
        for pid in pids
    }
    extras = {"measurements": measurements}
    return CohortInputs(pids, included, arrays, exclusions, derived=derived, config=config, extras=extras)
