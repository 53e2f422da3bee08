"""Writing a synthetic cohort: request checks, one ECG file per recording, the folder in one rename."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_dir
from cardiopredict.ecg.io import write_ecg, write_xlsx_sheets
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import InputError, InsufficientDataError

FORMATS: tuple[str, ...] = ("xlsx", "csv", "wfdb")
MIN_PATIENTS = 10
_SUFFIX = {"xlsx": ".xlsx", "csv": ".csv", "wfdb": ".hea"}


def write_record(record: ECGRecord, folder: Path, name: str, fmt: str) -> str:
    """Write one ECG into ``folder / "ecg"`` and return its path relative to ``folder``."""
    relative = f"ecg/{name}{_SUFFIX[fmt]}"
    target = folder / relative
    if fmt == "xlsx":
        write_xlsx_sheets([record], [name], target)
    else:
        write_ecg(record, target, format=fmt)
    return relative


def check_request(out_dir: Path, *, n: int, format: str, overwrite: bool) -> Path:
    """Refuse a cohort request before any work: too few patients, unknown format, occupied ``out_dir``."""
    out_dir = Path(out_dir)
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < MIN_PATIENTS:
        raise InsufficientDataError(
            f"n={n!r} patients: a synthetic cohort needs at least {MIN_PATIENTS}; use a larger n."
        )
    if format not in FORMATS:
        raise InputError(f"format={format!r}: choose one of {', '.join(FORMATS)}.")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"Output {out_dir} exists and is not a folder; choose another --out.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not overwrite:
        raise InputError(
            f"Output folder {out_dir} exists and is not empty; pass overwrite=True (--overwrite) "
            "to replace it, or choose another folder."
        )
    return out_dir


def write_cohort(out_dir: Path, build: Callable[[Path], None], *, overwrite: bool) -> Path:
    """Build the cohort in a temporary sibling folder, then move it into place in one rename."""
    out_dir = Path(out_dir).absolute()
    with atomic_dir(out_dir, overwrite=overwrite) as staging:
        (staging / "ecg").mkdir()
        build(staging)
        if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:  # filled while we were writing
            raise InputError(
                f"Output folder {out_dir} was filled while the cohort was written; not replaced."
            )
    return out_dir / "manifest.csv"


def progress_over(items: range, label: str, enabled: bool) -> Any:
    """``items``, wrapped in a rich progress bar when ``enabled``."""
    if not enabled:
        return items
    from rich.progress import track

    return track(items, description=label, transient=True)
