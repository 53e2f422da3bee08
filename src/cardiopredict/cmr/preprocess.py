"""LGE study -> the VA model's input: per patient ``(n_selected, 2, 128, 128)`` [myocardium, scar] + LGE.

The per-study steps (myocardium, scar, orientation, one affine crop, slice selection) are documented in
:mod:`cardiopredict.cmr._preprocess_study` and re-exported here; this module adds the cohort driver,
which writes one memory-mappable array per cohort and never stops on one patient: a patient whose files
cannot be read or whose study cannot be used is excluded with the reason (a named
:class:`~cardiopredict.errors.CardioPredictError`, or an unexpected exception recorded with its type),
and the run goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict._io import atomic_target, atomic_write_csv, atomic_write_json, provenance
from cardiopredict.cmr._preprocess_study import (
    DEFAULT_SCAR,
    MAX_SLICES,
    MIN_MYOCARDIUM_MM2,
    MIN_SLICES,
    PatientArrays,
    check_preprocessing,
    excluded_arrays,
    first_line,
    myocardium_range,
    oriented_mask,
    oriented_slice,
    pipeline_preprocessing,
    preprocess_study,
    select_slices,
    slice_rotations,
)
from cardiopredict.cmr.geometry import DEFAULT_CROP_SIZE, DEFAULT_TARGET_SPACING_MM
from cardiopredict.cmr.io import read_lge
from cardiopredict.cmr.scar import ScarSegmenter, scar_method
from cardiopredict.errors import CardioPredictError, InputError

__all__ = [
    "DEFAULT_SCAR",
    "EXCLUSIONS_FILE",
    "INDEX_FILE",
    "INPUTS_FILE",
    "LGE_FILE",
    "MAX_SLICES",
    "MIN_MYOCARDIUM_MM2",
    "MIN_SLICES",
    "SUMMARY_FILE",
    "PatientArrays",
    "check_preprocessing",
    "load_cohort_arrays",
    "myocardium_range",
    "oriented_mask",
    "oriented_slice",
    "pipeline_preprocessing",
    "preprocess_patient",
    "preprocess_records",
    "preprocess_study",
    "select_slices",
    "slice_rotations",
]

INPUTS_FILE = "inputs.npy"
LGE_FILE = "lge.npy"
INDEX_FILE = "index.csv"
EXCLUSIONS_FILE = "exclusions.csv"
SUMMARY_FILE = "preprocess.json"
_INDEX_COLUMNS = [
    "patient_id",
    "row_start",
    "n_slices",
    "slice_indices",
    "rotation_deg",
    "scar_burden_pct",
    "scar_grams",
    "dropped_slices",
    "notes",
]


def preprocess_patient(record: dict[str, Any], **options: Any) -> PatientArrays:
    """Read and preprocess one manifest row; never raises for the patient's data.

    Parameters
    ----------
    record : dict
        A manifest row: ``patient_id``, ``lge`` and optional ``labels``, ``contours`` (resolved paths).
    **options
        Passed to :func:`preprocess_study`.

    Returns
    -------
    PatientArrays
        ``excluded`` says why when the files cannot be read (``"cannot read: ..."``), the study cannot be
        used, or something unexpected failed (``"unexpected <Type>: message"``).
    """
    pid = str(record["patient_id"])
    size = int(options.get("size", DEFAULT_CROP_SIZE))
    hints = {key: record[key] for key in ("labels", "contours") if _given(record.get(key))}
    try:
        for path in (record["lge"], *hints.values()):
            if not Path(path).exists():
                raise InputError(f"file not found: {path}; fix the manifest path")
        study = read_lge(record["lge"], **hints).replace(patient_id=pid)
    except CardioPredictError as error:
        return excluded_arrays(pid, size, f"cannot read: {first_line(error)}")
    except Exception as error:  # one patient's surprise must not stop the cohort
        where = Path(record["lge"]).name
        reason = f"cannot read {where}: unexpected {type(error).__name__}: {first_line(error)}"
        return excluded_arrays(pid, size, reason)
    try:
        return preprocess_study(study, **options)
    except CardioPredictError as error:
        return excluded_arrays(pid, size, first_line(error))
    except Exception as error:
        return excluded_arrays(pid, size, f"unexpected {type(error).__name__}: {first_line(error)}")


def preprocess_records(
    records: Sequence[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    *,
    source: str = "",
    scar: ScarSegmenter | str = DEFAULT_SCAR,
    size: int = DEFAULT_CROP_SIZE,
    target_spacing_mm: float = DEFAULT_TARGET_SPACING_MM,
    min_slices: int = MIN_SLICES,
    max_slices: int = MAX_SLICES,
    progress: bool = False,
) -> Path:
    """``cardiopredict.features.preprocess_cohort`` on manifest rows already read (``patient_id``,
    ``lge``, optional ``labels`` and ``contours`` as resolved paths); ``source`` names the manifest in
    ``preprocess.json``.

    The cohort engine without the manifest reader, so that the ``cmr`` layer never imports ``cohort``.
    """
    segmenter = scar_method(scar) if isinstance(scar, str) else scar
    check_preprocessing(segmenter, size=size, target_spacing_mm=target_spacing_mm)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    options = {
        "scar": segmenter,
        "size": size,
        "target_spacing_mm": target_spacing_mm,
        "min_slices": min_slices,
        "max_slices": max_slices,
    }
    rows = list(records)
    iterator: Any = rows
    if progress:
        from rich.progress import track

        iterator = track(rows, description="preprocessing LGE")
    patients = [preprocess_patient(record, **options) for record in iterator]
    included = [p for p in patients if not p.excluded]
    exclusions = [{"patient_id": p.patient_id, "reason": p.excluded} for p in patients if p.excluded]
    n_rows = _write_cohort(out, included, size=size)
    atomic_write_csv(out / EXCLUSIONS_FILE, pd.DataFrame(exclusions, columns=["patient_id", "reason"]))
    atomic_write_json(
        out / SUMMARY_FILE,
        {
            "manifest": source,
            "scar": segmenter.describe(),
            "size": size,
            "target_spacing_mm": target_spacing_mm,
            "min_slices": min_slices,
            "max_slices": max_slices,
            "min_myocardium_mm2": MIN_MYOCARDIUM_MM2,
            "patients": len(rows),
            "included": len(included),
            "excluded": len(exclusions),
            "rows": n_rows,
            "seconds": round(time.perf_counter() - started, 3),
            "provenance": provenance(),
        },
    )
    return out


def _write_cohort(out: Path, included: list[PatientArrays], *, size: int) -> int:
    """Write inputs.npy, lge.npy and index.csv; return the number of rows."""
    index_rows, start = [], 0
    for p in included:
        index_rows.append(
            {
                "patient_id": p.patient_id,
                "row_start": start,
                "n_slices": p.n_selected,
                "slice_indices": ";".join(str(i) for i in p.slice_indices),
                "rotation_deg": ";".join(f"{a:.2f}" for a in p.rotation_deg),
                "scar_burden_pct": round(p.scar_burden_pct, 3),
                "scar_grams": round(p.scar_grams, 3) if np.isfinite(p.scar_grams) else np.nan,
                "dropped_slices": " | ".join(p.dropped),
                "notes": " | ".join(p.notes),
            }
        )
        start += p.n_selected
    _write_npy(out / INPUTS_FILE, (start, 2, size, size), [p.inputs for p in included])
    _write_npy(out / LGE_FILE, (start, size, size), [p.lge for p in included])
    atomic_write_csv(out / INDEX_FILE, pd.DataFrame(index_rows, columns=_INDEX_COLUMNS))
    return start


def load_cohort_arrays(out_dir: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Open a ``features.preprocess_cohort`` output: (inputs memmap, lge memmap, index table)."""
    out = Path(out_dir)
    index = pd.read_csv(
        out / INDEX_FILE, dtype={"patient_id": str, "slice_indices": str, "rotation_deg": str}
    )
    return (
        np.load(out / INPUTS_FILE, mmap_mode="r"),
        np.load(out / LGE_FILE, mmap_mode="r"),
        index,
    )


def _given(value: Any) -> bool:
    return (
        value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value).strip() != ""
    )


def _write_npy(path: Path, shape: tuple[int, ...], blocks: list[np.ndarray]) -> None:
    """One float32 ``.npy`` of ``shape`` filled block by block (memory-mapped, written atomically)."""
    with atomic_target(path, suffix=".npy") as tmp:
        if shape[0] == 0:
            np.save(tmp, np.zeros(shape, dtype=np.float32))
            return
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        start = 0
        for block in blocks:
            array[start : start + len(block)] = block
            start += len(block)
        array.flush()
        del array
