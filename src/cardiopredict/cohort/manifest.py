"""Read and validate a cohort manifest: one row per patient, label, input files, covariates.

A manifest is a CSV (``,``, ``;`` or tab separated) or an Excel workbook (first sheet) with a header
row. Columns:

``patient_id``
    The cohort's own pseudonymous identifier; unique; read as text (leading zeros are kept).
label column (e.g. ``response``, ``diagnosis``)
    Must hold one of ``label_values`` when they are given.
file columns (e.g. ``ecg_pre``, ``ecg_post``, ``ecg``)
    Paths relative to the manifest's folder (absolute paths are kept); resolved to absolute paths.
covariates (all optional; an empty cell is "unknown")
    ``qrs_duration_ms`` (40-300), ``lbbb`` (0/1, yes/no, true/false), ``lvef`` (%, 5-80), ``sex`` (M/F),
    ``age`` (years, 0-120). Other columns are kept as read.

Every problem of every row is collected and raised together in one :class:`ManifestError`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cardiopredict.errors import CardioPredictError, DuplicatePatientError, ManifestError

PATIENT_ID = "patient_id"
COVARIATE_RANGES: dict[str, tuple[float, float, str]] = {
    "qrs_duration_ms": (40.0, 300.0, "ms"),
    "lvef": (5.0, 80.0, "%"),
    "age": (0.0, 120.0, "years"),
}
"""Plausible range and unit of each numeric covariate; values outside are reported as errors."""
SEX_VALUES = ("M", "F")
_LBBB_TRUE = {"1", "1.0", "true", "yes", "y"}
_LBBB_FALSE = {"0", "0.0", "false", "no", "n"}


@dataclass(frozen=True)
class Manifest:
    """A validated cohort table.

    Parameters
    ----------
    path : Path
        The manifest file.
    table : pandas.DataFrame
        One row per patient in file order. ``patient_id`` as str; the label column as int when every
        label is an integer, else str; file columns as absolute path strings (NaN where an optional file
        is absent); ``qrs_duration_ms``, ``lvef``, ``age`` as float (NaN = unknown); ``lbbb`` as float
        0.0/1.0 (NaN = unknown); ``sex`` as "M"/"F" (NaN = unknown); other columns as read.
    label_column : str or None
        None when the manifest was read without labels (e.g. to score new patients).
    file_columns : tuple of str
        Required then optional file columns.
    """

    path: Path
    table: pd.DataFrame
    label_column: str | None
    file_columns: tuple[str, ...]

    @property
    def patient_ids(self) -> list[str]:
        """The cohort's patient identifiers, in file order."""
        return self.table[PATIENT_ID].tolist()


def read_manifest(
    path: str | os.PathLike[str],
    *,
    label_column: str | None,
    label_values: Collection[Any] | None = None,
    file_columns: Sequence[str] = (),
    optional_file_columns: Sequence[str] = (),
    check_files: bool = True,
) -> Manifest:
    """Read a cohort manifest and validate every row.

    Parameters
    ----------
    path : str or Path
        CSV or XLSX file.
    label_column : str or None
        Column holding the outcome; None when there is none (scoring new patients).
    label_values : collection, optional
        Allowed labels, e.g. ``(0, 1)`` or ``("GEN", "MYO", "SARC")`` (text compared case-insensitively
        and stored in the spelling given here).
    file_columns : sequence of str
        Columns that must name an input file in every row.
    optional_file_columns : sequence of str
        Columns whose file may be absent (empty cell -> NaN). A missing column is treated as all empty.
    check_files : bool
        Check that every named file exists and can be opened.

    Returns
    -------
    Manifest

    Raises
    ------
    ManifestError
        Listing every problem: row number (as in the file, header = row 1), patient_id, field, value
        and fix. :class:`DuplicatePatientError` when some patient_id is repeated.
    """
    path = Path(path)
    with _named_failures(path):
        rows = _read_rows(path)
    header, body = _split_header(rows, path)
    _require_columns(header, [PATIENT_ID, *([label_column] if label_column else []), *file_columns], path)
    table = pd.DataFrame(body, columns=header, dtype=object)
    line_numbers = [number for number, _ in _numbered(rows)][1:]
    problems: list[str] = []
    ids, duplicates = _patient_ids(table[PATIENT_ID], line_numbers, problems)
    table[PATIENT_ID] = ids

    def report(i: int, field: str, value: Any, why: str) -> None:
        problems.append(
            f"row {line_numbers[i]}, patient_id {ids[i]!r}, field {field!r}, value {value!r}: {why}"
        )

    if label_column:
        table[label_column] = _labels(table[label_column], label_values, label_column, report)
    for column, optional in [
        *((c, False) for c in file_columns),
        *((c, True) for c in optional_file_columns),
    ]:
        if column not in table:
            table[column] = np.nan
            continue
        table[column] = _files(table[column], path.parent, column, optional, check_files, report)
    _convert_covariates(table, report)
    special = {PATIENT_ID, label_column, *file_columns, *optional_file_columns}
    _convert_other_columns(table, special)

    if problems:
        kind = DuplicatePatientError if duplicates else ManifestError
        raise kind(
            f"Manifest {path} has {len(problems)} problem(s) (rows numbered as in the file, header = row 1). "
            "Fix them all and read it again:",
            problems,
        )
    return Manifest(
        path=path,
        table=table.reset_index(drop=True),
        label_column=label_column,
        file_columns=(*file_columns, *optional_file_columns),
    )


