"""What every study shares: atomic outputs, provenance, and ECG feature extraction with a disk cache.

A study reads a cohort, turns every ECG into fixed-length windows and measurements once (cached on
disk, keyed by the file's content and the window configuration), and records every patient it could
not use in ``cohort.csv`` with the reason. Nothing is dropped silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._atomic import publish
from cardiopredict.config import ECGWindowConfig
from cardiopredict.errors import CardioPredictError

# Bump when the feature extraction changes in a way the cache key cannot see.
FEATURE_VERSION = 1


# --- atomic outputs --------------------------------------------------------------------------
def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and a rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Atomic UTF-8 text write."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> Path:
    """Atomic JSON write (NaN written as null, numpy scalars converted)."""
    return atomic_write_text(path, json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")


def atomic_write_csv(path: Path, table: pd.DataFrame) -> Path:
    """Atomic CSV write without the index."""
    return atomic_write_text(path, table.to_csv(index=False))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


# --- provenance ------------------------------------------------------------------------------
def provenance() -> dict[str, Any]:
    """Package versions, git commit (when run from a checkout), Python and platform, UTC time."""
    versions = {}
    for package in ("cardiopredict", "numpy", "scipy", "pandas", "torch", "lightning", "scikit-learn"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "versions": versions,
        "git_commit": commit or None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def is_synthetic_cohort(manifest_path: Path) -> bool:
    """A cohort carrying an ``oracle.csv`` (true outcome probabilities) was made by the simulator."""
    return (Path(manifest_path).parent / "oracle.csv").is_file()


# --- ECG features ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ECGFeatures:
    """Model inputs and measurements derived from one ECG file.

    Parameters
    ----------
    qrs : ndarray of shape (12, qrs_samples), float32
        Median-beat QRS window.
    rr : ndarray of shape (12, rr_samples), float32
        RR-extended window.
    rr_features : ndarray of shape (4,), float32
        Mean, SD, min, max RR interval in ms.
    measurements : dict
        :class:`cardiopredict.ecg.measurements.ECGMeasurements` as a dict.
    """

    qrs: np.ndarray
    rr: np.ndarray
    rr_features: np.ndarray
    measurements: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _config_key(window: ECGWindowConfig, sex: str | None) -> str:
    blob = json.dumps({"window": window.to_dict(), "sex": sex, "v": FEATURE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def extract_features(path: Path, window: ECGWindowConfig, *, sex: str | None = None) -> ECGFeatures:
    """Read, delineate, window and measure one ECG file.

    Raises
    ------
    CardioPredictError
        Any reader or delineation error, with the file named in the message.
    """
    from cardiopredict.ecg import delineate
    from cardiopredict.ecg.io import read_ecg
    from cardiopredict.ecg.measurements import measure
    from cardiopredict.ecg.windows import qrs_window, rr_window
    from cardiopredict.errors import SignalQualityError

    record = read_ecg(path)
    delineation = delineate(record)
    qrs = qrs_window(
        record,
        delineation,
        n_samples=window.qrs_samples,
        mode=window.qrs_mode,
        normalize=window.normalize,
    )
    rr = rr_window(record, delineation, n_samples=window.rr_samples, normalize=window.normalize)
    if not (np.isfinite(qrs).all() and np.isfinite(rr.window).all()):
        bad = sorted(lead for lead, flags in record.meta.get("quality", {}).items() if flags) or ["unknown"]
        raise SignalQualityError(
            f"{path}: the QRS/RR window holds non-finite samples (lead quality flags: {', '.join(bad)}). "
            "Re-export the ECG or repair the affected lead(s)."
        )
    measurements = measure(record, delineation, sex=sex).to_dict()
    return ECGFeatures(
        qrs=np.asarray(qrs, dtype=np.float32),
        rr=np.asarray(rr.window, dtype=np.float32),
        rr_features=np.asarray(rr.rr_features, dtype=np.float32),
        measurements=_jsonable(measurements),
    )


class FeatureCache:
    """Disk cache of :class:`ECGFeatures`, keyed by file content + window config + sex.

    Entries are ``.npz`` files loaded with ``allow_pickle=False``.
    """

    def __init__(self, cache_dir: Path | None, window: ECGWindowConfig) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.window = window
        self.hits = 0
        self.misses = 0

    def get(self, path: Path, *, sex: str | None = None) -> ECGFeatures:
        """Features of ``path``, from the cache when the file's content was seen before."""
        if self.cache_dir is None:
            self.misses += 1
            return extract_features(path, self.window, sex=sex)
        key = f"{_sha256(Path(path))[:32]}-{_config_key(self.window, sex)}.npz"
        entry = self.cache_dir / key
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as data:
                    features = ECGFeatures(
                        qrs=data["qrs"],
                        rr=data["rr"],
                        rr_features=data["rr_features"],
                        measurements=json.loads(str(data["measurements"])),
                    )
                self.hits += 1
                return features
            except (OSError, ValueError, KeyError):
                entry.unlink(missing_ok=True)  # a damaged cache entry is rebuilt, not trusted
        features = extract_features(path, self.window, sex=sex)
        self.misses += 1
        import io

        buffer = io.BytesIO()
        np.savez(
            buffer,
            qrs=features.qrs,
            rr=features.rr,
            rr_features=features.rr_features,
            measurements=np.array(json.dumps(features.measurements)),
        )
        atomic_write_bytes(entry, buffer.getvalue())
        return features


