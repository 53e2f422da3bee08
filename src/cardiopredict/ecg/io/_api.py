"""Public entry points: read_ecg, read_ecg_workbook, write_ecg, write_ecg_workbook."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict._io import atomic_target
from cardiopredict.ecg.io._quality import assess_quality, mask_invalid
from cardiopredict.ecg.io._raw import RawECG, mv_factor
from cardiopredict.ecg.io._sniff import sniff_format
from cardiopredict.ecg.io._table import read_csv, read_sheet, read_sheets, write_csv
from cardiopredict.ecg.io._wfdb import read_wfdb, write_wfdb
from cardiopredict.ecg.io._xlsx import write_xlsx_sheets
from cardiopredict.ecg.leads import canonical_lead_name, to_canonical_leads
from cardiopredict.ecg.record import MIN_SAMPLING_RATE_HZ, ECGRecord
from cardiopredict.errors import (
    CardioPredictError,
    CorruptFileError,
    ECGFormatError,
    InputError,
    SamplingRateError,
    UnitError,
)

WRITE_FORMATS = {".xlsx": "xlsx", ".csv": "csv", ".hea": "wfdb", "": "wfdb"}
_SHEET_NAME = re.compile(r"^[^\[\]:*?/\\]{1,31}$")


def read_ecg(
    path: str | os.PathLike[str],
    *,
    fs: float | None = None,
    units: str | None = None,
    sheet: str | int | None = None,
    patient_id: str | None = None,
    record_id: str | None = None,
) -> ECGRecord:
    """Read a 12-lead ECG file of any supported format into an :class:`ECGRecord`.

    The format is detected from the content: WFDB (``.hea`` + ``.dat``/``.mat``), Excel (xlsx/xls) and
    CSV in the clinical-export layout (``docs/DATA_FORMATS.md``), DICOM 12-lead waveform, GE MUSE XML,
    Philips XML, HL7 aECG and SCP-ECG. Whatever goes wrong, the error is a
    :class:`~cardiopredict.errors.CardioPredictError` naming the file (``docs/RELIABILITY.md``).

    Parameters
    ----------
    path : str or Path
        The file. A WFDB record may be named by its header, its signal file or without suffix.
    fs : float, optional
        Sampling rate in Hz, for files that do not state it (must agree with the file when it does).
        Never assumed: a file without a rate and no ``fs`` raises :class:`SamplingRateError`.
    units : {"mV", "uV", "V"}, optional
        Signal unit, for files that do not state it (must agree with the file when it does).
    sheet : str or int, optional
        Workbook sheet (name or 0-based index) when a workbook holds several; workbooks only.
    patient_id, record_id : str, optional
        Identifiers stored on the record. ``record_id`` defaults to the file name without suffix;
        identifiers found inside the file are never used.

    Returns
    -------
    ECGRecord
        ``signal`` of shape (12, n_samples), float32, mV, canonical lead order, finite or NaN (±inf and
        samples beyond ±1 V become NaN and are flagged); ``meta`` holds ``format``, ``source``,
        ``derived_leads``, ``quality`` (lead -> flags from :data:`QUALITY_FLAGS`), and, when the rate
        looks wrong for the signal, ``record_flags`` (``["fs_implausible"]``) and ``warnings``.

    Raises
    ------
    ECGFormatError, CorruptFileError, EmptyDataError, LeadError, MissingLeadError, UnknownLeadError,
    SamplingRateError, UnitError, SignalQualityError
        Each names the file (and lead/cell where relevant) and says what to do.

    Examples
    --------
    >>> record = read_ecg("ludb/data/1.hea")  # doctest: +SKIP
    >>> record.signal.shape, record.fs  # doctest: +SKIP
    ((12, 5000), 500.0)
    """
    path = Path(path)
    with _named_failures(path, "ECG"):
        fmt, target = sniff_format(path)
    if sheet is not None and fmt not in ("xlsx", "xls"):
        raise InputError(f"sheet={sheet!r} was given but {path} is {fmt}, not a workbook. Drop it.")
    with _named_failures(target, fmt):
        raw = _read_raw(fmt, target, sheet=sheet)
        default_id = target.name.removesuffix(target.suffix) if target.suffix else target.name
        return _finalize(
            raw, target, fs=fs, units=units, patient_id=patient_id, record_id=record_id or default_id
        )


def read_ecg_workbook(
    path: str | os.PathLike[str],
    *,
    fs: float | None = None,
    units: str | None = None,
    patient_id: str | None = None,
) -> list[ECGRecord]:
    """Read a workbook holding one ECG per sheet; ``record_id`` of each record is its sheet name.

    Parameters
    ----------
    path : str or Path
        xlsx or xls workbook; every sheet in the layout of ``docs/DATA_FORMATS.md``.
    fs : float, optional
        Sampling rate in Hz for sheets that do not state it (as for :func:`read_ecg`).
    units : {"mV", "uV", "V"}, optional
        Signal unit for sheets that do not state it.
    patient_id : str, optional
        Stored on every record.

    Returns
    -------
    list of ECGRecord
        In sheet order. A sheet that cannot be read raises, naming the sheet.
    """
    path = Path(path)
    with _named_failures(path, "ECG"):
        fmt, target = sniff_format(path)
    if fmt not in ("xlsx", "xls"):
        raise ECGFormatError(f"{path} is {fmt}, not an Excel workbook; use read_ecg for a single ECG file.")
    with _named_failures(target, fmt):
        return [
            _finalize(raw, target, fs=fs, units=units, patient_id=patient_id, record_id=name)
            for name, raw in read_sheets(target, fmt=fmt)
        ]


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
        with atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
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
    return write_xlsx_sheets(records, names, path, decimals=None)


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


@contextlib.contextmanager
def _named_failures(path: Path, fmt: str) -> Iterator[None]:
    """Turn any failure that is not already a :class:`CardioPredictError` into one naming the file.

    The readers name the expected failures precisely; this is the net under them, so that no bad file
    ever surfaces as a bare ``ValueError``/``struct.error``/``MemoryError`` from a parsing library.
    """
    try:
        yield
    except CardioPredictError:
        raise
    except Exception as error:  # the reader's last line of defence (MemoryError included)
        detail = " ".join(str(error).split())[:200]  # one line, shortened
        raise CorruptFileError(
            f"{fmt} file {path} cannot be read ({type(error).__name__}: {detail}). It is damaged, "
            "truncated or a variant cardiopredict does not handle; re-export it (docs/DATA_FORMATS.md)."
        ) from None


def _finalize(
    raw: RawECG,
    path: Path,
    *,
    fs: float | None,
    units: str | None,
    patient_id: str | None,
    record_id: str,
) -> ECGRecord:
    """Apply fs/units, convert to mV and canonical leads, mask unusable samples, assess quality."""
    source = str(path) + (f" (sheet {raw.meta['sheet']!r})" if "sheet" in raw.meta else "")
    rate = _resolve_fs(raw.fs, fs, source=source)
    factors = _mv_factors(raw, units, source=source)
    values, non_finite, huge = mask_invalid(raw.signal * factors[:, None])
    signal, leads, derived = to_canonical_leads(values, raw.lead_names, source=source)
    masked = _masked_flags(raw.lead_names, non_finite, huge, derived)
    signal, quality, info = assess_quality(signal, rate, leads, source=source, masked=masked)
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
        fs=rate,
        leads=leads,
        patient_id=None if patient_id is None else str(patient_id),
        record_id=str(record_id),
        meta=meta,
    )


def _masked_flags(
    names: Sequence[str], non_finite: np.ndarray, huge: np.ndarray, derived: tuple[str, ...]
) -> dict[str, list[str]]:
    """Canonical lead -> ``non_finite``/``huge`` flags; a lead derived from I and II inherits theirs."""
    flags: dict[str, list[str]] = {}
    for name, inf_row, huge_row in zip(names, non_finite, huge, strict=True):
        found = [flag for flag, hit in (("non_finite", inf_row), ("huge", huge_row)) if hit]
        if found:
            flags[canonical_lead_name(name)] = found
    inherited = sorted(set(flags.get("I", [])) | set(flags.get("II", [])))
    for lead in derived:
        if inherited:
            flags[lead] = inherited
    return flags


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
