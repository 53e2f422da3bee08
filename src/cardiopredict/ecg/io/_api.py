"""Public entry points: read_ecg, read_ecg_workbook, write_ecg, write_ecg_workbook."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._atomic import publish
from cardiopredict.ecg.io._quality import assess_quality
from cardiopredict.ecg.io._raw import RawECG, mv_factor
from cardiopredict.ecg.io._sniff import sniff_format
from cardiopredict.ecg.io._table import read_csv, read_sheet, read_sheets, write_csv, write_xlsx
from cardiopredict.ecg.io._wfdb import read_wfdb, write_wfdb
from cardiopredict.ecg.leads import to_canonical_leads
from cardiopredict.ecg.record import MIN_SAMPLING_RATE_HZ, ECGRecord
from cardiopredict.errors import ECGFormatError, InputError, SamplingRateError, UnitError

HINTS = ("fs", "units", "sheet", "patient_id", "record_id")
WRITE_FORMATS = {".xlsx": "xlsx", ".csv": "csv", ".hea": "wfdb", "": "wfdb"}
_SHEET_NAME = re.compile(r"^[^\[\]:*?/\\]{1,31}$")


def read_ecg(path: str | os.PathLike[str], **hints: Any) -> ECGRecord:
    """Read a 12-lead ECG file of any supported format into an :class:`ECGRecord`.

    The format is detected from the content: WFDB (``.hea`` + ``.dat``/``.mat``), Excel (xlsx/xls) and
    CSV in the clinical-export layout (``docs/DATA_FORMATS.md``), DICOM 12-lead waveform, GE MUSE XML,
    Philips XML, HL7 aECG and SCP-ECG.

    Parameters
    ----------
    path : str or Path
        The file. A WFDB record may be named by its header, its signal file or without suffix.
    fs : float, optional
        Sampling rate in Hz, for files that do not state it (must agree with the file when it does).
    units : {"mV", "uV", "V"}, optional
        Signal unit, for files that do not state it (must agree with the file when it does).
    sheet : str or int, optional
        Workbook sheet (name or 0-based index) when a workbook holds several.
    patient_id, record_id : str, optional
        Identifiers stored on the record. ``record_id`` defaults to the file name without suffix;
        identifiers found inside the file are never used.

    Returns
    -------
    ECGRecord
        ``signal`` of shape (12, n_samples), float32, mV, canonical lead order; ``meta`` holds
        ``format``, ``source``, ``derived_leads`` and ``quality`` (lead -> flags such as ``"flat"``,
        ``"nan_run"``, ``"all_nan"``, ``"amplitude"``).

    Raises
    ------
    ECGFormatError, CorruptFileError, EmptyDataError, MissingLeadError, UnknownLeadError,
    SamplingRateError, UnitError, SignalQualityError
        Each names the file (and lead/cell where relevant) and says what to do.

    Examples
    --------
    >>> record = read_ecg("ludb/data/1.hea")  # doctest: +SKIP
    >>> record.signal.shape, record.fs  # doctest: +SKIP
    ((12, 5000), 500.0)
    """
    hints = _check_hints(hints, allowed=HINTS)
    path = Path(path)
    fmt, target = sniff_format(path)
    if "sheet" in hints and fmt not in ("xlsx", "xls"):
        raise InputError(f"sheet={hints['sheet']!r} was given but {path} is {fmt}, not a workbook. Drop it.")
    raw = _read_raw(fmt, target, sheet=hints.get("sheet"))
    default_id = target.name.removesuffix(target.suffix) if target.suffix else target.name
    return _finalize(raw, target, hints, record_id=hints.get("record_id") or default_id)


def read_ecg_workbook(path: str | os.PathLike[str], **hints: Any) -> list[ECGRecord]:
    """Read a workbook holding one ECG per sheet; ``record_id`` of each record is its sheet name.

    Parameters
    ----------
    path : str or Path
        xlsx or xls workbook; every sheet in the layout of ``docs/DATA_FORMATS.md``.
    fs, units, patient_id
        As for :func:`read_ecg`, applied to every sheet.

    Returns
    -------
    list of ECGRecord
        In sheet order. A sheet that cannot be read raises, naming the sheet.
    """
    hints = _check_hints(hints, allowed=("fs", "units", "patient_id"))
    path = Path(path)
    fmt, target = sniff_format(path)
    if fmt not in ("xlsx", "xls"):
        raise ECGFormatError(f"{path} is {fmt}, not an Excel workbook; use read_ecg for a single ECG file.")
    return [_finalize(raw, target, hints, record_id=name) for name, raw in read_sheets(target, fmt=fmt)]


def write_ecg(record: ECGRecord, path: str | os.PathLike[str], *, format: str | None = None) -> Path:
    """Write ``record`` as xlsx, csv or WFDB, atomically; :func:`read_ecg` reads it back.

    Parameters
    ----------
    record : ECGRecord
        Signal in mV; written in mV.
    path : str or Path
        Target file. For WFDB give ``<dir>/<name>.hea`` or ``<dir>/<name>``; ``<name>.dat`` is written
        beside the header.
    format : {"xlsx", "csv", "wfdb"}, optional
        Default from the suffix: ``.xlsx``, ``.csv``, and ``.hea`` or no suffix for WFDB.

    Returns
    -------
    Path
        The file written (the ``.hea`` header for WFDB).

    Notes
    -----
    xlsx and csv store every sample as the shortest decimal that reads back as the same float32, so
    the round trip is exact. WFDB stores 16-bit integers with a per-lead gain chosen by ``wfdb``: the
    round trip is exact to ``1 / adc_gain`` mV (typically below 0.1 µV). NaN samples stay missing.
    """
    path = Path(path)
    fmt = _write_format(path, format)
    if fmt == "wfdb":
        return write_wfdb(record, path)
    if fmt == "csv":
        with _atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
            write_csv(record, handle)
        return path
    return write_ecg_workbook([record], path, sheet_names=[_default_sheet_name(record, 0)])


def write_ecg_workbook(
    records: Sequence[ECGRecord], path: str | os.PathLike[str], *, sheet_names: Sequence[str] | None = None
) -> Path:
    """Write several ECGs to one xlsx workbook, one sheet each (read back with :func:`read_ecg_workbook`).

    Parameters
    ----------
    records : sequence of ECGRecord
    path : str or Path
        ``.xlsx`` file, written atomically.
    sheet_names : sequence of str, optional
        Default: each record's ``record_id`` (or ``ecg<k>``). At most 31 characters, no ``[]:*?/\\``,
        unique. Sheet names become ``record_id`` on reading, so use pseudonymous ids, not names.
    """
    path = Path(path)
    if not records:
        raise InputError(f"No records given to write to {path}; give at least one ECGRecord.")
    names = (
        list(sheet_names)
        if sheet_names is not None
        else [_default_sheet_name(record, k) for k, record in enumerate(records)]
    )
    if len(names) != len(records):
        raise InputError(
            f"{len(records)} records but {len(names)} sheet names for {path}; give one per record."
        )
    bad = [name for name in names if not _SHEET_NAME.match(str(name))]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if bad or duplicated:
        raise InputError(
            f"Unusable sheet name(s) for {path}: "
            + ", ".join(
                [*(f"{name!r} (invalid)" for name in bad), *(f"{name!r} (duplicate)" for name in duplicated)]
            )
            + ". Sheet names must be unique, 1-31 characters, without []:*?/\\."
        )
    with _atomic_target(path) as tmp:
        write_xlsx(records, names, tmp)
    return path


# --- internals -----------------------------------------------------------------------------------
def _read_raw(fmt: str, target: Path, *, sheet: str | int | None) -> RawECG:
    if fmt == "wfdb":
        return read_wfdb(target)
    if fmt in ("xlsx", "xls"):
        return read_sheet(target, sheet, fmt=fmt)
    if fmt == "csv":
        return read_csv(target)
    from cardiopredict.ecg.io import _vendor

    return _vendor.read_vendor(fmt, target)


def _finalize(raw: RawECG, path: Path, hints: dict[str, Any], *, record_id: str) -> ECGRecord:
    """Apply hints, convert to mV and canonical leads, assess quality, build the record."""
    source = str(path) + (f" (sheet {raw.meta['sheet']!r})" if "sheet" in raw.meta else "")
    fs = _resolve_fs(raw.fs, hints.get("fs"), source=source)
    factors = _mv_factors(raw, hints.get("units"), source=source)
    signal = (raw.signal * factors[:, None]).astype(np.float32)
    signal, leads, derived = to_canonical_leads(signal, raw.lead_names, source=source)
    signal, quality, info = assess_quality(signal, fs, leads, source=source)
    meta: dict[str, Any] = {
        "format": raw.format,
        "source": str(path),
        "derived_leads": derived,
        "quality": quality,
        "units_in_file": sorted({unit for unit in raw.units if unit}),
        **raw.meta,
        **info,
    }
    return ECGRecord(
        signal=np.ascontiguousarray(signal),
        fs=fs,
        leads=leads,
        patient_id=None if hints.get("patient_id") is None else str(hints["patient_id"]),
        record_id=str(record_id),
        meta=meta,
    )


def _resolve_fs(file_fs: float | None, hint: Any, *, source: str) -> float:
    if hint is not None:
        try:
            hint_fs = float(hint)
        except (TypeError, ValueError):
            raise SamplingRateError(
                f"fs={hint!r} is not a number; give the sampling rate in Hz, e.g. fs=500."
            ) from None
        if file_fs is not None and abs(hint_fs - file_fs) > 0.005 * file_fs:
            raise SamplingRateError(
                f"fs={hint_fs:g} Hz was given but {source} states {file_fs:g} Hz. "
                "Drop the fs hint, or fix the file."
            )
        fs = hint_fs
    elif file_fs is None:
        raise SamplingRateError(
            f"{source} does not state its sampling rate. Pass fs=<Hz> to read_ecg, add a 'sampling_rate_hz' "
            "header cell or a sidecar JSON (see docs/DATA_FORMATS.md)."
        )
    else:
        fs = file_fs
    if not np.isfinite(fs) or fs < MIN_SAMPLING_RATE_HZ:
        raise SamplingRateError(
            f"Sampling rate {fs:g} Hz of {source} is below {MIN_SAMPLING_RATE_HZ:g} Hz; QRS analysis needs "
            ">= 100 Hz (250 Hz or more recommended). Check the fs hint or the file header, or re-export "
            "at a higher rate."
        )
    return fs


def _mv_factors(raw: RawECG, hint: Any, *, source: str) -> np.ndarray:
    hint_factor = None if hint is None else mv_factor(hint, source=f"the units hint for {source}")
    factors = []
    for name, unit in zip(raw.lead_names, raw.units, strict=True):
        if unit is None:
            if hint_factor is None:
                raise UnitError(
                    f"{source} does not state the signal unit of lead {name}. Pass units='mV' (or 'uV', 'V') "
                    "to read_ecg, or add a 'units' header cell (see docs/DATA_FORMATS.md)."
                )
            factors.append(hint_factor)
            continue
        factor = mv_factor(unit, source=source, lead=name)
        if hint_factor is not None and factor != hint_factor:
            raise UnitError(
                f"units={hint!r} was given but {source} states {unit!r} for lead {name}. "
                "Drop the units hint, or fix the file."
            )
        factors.append(factor)
    return np.asarray(factors, dtype=np.float64)


def _check_hints(hints: dict[str, Any], *, allowed: Sequence[str]) -> dict[str, Any]:
    """Refuse misspelt hints (they would be silently ignored); drop hints given as None."""
    unknown = sorted(set(hints) - set(allowed))
    if unknown:
        raise InputError(
            f"Unknown option(s) {', '.join(unknown)}; this function accepts {', '.join(allowed)}."
        )
    return {key: value for key, value in hints.items() if value is not None}


def _write_format(path: Path, format: str | None) -> str:
    if format is None:
        fmt = WRITE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise InputError(
                f"Cannot tell the output format of {path} from its suffix; use .xlsx, .csv, .hea, or pass "
                "format='xlsx' | 'csv' | 'wfdb'."
            )
        return fmt
    if format not in WRITE_FORMATS.values():
        raise InputError(f"format={format!r} is not writable; choose 'xlsx', 'csv' or 'wfdb'.")
    return format


def _default_sheet_name(record: ECGRecord, index: int) -> str:
    name = str(record.record_id or "")
    return name if _SHEET_NAME.match(name) else f"ecg{index + 1}"


class _atomic_target:  # noqa: N801 - used as a context manager like open()
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        os.close(handle)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            publish(self.tmp, self.path)
        else:
            self.tmp.unlink(missing_ok=True)