def cohort_features(
    table: pd.DataFrame,
    file_columns: Iterable[str],
    cache: FeatureCache,
    *,
    progress: bool = False,
    description: str = "ECG features",
) -> tuple[dict[str, dict[str, ECGFeatures]], dict[str, str]]:
    """Extract features for every patient and file column; collect exclusions instead of crashing.

    Parameters
    ----------
    table : DataFrame
        Manifest table (``patient_id`` plus absolute file paths in ``file_columns``).
    file_columns : iterable of str
        Columns whose files every included patient needs.

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
    rows = list(table.itertuples(index=False))
    iterator = _progress(rows, description) if progress else rows
    for row in iterator:
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
            except CardioPredictError as error:
                # File names may hold what a clinic typed (names, record numbers): the reason names
                # the manifest column instead of the path.
                reason = _first_line(error).replace(str(path), f"<{column} file>")
                exclusions[pid] = f"{column}: {type(error).__name__}: {reason}"
                break
    for column in columns:
        for pid in exclusions:
            features[column].pop(pid, None)
    return features, exclusions


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _progress(items: list, description: str):
    from rich.progress import track

    return track(items, description=description, transient=True)


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


# --- resuming a killed run -------------------------------------------------------------------
def cv_signature(
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    model: str,
    model_kwargs: Mapping[str, Any],
    training: Mapping[str, Any],
    n_classes: int,
) -> str:
    """Fingerprint of one cross-validated training: the exact input arrays, labels, folds and settings.

    Two runs with the same fingerprint train the same models (training is seeded), so a finished one
    can be reused instead of retrained.
    """
    digest = hashlib.sha256()
    for key in sorted(inputs):
        array = np.ascontiguousarray(inputs[key])
        digest.update(f"{key}{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes())
    for array in (np.asarray(y, dtype=np.int64), np.asarray(folds, dtype=np.int64)):
        digest.update(np.ascontiguousarray(array).tobytes())
    settings = {"model": model, "kwargs": model_kwargs, "training": training, "n_classes": n_classes}
    digest.update(json.dumps(_jsonable(settings), sort_keys=True).encode())
    digest.update(f"features-v{FEATURE_VERSION}".encode())
    return digest.hexdigest()


def load_finished_cv(out: Path, key: str, signature: str) -> tuple[np.ndarray, pd.DataFrame, str] | None:
    """Out-of-fold scores, curves and early-stopping label of a finished training with this fingerprint.

    Returns None unless every piece (scores, curves, ``models/<key>/model.json``) is present and the
    fingerprint matches; a damaged record is ignored and the training runs again.
    """
    record, curves = out / "cv" / f"{key}.npz", out / "curves" / f"{key}.csv"
    if not (record.is_file() and curves.is_file() and (out / "models" / key / "model.json").is_file()):
        return None
    try:
        with np.load(record, allow_pickle=False) as data:
            if str(data["signature"]) != signature:
                return None
            scores, early_stopping = np.array(data["oof_scores"]), str(data["early_stopping"])
        return scores, pd.read_csv(curves), early_stopping
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return None


def save_finished_cv(
    out: Path, key: str, signature: str, oof_scores: np.ndarray, early_stopping: str
) -> None:
    """Record a finished training (written last, atomically, so a killed run never looks finished)."""
    import io

    buffer = io.BytesIO()
    np.savez(
        buffer,
        signature=np.array(signature),
        oof_scores=np.asarray(oof_scores, dtype=float),
        early_stopping=np.array(early_stopping),
    )
    atomic_write_bytes(out / "cv" / f"{key}.npz", buffer.getvalue())


@dataclass(frozen=True)
class TrainedCV:
    """Out-of-fold scores, per-epoch curves and early-stopping label of one model of a study."""

    oof_scores: np.ndarray
    curves: pd.DataFrame
    early_stopping: str
    reused: bool


def cross_validate(
    out: Path,
    key: str,
    inputs: Mapping[str, np.ndarray],
    y: np.ndarray,
    folds: np.ndarray,
    *,
    patient_ids: list[str],
    model: str,
    model_kwargs: Mapping[str, Any],
    training: Any,
    n_classes: int = 2,
    resume: bool = True,
    progress: bool = False,
    model_json_extra: Mapping[str, Any] | None = None,
) -> TrainedCV:
    """Train one model of a study by cross-validation, or reuse a finished identical training.

    Writes ``models/<key>/``, ``curves/<key>.csv`` and, last, ``cv/<key>.npz`` (the record that the
    training finished). With ``resume`` a re-run after a kill retrains only what did not finish.
    """
    from cardiopredict.training.crossval import run_cv

    signature = cv_signature(
        inputs,
        y,
        folds,
        model=model,
        model_kwargs=model_kwargs,
        training=training.to_dict(),
        n_classes=n_classes,
    )
    if resume:
        finished = load_finished_cv(out, key, signature)
        if finished is not None:
            return TrainedCV(*finished, reused=True)
    result = run_cv(
        dict(inputs),
        y,
        folds,
        patient_ids=patient_ids,
        model=model,
        model_kwargs=dict(model_kwargs),
        config=training,
        n_classes=n_classes,
        out_dir=out / "models" / key,
        progress=progress,
        model_json_extra=dict(model_json_extra or {}),
    )
    atomic_write_csv(out / "curves" / f"{key}.csv", result.curves)
    save_finished_cv(out, key, signature, result.oof_scores, result.early_stopping)
    return TrainedCV(np.asarray(result.oof_scores), result.curves, result.early_stopping, reused=False)


def write_run_config(
    out: Path,
    *,
    study: str,
    manifest_path: Path,
    synthetic: bool,
    profile: Any,
    window: ECGWindowConfig,
    cache: FeatureCache,
    **selection: Any,
) -> Path:
    """``config.json`` of a run: study, cohort, what was run (``selection``), protocol, provenance."""
    return atomic_write_json(
        out / "config.json",
        {
            "study": study,
            "manifest": str(Path(manifest_path).resolve()),
            "synthetic": synthetic,
            **selection,
            "profile": profile.name,
            "training": profile.training.to_dict(),
            "window": window.to_dict(),
            "bootstrap": profile.bootstrap,
            "feature_cache": {"hits": cache.hits, "misses": cache.misses},
            "provenance": provenance(),
        },
    )