def _require_columns(header: list[str], required: list[str], path: Path) -> None:
    """Raise a ManifestError naming every required column the header lacks."""
    missing = [column for column in required if column not in header]
    if missing:
        raise ManifestError(
            f"Manifest {path} lacks the column(s) {', '.join(missing)}; it has {', '.join(header)}. "
            "Add them (header row = row 1; column names are case-sensitive)."
        )


def _patient_ids(column: pd.Series, line_numbers: list[int], problems: list[str]) -> tuple[list[str], bool]:
    """Stripped patient ids, reporting empty and repeated ones; also whether any id is repeated."""
    ids = [str(value).strip() for value in column]
    duplicates = False
    seen: dict[str, int] = {}
    for i, pid in enumerate(ids):
        where = f"row {line_numbers[i]}"
        if not pid:
            problems.append(f"{where}: patient_id is empty; give every row a unique patient_id.")
        elif pid in seen:
            duplicates = True
            problems.append(
                f"{where}, patient_id {pid!r}: duplicate of row {seen[pid]}; keep one row per patient "
                "(several ECGs of a patient go in separate file columns)."
            )
        else:
            seen[pid] = line_numbers[i]
    return ids, duplicates


def _convert_covariates(table: pd.DataFrame, report: Any) -> None:
    """Parse and range-check the known covariate columns present in ``table``, in place."""
    for column, (low, high, unit) in COVARIATE_RANGES.items():
        if column in table:
            table[column] = _numeric(table[column], column, low, high, unit, report)
    if "lbbb" in table:
        table["lbbb"] = _lbbb(table["lbbb"], report)
    if "sex" in table:
        table["sex"] = _sex(table["sex"], report)


def _convert_other_columns(table: pd.DataFrame, special: Collection[Any]) -> None:
    """Columns that are neither ``special`` nor covariates become numbers or text as read, in place."""
    known = {*special, *COVARIATE_RANGES, "lbbb", "sex"}
    for column in table.columns:
        if column not in known:
            table[column] = _as_read(table[column])


# --- reading the table ---------------------------------------------------------------------------
@contextlib.contextmanager
def _named_failures(path: Path) -> Iterator[None]:
    """Any failure reading the file that is not a CardioPredictError becomes a ManifestError naming it."""
    try:
        yield
    except CardioPredictError:
        raise
    except Exception as error:  # the reader's last line of defence (MemoryError included)
        detail = " ".join(str(error).split())[:200]  # one line, shortened
        raise ManifestError(
            f"Manifest {path} cannot be read ({type(error).__name__}: {detail}). Re-save it as CSV (UTF-8) "
            "or xlsx, one row per patient."
        ) from None


def _read_rows(path: Path) -> list[list[Any]]:
    if not path.is_file():
        raise ManifestError(f"Manifest {path} does not exist. Check the path (relative to {Path.cwd()}).")
    head = path.read_bytes()[:8]
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        import python_calamine

        try:
            workbook = python_calamine.CalamineWorkbook.from_path(str(path))
            if not workbook.sheet_names:
                raise ManifestError(f"Manifest workbook {path} has no sheets.")
            rows = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
        except python_calamine.CalamineError as error:
            raise ManifestError(
                f"Manifest workbook {path} cannot be read ({error}); re-save it as xlsx or csv."
            ) from None
        return [[_cell_text(cell) for cell in row] for row in rows]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((",", ";", "\t"), key=first.count)
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _numbered(rows: list[list[Any]]) -> list[tuple[int, list[Any]]]:
    """Non-blank rows with their 1-based row number in the file."""
    return [(i + 1, row) for i, row in enumerate(rows) if any(str(cell).strip() for cell in row)]


def _split_header(rows: list[list[Any]], path: Path) -> tuple[list[str], list[list[str]]]:
    numbered = _numbered(rows)
    if not numbered:
        raise ManifestError(f"Manifest {path} is empty. Write a header row and one row per patient.")
    header = [str(cell).strip() for cell in numbered[0][1]]
    while header and not header[-1]:
        header.pop()
    duplicated = sorted({name for name in header if name and header.count(name) > 1})
    if duplicated or "" in header:
        raise ManifestError(
            f"Manifest {path} header row: "
            + (
                f"column(s) {', '.join(duplicated)} appear more than once"
                if duplicated
                else "a column has no name"
            )
            + ". Give every column one unique name."
        )
    body = []
    for number, row in numbered[1:]:
        cells = [str(cell).strip() for cell in row]
        extra = [cell for cell in cells[len(header) :] if cell]
        if extra:
            raise ManifestError(
                f"Manifest {path} row {number} has more cells than the header ({len(header)} columns): "
                f"{extra[:3]}. Check the delimiter or add the missing header names."
            )
        body.append((cells + [""] * len(header))[: len(header)])
    if not body:
        raise ManifestError(f"Manifest {path} has a header but no patient rows.")
    return header, body


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, bool):
        return str(int(cell))
    return str(cell)


