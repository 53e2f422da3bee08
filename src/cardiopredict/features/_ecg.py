"""One ECG file → model inputs and measurements (read → delineate → window → measure), with a disk cache.

The cache key is the file's content and the window configuration, so a renamed or copied file is
still a hit and an edited one never is. Entries are ``.npz`` files loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_write_bytes, sha256_file, to_jsonable
from cardiopredict.config import ECGWindowConfig
from cardiopredict.ecg import delineate, measure, qrs_window, quality_issues, rr_window
from cardiopredict.ecg.delineation import QRSDelineation
from cardiopredict.ecg.io import read_ecg
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import ConfigError, DelineationError, SignalQualityError

__all__ = [
    "ECG_FEATURES",
    "FEATURE_VERSION",
    "ECGFeatures",
    "FeatureCache",
    "describe_quality",
    "extract_features",
    "record_features",
]

# Bump when the feature extraction changes in a way the cache key cannot see.
FEATURE_VERSION = 1
ECG_FEATURES = ("qrs", "rr", "rr_features")
"""The arrays of :class:`ECGFeatures` a model can take as input (``inputs_spec`` feature names)."""


@dataclass(frozen=True)
class ECGFeatures:
    """Model inputs and measurements derived from one ECG file.

    Parameters
    ----------
    qrs : ndarray of shape (12, qrs_samples), float32
        Median-beat QRS window, mV.
    rr : ndarray of shape (12, rr_samples), float32
        RR-extended window, mV.
    rr_features : ndarray of shape (4,), float32
        Mean, SD, min, max RR interval in ms.
    measurements : dict
        :class:`cardiopredict.ecg.measurements.ECGMeasurements` as a dict.
    """

    qrs: np.ndarray
    rr: np.ndarray
    rr_features: np.ndarray
    measurements: dict[str, Any] = field(default_factory=dict)


def describe_quality(issues: dict[str, list[str]]) -> str:
    """``{"V1": ["flat"], "record": ["fs_implausible"]}`` -> ``"V1 (flat); record (fs_implausible)"``."""
    return "; ".join(f"{lead} ({', '.join(flags)})" for lead, flags in issues.items())


def extract_features(path: Path, window: ECGWindowConfig, *, sex: str | None = None) -> ECGFeatures:
    """Read, delineate, window and measure one ECG file, under the window's quality policy.

    Parameters
    ----------
    path : Path
        Any format :func:`cardiopredict.read_ecg` reads.
    window : ECGWindowConfig
        Window lengths, QRS mode, normalisation and the quality policy (``"exclude"``: a flagged lead
        or record raises :class:`SignalQualityError` naming the flags).
    sex : {"M", "F"}, optional
        For the sex-specific measurement criteria (Strauss LBBB, Cornell).

    Raises
    ------
    CardioPredictError
        Any reader, quality or delineation error, with the file named in the message.
    """
    return record_features(read_ecg(path), window, sex=sex, source=str(path))[0]


def record_features(
    record: ECGRecord,
    window: ECGWindowConfig,
    *,
    sex: str | None = None,
    source: str = "ECG",
    features: frozenset[str] | None = None,
) -> tuple[ECGFeatures, QRSDelineation]:
    """:func:`extract_features` of a record already read, and the delineation it measured on.

    For callers that also need the record and its delineation (the scoring service draws them), so
    that a file is read and delineated once. ``source`` names the record in error messages.
    ``features`` (names of :data:`ECG_FEATURES`) limits the windows built to what a model reads: a
    model of QRS windows only skips the RR window, whose arrays are then empty (the measurements are
    always made). None builds all.
    """
    unknown = set(features or ()) - set(ECG_FEATURES)
    if unknown:
        raise ConfigError(f"features={sorted(unknown)}: choose among {ECG_FEATURES}.")
    issues = quality_issues(record)
    if issues and window.quality == "exclude":
        raise SignalQualityError(
            f"{source}: ECG quality: {describe_quality(issues)}. Repair or re-export the ECG, or run the "
            "study with the quality policy 'keep-flagged' (docs/RELIABILITY.md)."
        )
    try:
        delineation = delineate(record)
    except DelineationError as error:
        if not issues:
            raise
        raise DelineationError(f"{error} Reader quality flags: {describe_quality(issues)}.") from error
    qrs = qrs_window(
        record, delineation, n_samples=window.qrs_samples, mode=window.qrs_mode, normalize=window.normalize
    )
    rr_window_, rr_features = np.zeros((0,), np.float32), np.zeros((0,), np.float32)
    if features is None or features & {"rr", "rr_features"}:
        rr = rr_window(record, delineation, n_samples=window.rr_samples, normalize=window.normalize)
        rr_window_, rr_features = rr.window, rr.rr_features
    measurements = measure(record, delineation, sex=sex).to_dict()
    measurements["quality"] = describe_quality(issues)
    result = ECGFeatures(
        qrs=np.asarray(qrs, dtype=np.float32),
        rr=np.asarray(rr_window_, dtype=np.float32),
        rr_features=np.asarray(rr_features, dtype=np.float32),
        measurements=to_jsonable(measurements),
    )
    return result, delineation


def _config_key(window: ECGWindowConfig, sex: str | None) -> str:
    blob = json.dumps({"window": window.to_dict(), "sex": sex, "v": FEATURE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class FeatureCache:
    """Disk cache of :class:`ECGFeatures`, keyed by file content + window config + sex.

    Parameters
    ----------
    cache_dir : Path or None
        Folder of the entries; ``None`` computes every time (nothing is written).
    window : ECGWindowConfig
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
        entry = self.cache_dir / f"{sha256_file(path)[:32]}-{_config_key(self.window, sex)}.npz"
        cached = _load_entry(entry)
        if cached is not None:
            self.hits += 1
            return cached
        features = extract_features(path, self.window, sex=sex)
        self.misses += 1
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


def _load_entry(entry: Path) -> ECGFeatures | None:
    if not entry.is_file():
        return None
    try:
        with np.load(entry, allow_pickle=False) as data:
            return ECGFeatures(
                qrs=data["qrs"],
                rr=data["rr"],
                rr_features=data["rr_features"],
                measurements=json.loads(str(data["measurements"])),
            )
    except (OSError, ValueError, KeyError):
        entry.unlink(missing_ok=True)  # a damaged cache entry is rebuilt, not trusted
        return None
