"""LGE studies → the VA model's input for a whole cohort, cached per patient.

Per patient: read the LGE series with its contours / label map (:func:`cardiopredict.cmr.io.read_lge`),
preprocess it (:func:`cardiopredict.cmr.preprocess.preprocess_study`: myocardium, the configured scar
method — never the truth unless ``scar="labels"`` is chosen —, normalisation, orientation, 128 x 128
crops, 3–10 slices base → apex), pad to ``max_slices`` slots, and compute the handcrafted scar
features (:func:`cardiopredict.cmr.scar_features.scar_features`) from the same arrays. Patients that
cannot be used are excluded with the reason; slices dropped or oriented by a neighbour are listed in
``cohort.csv``. The cache key is the content of every input file, the configuration and the scar
method's description (a learned model's fingerprint included).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_write_bytes, sha256_file, to_jsonable
from cardiopredict.cmr.geometry import DEFAULT_CROP_SIZE, DEFAULT_TARGET_SPACING_MM, lv_centre
from cardiopredict.cmr.io import read_lge
from cardiopredict.cmr.preprocess import (
    DEFAULT_SCAR,
    MAX_SLICES,
    MIN_SLICES,
    check_preprocessing,
    preprocess_records,
    preprocess_study,
)
from cardiopredict.cmr.scar import ScarSegmenter, scar_method
from cardiopredict.cmr.scar_features import SCAR_FEATURE_NAMES, scar_features
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.cohort.manifest import read_manifest
from cardiopredict.config import LGEInputConfig
from cardiopredict.errors import InputError, LeakageError
from cardiopredict.features._cohort import CohortInputs, exclusion_reason, progress_iter

__all__ = [
    "LGE_FEATURE_VERSION",
    "build_lge_inputs",
    "lge_preprocessing",
    "preprocess_cohort",
    "refuse_trained_on",
]

# Bump when the LGE input building changes in a way the cache key cannot see.
LGE_FEATURE_VERSION = 1
_FILE_COLUMNS = ("lge", "contours", "labels")


def lge_preprocessing(config: LGEInputConfig, segmenter: ScarSegmenter | None = None) -> dict[str, Any]:
    """What ``model.json`` records about the inputs: the config, the scar method, the version."""
    segmenter = segmenter or scar_method(config.scar)
    described = {
        "config": config.to_dict(),
        "scar_method": segmenter.describe(),
        "version": LGE_FEATURE_VERSION,
    }
    return to_jsonable(described)  # as model.json stores it (lists, not tuples), so the two compare equal


def _content_hash(path: Path) -> str:
    """SHA-256 of a file, or of every file below a folder (names and content, sorted)."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(child.relative_to(path).as_posix().encode())
        digest.update(sha256_file(child).encode())
    return digest.hexdigest()


def _patient(row: dict[str, Any], config: LGEInputConfig, segmenter: ScarSegmenter) -> dict[str, Any]:
    """One patient's padded slices, LGE, slot mask, scar features and preprocessing notes."""
    files = {column: row[column] for column in ("contours", "labels") if _given(row.get(column))}
    spacing = config.pixel_spacing_mm
    study = read_lge(
        row["lge"],
        labels=files.get("labels") or ("auto" if "contours" not in files else None),
        contours=files.get("contours"),
        pixel_spacing_mm=(spacing, spacing) if spacing else None,
        slice_thickness_mm=config.slice_thickness_mm,
        patient_id=str(row["patient_id"]),
    )
    if not config.orient:
        study = _unrotated(study)
    arrays = preprocess_study(
        study,
        scar=segmenter,
        size=config.size,
        target_spacing_mm=config.target_spacing_mm,
        min_slices=config.min_slices,
        max_slices=config.max_slices,
    )
    if arrays.excluded:
        raise InputError(arrays.excluded)
    positions = np.asarray(study.slice_positions_mm, dtype=float)[arrays.slice_indices]
    gap = float(np.median(np.abs(np.diff(positions)))) if len(positions) > 1 else None
    features = scar_features(
        arrays.inputs, arrays.lge, pixel_spacing_mm=config.target_spacing_mm, slice_spacing_mm=gap or None
    )
    n = arrays.n_selected
    stack = arrays.inputs
    if config.lge_channel:
        stack = np.concatenate([stack, arrays.lge[:, None]], axis=1)
    slices = np.zeros((config.max_slices, *stack.shape[1:]), dtype=np.float32)
    image = np.zeros((config.max_slices, *arrays.lge.shape[1:]), dtype=np.float32)
    slices[:n], image[:n] = stack, arrays.lge
    mask = (np.arange(config.max_slices) < n).astype(np.float32)
    notes = {"n_slices": n, "dropped_slices": "; ".join(arrays.dropped), "notes": "; ".join(arrays.notes)}
    return {
        "slices": slices,
        "image": image,
        "slice_mask": mask,
        "scar_features": np.array([features[name] for name in SCAR_FEATURE_NAMES], dtype=np.float32),
        "notes": notes,
    }


