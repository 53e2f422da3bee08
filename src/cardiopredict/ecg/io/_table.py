"""Spreadsheet layouts (xlsx, xls, csv): one column per lead, one row per sample.

Layout (documented in ``docs/DATA_FORMATS.md``)::

    sampling_rate_hz | 500            <- optional key/value rows ("header cells")
    units            | mV
    I | II | III | aVR | ... | V6      <- lead-name row (aliases accepted, optional "(uV)" per column)
    0.012 | 0.034 | ...                <- one row per sample; an empty cell is a missing sample (NaN)

The sampling rate comes from a ``fs`` hint, a header cell, a sidecar JSON (``<file>.json`` or
``<file minus suffix>.json``) or a ``time_s`` / ``time_ms`` column; when several are present they must agree.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import python_calamine

from cardiopredict.ecg.io._raw import RawECG, mv_factor, parse_fs
from cardiopredict.ecg.io._xlsx import column_letters
from cardiopredict.ecg.leads import canonical_lead_name
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import (
    CorruptFileError,
    ECGFormatError,
    EmptyDataError,
    InputError,
    SamplingRateError,
    SignalQualityError,
    UnitError,
    UnknownLeadError,
)

_MAX_HEADER_ROWS = 50
_FS_KEYS = {
    "fs",
    "fshz",
    "samplingrate",
    "samplingratehz",
    "samplingfrequency",
    "samplingfrequencyhz",
    "samplerate",
    "sampleratehz",
    "frequency",
    "frequencyhz",
}
_UNIT_KEYS = {"units", "unit", "amplitudeunit", "amplitudeunits", "signalunit", "signalunits"}
_UNIT_IN_LABEL = re.compile(r"^(?P<name>.*?)[\s_]*[\(\[]\s*(?P<unit>[^\)\]]+?)\s*[\)\]]\s*$")
_TIME_LABEL = re.compile(
    r"^(?:t|time|times|timestamp)(?:[\s_]*[\(\[]?\s*(?P<unit>s|sec|secs|seconds|ms|msec|milliseconds)\s*[\)\]]?)?$",
    re.IGNORECASE,
)
_INDEX_LABEL = re.compile(
    r"^(?:#|n|idx|index|sample|samples|sample[\s_]*(?:no|number|index))$", re.IGNORECASE
)
_WORDS = re.compile(r"[^\W\d_]{3,}")  # three letters in a row
_KEY_VALUE = re.compile(r"^\s*(?P<key>[^:=]+?)\s*[:=]\s*(?P<value>.+?)\s*$")
Body = Sequence[Sequence[Any]] | np.ndarray
"""The rows below the lead names: cells, or a float64 block (NaN = empty cell) the C reader parsed."""


# --- reading ------------------------------------------------------------------------------------
def read_csv(path: Path) -> RawECG:
    """Read a delimited text file (``,``, ``;`` or tab) in the layout above."""
    raw_bytes = path.read_bytes()
    try:
        utf16 = raw_bytes.startswith((b"\xff\xfe", b"\xfe\xff"))
        text = raw_bytes.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError:
        text = raw_bytes.decode("latin-1")
    if not text.strip():
        raise EmptyDataError(f"CSV file {path} holds no data. Re-export the ECG.")
    first_lines = _first_lines(text, _MAX_HEADER_ROWS)
    delimiter = _guess_delimiter(first_lines, source=str(path))
    decimal_comma = delimiter != ","
    head = list(csv.reader(first_lines, delimiter=delimiter))
    header_index = _find_header_row(head)
    block = None
    if header_index is not None:
        block = _fast_body(text, header_index, len(head[header_index]), delimiter)
    options = dict(address=_csv_address, decimal_comma=decimal_comma, sidecar=_read_sidecar(path), fmt="csv")
    if block is not None and header_index is not None:
        return parse_rows(head[: header_index + 1], body=block, source=str(path), **options)
    # slow path: every cell parsed in Python, so bad cells can be named
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    return parse_rows(rows, source=str(path), **options)


def _first_lines(text: str, n: int) -> list[str]:
    """``text.splitlines()[:n]`` without splitting the whole (often megabyte) text."""
    size = 4096
    while True:
        lines = text[:size].splitlines()
        if len(lines) > n or size >= len(text):  # line n complete: another one started after it
            return lines[:n]
        size *= 4


def _fast_body(text: str, header_index: int, n_columns: int, delimiter: str) -> np.ndarray | None:
    """Rows below the lead names parsed by pandas' C reader, float64 (n_rows, n_columns), NaN = empty
    cell; None if a cell is not a number or a row is wider than the lead-name row."""
    import pandas as pd

    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            skiprows=header_index + 1,
            dtype=np.float64,
            decimal="," if delimiter != "," else ".",
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,  # a blank line is a missing sample in every lead, not nothing
            engine="c",
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if frame.shape[1] != n_columns:  # a row wider than the lead names: the slow path names the cell
        return None
    return frame.to_numpy(dtype=np.float64)


def read_sheet(path: Path, sheet: str | int | None, *, fmt: str) -> RawECG:
    """Read one sheet of an xlsx/xls workbook.

    Parameters
    ----------
    sheet : str, int or None
        Sheet name or 0-based index; None reads the only sheet and refuses a workbook with several.
    """
    workbook = _open_workbook(path)
    names = list(workbook.sheet_names)
    name = _pick_sheet(names, sheet, source=str(path))
    return _read_open_sheet(workbook, path, name, fmt=fmt)


def read_sheets(path: Path, *, fmt: str) -> list[tuple[str, RawECG]]:
    """Read every sheet of a workbook (one ECG per sheet), opening the file once."""
    workbook = _open_workbook(path)
    names = list(workbook.sheet_names)
    if not names:
        raise EmptyDataError(f"Workbook {path} has no sheets. Re-export it with one sheet per ECG.")
    return [(name, _read_open_sheet(workbook, path, name, fmt=fmt)) for name in names]


def _read_open_sheet(workbook: Any, path: Path, name: str, *, fmt: str) -> RawECG:
    try:
        rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except python_calamine.CalamineError as error:
        raise CorruptFileError(
            f"Sheet {name!r} of workbook {path} cannot be read ({type(error).__name__}: {error}). "
            "The file is damaged; re-export it."
        ) from None
    raw = parse_rows(
        rows,
        source=f"sheet {name!r} of {path}",
        address=_excel_address,
        decimal_comma=False,
        sidecar=_read_sidecar(path),
        fmt=fmt,
    )
    raw.meta["sheet"] = name
    return raw


def _open_workbook(path: Path) -> Any:
    try:
        return python_calamine.CalamineWorkbook.from_path(str(path))
    except python_calamine.PasswordError:
        raise ECGFormatError(f"Workbook {path} is password-protected. Save an unprotected copy.") from None
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise CorruptFileError(
            f"Workbook {path} cannot be opened ({type(error).__name__}: {error}). "
            "It is damaged or truncated; re-export it from the source system."
        ) from None


def _pick_sheet(names: list[str], sheet: str | int | None, *, source: str) -> str:
    if not names:
        raise EmptyDataError(f"Workbook {source} has no sheets. Re-export it.")
    if sheet is None:
        if len(names) > 1:
            raise ECGFormatError(
                f"Workbook {source} has {len(names)} sheets ({_quoted(names)}); pass sheet=<name or index> "
                "to read_ecg, or read every sheet with read_ecg_workbook."
            )
        return names[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if not -len(names) <= sheet < len(names):
            raise InputError(
                f"Sheet index {sheet} is out of range for workbook {source} with {len(names)} sheet(s)."
            )
        return names[sheet]
    if sheet not in names:
        raise InputError(f"Workbook {source} has no sheet {sheet!r}; its sheets are {_quoted(names)}.")
    return str(sheet)


def _quoted(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def parse_rows(
    rows: Sequence[Sequence[Any]],
    *,
    source: str,
    address: Any,
    decimal_comma: bool,
    sidecar: dict[str, Any],
    fmt: str,
    body: np.ndarray | None = None,
) -> RawECG:
    """Turn spreadsheet rows (cells: str, float, int, bool, None) into a :class:`RawECG`.

    ``address(row_index, column_index)`` formats a 0-based cell position for messages. ``body``, when
    given, is the block below the lead names already parsed as numbers, float64 (n_rows, n_columns) with
    NaN for an empty cell (the CSV reader's fast path); ``rows`` then end at the lead-name row. It gives
    the same record as those rows of cells would, without a Python object per cell.
    """
    if not any(_cell_text(cell) for row in rows for cell in row):
        raise EmptyDataError(
            f"{source[0].upper()}{source[1:]} is empty. Delete the empty sheet or fill it "
            "(layout in docs/DATA_FORMATS.md)."
        )
    header_index = _find_header_row(rows)
    if header_index is None:
        raise ECGFormatError(
            f"No lead-name row (I, II, ..., V6) found in the first {_MAX_HEADER_ROWS} rows of {source}. "
            "Put one column per lead with the lead name in a header row (layout in docs/DATA_FORMATS.md)."
        )
    header_meta = _key_values(rows[:header_index])
    header = [_cell_text(cell) for cell in rows[header_index]]
    if body is None:
        body = rows[header_index + 1 :]
        width = max((len(row) for row in body), default=0)
    else:
        width = body.shape[1]
    header += [""] * (width - len(header))  # a value right of the last name is refused below, not dropped

    lead_columns, lead_names, lead_units, time_column = _classify_columns(
        header, body, source=source, address=address, header_index=header_index
    )
    values = _numeric_block(body, lead_columns, lead_names, source, address, header_index, decimal_comma)
    time_values = None
    if time_column is not None:
        time_values = _numeric_block(
            body, [time_column[0]], ["time"], source, address, header_index, decimal_comma
        )
        time_values = time_values[:, : values.shape[1]] * time_column[1]
    if values.shape[1] == 0:
        raise EmptyDataError(
            f"{source[0].upper()}{source[1:]} has a lead-name row but no samples below it. "
            "Export the waveform values, one row per sample."
        )

    fs, fs_origin = _resolve_fs(header_meta, sidecar, time_values, source=source)
    file_unit = _resolve_unit(header_meta, sidecar, source=source)
    units = [unit or file_unit for unit in lead_units]
    meta: dict[str, Any] = {"fs_origin": fs_origin} if fs_origin else {}
    return RawECG(signal=values, lead_names=lead_names, fs=fs, units=units, format=fmt, meta=meta)


def _classify_columns(
    header: list[str], body: Body, *, source: str, address: Any, header_index: int
) -> tuple[list[int], list[str], list[str | None], tuple[int, float] | None]:
    """Lead columns (index, name as written, unit in the label), and the time column (index, s per unit).

    An unnamed column holding values (other than a row index) and a label that is no lead are refused.
    """
    lead_columns: list[int] = []
    lead_names: list[str] = []
    lead_units: list[str | None] = []
    time_column: tuple[int, float] | None = None  # (column, seconds per unit)
    for column, label in enumerate(header):
        if not label:
            if _holds_values(body, column) and not _is_row_index(body, column):
                raise ECGFormatError(
                    f"Column {address(header_index, column)} of {source} holds values but has no lead name. "
                    "Name the column (e.g. V1) or delete it."
                )
            continue
        time_match = _TIME_LABEL.match(label)
        if time_match:
            unit = (time_match.group("unit") or "s").lower()
            time_column = (column, 1e-3 if unit.startswith("m") else 1.0)
            continue
        if _INDEX_LABEL.match(label):
            continue
        name, unit = _split_unit(label)
        try:
            canonical_lead_name(name, source=source)
        except UnknownLeadError as error:
            raise UnknownLeadError(
                f"Column {address(header_index, column)} of {source} is named {label!r}, which is not a lead "
                "name (expected I, II, III, aVR, aVL, aVF, V1-V6 or an alias) nor a time/sample column. "
                "Rename or delete that column."
            ) from error
        lead_columns.append(column)
        lead_names.append(name)
        lead_units.append(unit)
    return lead_columns, lead_names, lead_units, time_column


def _holds_values(body: Body, column: int) -> bool:
    if isinstance(body, np.ndarray):
        return bool((~np.isnan(body[:, column])).any())
    return any(_cell_text(row[column]) for row in body if column < len(row))


def _is_row_index(body: Body, column: int) -> bool:
    """An unnamed column counting 0, 1, 2, ... or 1, 2, 3, ... (pandas' ``to_excel`` index) is not data."""
    if isinstance(body, np.ndarray):
        values: Any = body[:, column][~np.isnan(body[:, column])]
    else:
        values = [_to_float(_get(row, column), decimal_comma=False) for row in body]
        values = [value for value in values if value is not None and not math.isnan(value)]
    if len(values) < 2:
        return False
    steps = np.diff(values)
    return values[0] in (0.0, 1.0) and bool(np.all(steps == 1.0))


def _find_header_row(rows: Sequence[Sequence[Any]]) -> int | None:
    for index, row in enumerate(rows[:_MAX_HEADER_ROWS]):
        n_leads = 0
        for cell in row:
            text = _cell_text(cell)
            if not text or _to_float(cell, decimal_comma=True) is not None:  # "1", "2" are not lead names
                continue
            try:
                canonical_lead_name(_split_unit(text)[0])
            except UnknownLeadError:
                continue
            n_leads += 1
        if n_leads >= 2:
            return index
    return None


def _key_values(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """Key/value pairs from the rows above the lead names: ``key | value`` or ``key: value`` cells.

    Only keys cardiopredict understands are kept, so names and other identifiers that exports put in
    their header block never leave this function.
    """
    found: dict[str, Any] = {}
    for row in rows:
        cells = [cell for cell in row if _cell_text(cell)]
        if not cells:
            continue
        if len(cells) >= 2:
            pairs = [(_cell_text(cells[0]), cells[1])]
        else:
            match = _KEY_VALUE.match(_cell_text(cells[0]))
            pairs = [(match.group("key"), match.group("value"))] if match else []
        for key, value in pairs:
            norm = re.sub(r"[^a-z]", "", key.lower())
            if norm in _FS_KEYS:
                found["fs"] = value
            elif norm in _UNIT_KEYS:
                found["units"] = value
    return found


def _split_unit(label: str) -> tuple[str, str | None]:
    """``"V1 (uV)"`` -> ``("V1", "uV")``; a parenthesis that is not a unit stays part of the name."""
    match = _UNIT_IN_LABEL.match(label)
    if match:
        try:
            mv_factor(match.group("unit"), source="")
        except UnitError:
            return label, None
        return match.group("name").strip(), match.group("unit").strip()
    return label, None


def _numeric_block(
    body: Body,
    columns: list[int],
    names: list[str],
    source: str,
    address: Any,
    header_index: int,
    decimal_comma: bool,
) -> np.ndarray:
    """Values of ``columns`` as float64 (n_columns, n_rows); empty cell = NaN; trailing empty rows dropped."""
    if isinstance(body, np.ndarray):  # already numbers: only the trailing empty rows to drop
        present = np.flatnonzero(~np.isnan(body[:, columns]).all(axis=1))
        n_rows = int(present[-1]) + 1 if len(present) else 0
        return np.ascontiguousarray(body[:n_rows, columns].T)
    n_rows = len(body)
    while n_rows and not any(_cell_text(_get(body[n_rows - 1], column)) for column in columns):
        n_rows -= 1
    width = max(columns, default=-1) + 1
    try:  # fast path: a rectangular block of numbers (NaN = empty) converts in one call
        block = np.array([row[:width] for row in body[:n_rows]], dtype=np.float64)
        if block.shape == (n_rows, width):
            return np.ascontiguousarray(block[:, columns].T)
    except (ValueError, TypeError):
        pass
    out = np.full((len(columns), n_rows), np.nan)
    bad: list[str] = []
    for j, column in enumerate(columns):
        cells = [_get(body[i], column) for i in range(n_rows)]
        if all(isinstance(cell, float) for cell in cells):
            out[j] = cells
            continue
        for i, cell in enumerate(cells):
            value = _to_float(cell, decimal_comma)
            if value is None:
                if len(bad) < 5:
                    bad.append(f"{address(header_index + 1 + i, column)} (lead {names[j]}) = {_shown(cell)}")
                else:
                    bad.append("")
                continue
            out[j, i] = value
    if bad:
        shown = [item for item in bad if item]
        more = f" and {len(bad) - len(shown)} more" if len(bad) > len(shown) else ""
        raise SignalQualityError(
            f"Non-numeric cell(s) in {source}: {'; '.join(shown)}{more}. "
            "Every cell below the lead names must be a number (empty = missing sample). "
            "Fix or delete those cells."
        )
    return out


def _shown(cell: Any) -> str:
    """A bad cell for an error message; words are withheld, since a stray footer may hold a name."""
    text = str(cell)
    if _WORDS.search(text):
        return f"<text of {len(text)} characters>"
    return repr(text[:20])


def _get(row: Sequence[Any], column: int) -> Any:
    return row[column] if column < len(row) else None


def _to_float(cell: Any, decimal_comma: bool) -> float | None:
    if cell is None:
        return math.nan
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return float(cell)
    text = str(cell).strip()
    if not text:
        return math.nan
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _cell_text(cell: Any) -> str:
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _resolve_fs(
    header: dict[str, Any], sidecar: dict[str, Any], time_values: np.ndarray | None, *, source: str
) -> tuple[float | None, str | None]:
    candidates: list[tuple[str, float]] = []
    if "fs" in header:
        candidates.append(("header cell", parse_fs(header["fs"], source=source, origin="header cell")))
    if "fs" in sidecar:
        candidates.append(("sidecar JSON", parse_fs(sidecar["fs"], source=source, origin="sidecar JSON")))
    if time_values is not None:
        fs_time = _fs_from_time(time_values[0], source=source)
        if fs_time is not None:
            candidates.append(("time column", fs_time))
    if not candidates:
        return None, None
    origin, fs = candidates[0]
    for other_origin, other in candidates[1:]:
        if abs(other - fs) > 0.005 * fs:
            raise SamplingRateError(
                f"Sampling rates disagree in {source}: {origin} says {fs:g} Hz, {other_origin} says "
                f"{other:g} Hz. Correct one of them, or remove it."
            )
    return fs, origin


def _fs_from_time(times: np.ndarray, *, source: str) -> float | None:
    finite = times[np.isfinite(times)]
    if finite.size < 3:
        return None
    steps = np.diff(finite)
    step = float(np.median(steps))
    if step <= 0 or np.max(np.abs(steps - step)) > 0.01 * step:
        raise SamplingRateError(
            f"The time column of {source} is not evenly spaced (median step {step:g} s); cardiopredict needs "
            "a constant sampling rate. Resample the export, or drop the time column and pass fs=<Hz>."
        )
    return 1.0 / step


def _resolve_unit(header: dict[str, Any], sidecar: dict[str, Any], *, source: str) -> str | None:
    stated = [
        (origin, str(d["units"]).strip())
        for origin, d in (("header cell", header), ("sidecar", sidecar))
        if "units" in d
    ]
    if not stated:
        return None
    factors = {origin: mv_factor(unit, source=source) for origin, unit in stated}
    if len(set(factors.values())) > 1:
        raise UnitError(
            f"Units disagree in {source}: "
            + ", ".join(f"{origin} says {unit!r}" for origin, unit in stated)
            + ". Correct one of them."
        )
    return stated[0][1]


def _read_sidecar(path: Path) -> dict[str, Any]:
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.is_file() and candidate != path:
            try:
                content = json.loads(candidate.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise CorruptFileError(
                    f"Sidecar {candidate} of {path} is not valid JSON ({error}). "
                    'Fix it, e.g. {"sampling_rate_hz": 500, "units": "mV"}.'
                ) from None
            if not isinstance(content, dict):
                raise CorruptFileError(
                    f'Sidecar {candidate} must hold a JSON object such as {{"sampling_rate_hz": 500}}.'
                )
            return _key_values([[key, value] for key, value in content.items()])
    return {}


def _guess_delimiter(lines: list[str], *, source: str) -> str:
    """The delimiter that makes the widest lead-name row of the first ``lines``."""
    best, best_count = ",", 0
    for delimiter in (",", ";", "\t"):
        rows = list(csv.reader(lines, delimiter=delimiter))
        index = _find_header_row(rows)
        if index is not None:
            count = sum(1 for cell in rows[index] if cell.strip())
            if count > best_count:
                best, best_count = delimiter, count
    return best


def _excel_address(row: int, column: int) -> str:
    return f"cell {column_letters(column)}{row + 1}"


def _csv_address(row: int, column: int) -> str:
    return f"line {row + 1} column {column + 1}"


# --- writing ------------------------------------------------------------------------------------
def write_csv(record: ECGRecord, handle: Any) -> None:
    """Write ``record`` as CSV text to an open text handle (layout above, values in mV)."""
    strings = record.signal.T.astype(str)
    strings[strings == "nan"] = ""
    handle.write(f"sampling_rate_hz,{record.fs!r}\nunits,mV\n")
    handle.write(",".join(record.leads) + "\n")
    handle.write("\n".join(",".join(row) for row in strings.tolist()))
    handle.write("\n")
