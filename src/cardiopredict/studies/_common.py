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
        os.replace(tmp, path)
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
                exclusions[pid] = f"{column}: {type(error).__name__}: {_first_line(error)}"
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