def _unrotated(study: LGEStudy) -> LGEStudy:
    """The study with an insertion point straight below the LV centre on every slice with myocardium,
    so that the orientation step rotates by 0° (orientation off)."""
    myo = study.myocardium_mask()
    points: list[np.ndarray | None] = []
    for mask in myo:
        if not mask.any():
            points.append(None)
            continue
        centre = lv_centre(mask)
        below = min(centre[0] + 5.0, mask.shape[0] - 1.0)
        points.append(np.array([below, centre[1]]))
    return study.replace(insertion_points=points)


def _given(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


class _LGECache:
    """Per-patient ``.npz`` entries keyed by file contents + preprocessing (``allow_pickle=False``)."""

    def __init__(self, cache_dir: Path | None, preprocessing: dict[str, Any]) -> None:
        self.cache_dir = cache_dir
        self.config_key = hashlib.sha256(json.dumps(preprocessing, sort_keys=True).encode()).hexdigest()[:16]
        self.hits = self.misses = 0

    def get(self, row: dict[str, Any], build: Any) -> dict[str, Any]:
        if self.cache_dir is None:
            self.misses += 1
            return build()
        digest = hashlib.sha256()
        for column in _FILE_COLUMNS:
            if _given(row.get(column)):
                digest.update(f"{column}:{_content_hash(Path(row[column]))}".encode())
        entry = self.cache_dir / f"lge-{digest.hexdigest()[:32]}-{self.config_key}.npz"
        if entry.is_file():
            try:
                with np.load(entry, allow_pickle=False) as data:
                    value = {
                        key: np.array(data[key]) for key in ("slices", "image", "slice_mask", "scar_features")
                    }
                    value["notes"] = json.loads(str(data["notes"]))
                self.hits += 1
                return value
            except (OSError, ValueError, KeyError):
                entry.unlink(missing_ok=True)  # a damaged entry is rebuilt, not trusted
        value = build()
        self.misses += 1
        buffer = io.BytesIO()
        arrays = {key: value[key] for key in ("slices", "image", "slice_mask", "scar_features")}
        np.savez_compressed(buffer, **arrays, notes=np.array(json.dumps(value["notes"])))
        atomic_write_bytes(entry, buffer.getvalue())
        return value


def build_lge_inputs(
    table: pd.DataFrame,
    *,
    config: LGEInputConfig,
    cache_dir: Path | None,
    progress: bool = False,
    evaluation: bool = False,
) -> CohortInputs:
    """The VA study's input builder: every patient's slice stack, or the reason it cannot be used.

    Parameters
    ----------
    table : DataFrame
        Validated manifest table: ``patient_id``, ``lge`` (DICOM folder, NIfTI or PNG folder; absolute
        paths), optional ``contours`` and ``labels``.
    config : LGEInputConfig
    cache_dir : Path or None
    evaluation : bool
        The inputs are for an evaluation (a study's cross-validation): a learned scar model trained on
        any of the table's patients is refused (:func:`refuse_trained_on`).

    Raises
    ------
    LeakageError
        ``evaluation`` and the scar model was trained on some of these patients.

    Returns
    -------
    CohortInputs
        ``arrays``: ``lge.slices`` (n, max_slices, C, size, size) float32 [myocardium, scar(, LGE)],
        ``lge.image`` (n, max_slices, size, size) normalised LGE, ``lge.slice_mask`` (n, max_slices),
        ``lge.scar_features`` (n, len(SCAR_FEATURE_NAMES)).
    """
    segmenter = scar_method(config.scar)
    check_preprocessing(segmenter, size=config.size, target_spacing_mm=config.target_spacing_mm)
    if evaluation:
        refuse_trained_on(segmenter, table["patient_id"].astype(str))
    preprocessing = lge_preprocessing(config, segmenter)
    cache = _LGECache(cache_dir, preprocessing)
    values: dict[str, dict[str, Any]] = {}
    exclusions: dict[str, str] = {}
    for row in progress_iter(table.to_dict("records"), "preprocessing LGE", enabled=progress):
        pid = str(row["patient_id"])
        try:
            values[pid] = cache.get(row, lambda row=row: _patient(row, config, segmenter))
        except Exception as error:  # one bad patient never stops the cohort
            others = {
                column: str(row[column]) for column in ("contours", "labels") if _given(row.get(column))
            }
            exclusions[pid] = exclusion_reason("lge", str(row["lge"]), error, also=others)
    included = table[table["patient_id"].astype(str).isin(list(values))].reset_index(drop=True)
    pids = included["patient_id"].astype(str).to_numpy()
    arrays = {}
    if len(pids):
        for key in ("slices", "image", "slice_mask", "scar_features"):
            arrays[f"lge.{key}"] = np.stack([values[pid][key] for pid in pids])
    derived = {pid: values[pid]["notes"] for pid in pids}
    config_block = {
        "lge_preprocessing": preprocessing,
        "feature_cache": {"hits": cache.hits, "misses": cache.misses},
    }
    return CohortInputs(pids, included, arrays, exclusions, derived=derived, config=config_block)


def refuse_trained_on(segmenter: ScarSegmenter, patient_ids: Iterable[str]) -> None:
    """Raise :class:`LeakageError` when a learned scar model was trained on any of ``patient_ids``.

    Its scar maps of those patients would come from a network that saw their expert labels, so an
    evaluation's held-out scores would be optimistic. Threshold rules fit nothing and always pass.
    Patients are matched by ``patient_id``, the only identity a cohort has.
    """
    overlap = sorted(getattr(segmenter, "training_patients", frozenset()) & set(map(str, patient_ids)))
    if not overlap:
        return
    shown = ", ".join(overlap[:5]) + (f" and {len(overlap) - 5} more" if len(overlap) > 5 else "")
    raise LeakageError(
        f"the scar model {getattr(segmenter, 'source', '')!r} was trained on {len(overlap)} of this "
        f"cohort's patients ({shown}): their scar maps would come from a network that saw their expert "
        "labels, so the study's held-out scores would be optimistic. Train the scar model on patients "
        "outside this cohort (cardiopredict cmr train-scar on a separate labelled manifest) or use a "
        "threshold rule (--scar hysteresis). If these are different people who share an ID, give them "
        "distinct patient_id values."
    )


def preprocess_cohort(
    manifest_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    scar: ScarSegmenter | str = DEFAULT_SCAR,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    min_slices: int = MIN_SLICES,
    max_slices: int = MAX_SLICES,
    progress: bool = False,
) -> Path:
    """Preprocess every patient of a manifest into one memory-mappable array per cohort.

    Parameters
    ----------
    manifest_path : str or Path
        CSV/XLSX with ``patient_id``, ``lge`` (a DICOM series folder or NIfTI file, relative to the
        manifest) and optional ``labels`` (label map) and ``contours`` (paper contour file) columns;
        other columns are ignored here.
    out_dir : str or Path
        Receives (each written atomically):

        * ``inputs.npy``: float32 (n_rows, 2, size, size), the selected slices of all included patients
          stacked in manifest order (``numpy.load(path, mmap_mode="r")``);
        * ``lge.npy``: float32 (n_rows, size, size), the normalised LGE slices, same rows;
        * ``index.csv``: patient_id, row_start, n_slices, slice_indices (``;``-separated, in the study),
          rotation_deg, scar_burden_pct, scar_grams, dropped_slices, notes;
        * ``exclusions.csv``: patient_id, reason (every patient not in ``index.csv``);
        * ``preprocess.json``: options (the segmenter's ``describe()``), counts, seconds, provenance.
    scar, size, target_spacing_mm, min_slices, max_slices
        As in :func:`cardiopredict.cmr.preprocess.preprocess_study`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    Path
        ``out_dir``. The run completes whatever happens to single patients; check ``included`` in
        ``preprocess.json`` (the CLI exits non-zero when it is 0).

    Raises
    ------
    ManifestError
        The manifest itself is unusable (no ``lge`` column, bad rows).
    InputError
        Bad options, or a learned segmenter trained on other preprocessing.
    """
    segmenter = scar_method(scar) if isinstance(scar, str) else scar
    check_preprocessing(segmenter, size=size, target_spacing_mm=target_spacing_mm)
    manifest = read_manifest(
        manifest_path,
        label_column=None,
        file_columns=("lge",),
        optional_file_columns=("labels", "contours"),
        check_files=False,
    )
    rows = [row._asdict() for row in manifest.table.itertuples(index=False)]
    return preprocess_records(
        rows,
        out_dir,
        source=str(Path(manifest_path).resolve()),
        scar=segmenter,
        size=size,
        target_spacing_mm=target_spacing_mm,
        min_slices=min_slices,
        max_slices=max_slices,
        progress=progress,
    )