# --- columns -------------------------------------------------------------------------------------
def _labels(column: pd.Series, allowed: Collection[Any] | None, name: str, report: Any) -> pd.Series:
    values = [str(value).strip() for value in column]
    allowed_by_key: dict[str, Any] | None = None
    if allowed is not None:
        allowed_by_key = {_label_key(value): value for value in allowed}
    out: list[Any] = []
    for i, value in enumerate(values):
        if not value:
            report(i, name, "", "label is empty; every row needs a label (or remove the patient).")
            out.append(None)
            continue
        if allowed_by_key is not None:
            key = _label_key(value)
            if key not in allowed_by_key:
                report(
                    i,
                    name,
                    value,
                    f"not an allowed label; use one of {', '.join(map(str, allowed_by_key.values()))}.",
                )
                out.append(None)
                continue
            out.append(allowed_by_key[key])
        else:
            out.append(value)
    if all(_is_integer(value) for value in out if value is not None):
        return pd.Series(
            [int(float(v)) if v is not None else None for v in out], dtype=object
        ).infer_objects()
    return pd.Series(out, dtype=object)


def _label_key(value: Any) -> str:
    if _is_integer(value):
        return str(int(float(value)))
    return str(value).strip().upper()


def _is_integer(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number) and number.is_integer()


def _files(column: pd.Series, folder: Path, name: str, optional: bool, check: bool, report: Any) -> pd.Series:
    out: list[Any] = []
    for i, value in enumerate(column):
        text = str(value).strip()
        if not text:
            if not optional:
                report(
                    i,
                    name,
                    "",
                    "no file given; fill in the path (relative to the manifest) or remove the row.",
                )
            out.append(np.nan)
            continue
        resolved = (folder / text).resolve()
        if check:
            why = _unreadable(resolved)
            if why:
                report(
                    i,
                    name,
                    text,
                    f"{why} (looked for {resolved}); fix the path, relative to the manifest folder.",
                )
        out.append(str(resolved))
    return pd.Series(out, dtype=object)


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be used as an input file, or None. WFDB records may omit the ``.hea``."""
    if not path.exists():
        header = path.with_name(path.name + ".hea")
        if header.is_file():
            path = header
        else:
            return "file not found"
    if path.is_dir():
        return "is a folder, not a file"
    try:
        with path.open("rb") as handle:
            if not handle.read(1):
                return "file is empty (0 bytes)"
    except OSError as error:
        return f"file cannot be opened ({error.strerror})"
    return None


def _numeric(column: pd.Series, name: str, low: float, high: float, unit: str, report: Any) -> pd.Series:
    out = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        text = str(value).strip()
        if not text or text.lower() in {"nan", "na", "n/a"}:
            continue
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            report(i, name, text, f"not a number; give {name} in {unit}, or leave the cell empty if unknown.")
            continue
        if not low <= number <= high:
            report(
                i, name, text,
                f"outside the plausible range {low:g}-{high:g} {unit}; correct it (check the unit), "
                "or leave the cell empty if unknown.",
            )  # fmt: skip
            continue
        out[i] = number
    return pd.Series(out)


def _lbbb(column: pd.Series, report: Any) -> pd.Series:
    out = np.full(len(column), np.nan)
    for i, value in enumerate(column):
        text = str(value).strip().lower()
        if not text or text in {"nan", "na", "n/a"}:
            continue
        if text in _LBBB_TRUE:
            out[i] = 1.0
        elif text in _LBBB_FALSE:
            out[i] = 0.0
        else:
            report(i, "lbbb", str(value), "use 1/0 (or yes/no, true/false); leave empty if unknown.")
    return pd.Series(out)


def _sex(column: pd.Series, report: Any) -> pd.Series:
    out: list[Any] = []
    for i, value in enumerate(column):
        text = str(value).strip().upper()
        if not text or text in {"NAN", "NA", "N/A"}:
            out.append(np.nan)
        elif text in SEX_VALUES:
            out.append(text)
        else:
            report(i, "sex", str(value), "use M or F; leave empty if unknown.")
            out.append(np.nan)
    return pd.Series(out, dtype=object)


def _as_read(column: pd.Series) -> pd.Series:
    """Numbers where every non-empty cell is one, else text; empty cells become NaN."""
    text = column.astype(str).str.strip()
    values = text.mask(text == "")
    try:
        return pd.to_numeric(values)
    except (ValueError, TypeError):
        return values
