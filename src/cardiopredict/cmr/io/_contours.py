"""Contour files: the paper's form (CSV / JSON, see docs/CMR_FORMATS.md) and Sunnybrook text files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.cmr.io._guard import named_failures
from cardiopredict.errors import ContourError, LGEFormatError

STRUCTURES = ("epicardium", "endocardium", "insertion_point")
_SUNNYBROOK = re.compile(r"IM-\d+-(\d+)-([iop])contour-(?:manual|auto)\.txt$", re.IGNORECASE)
_SUNNYBROOK_KIND = {"i": "endocardium", "o": "epicardium"}


@dataclass
class SliceContours:
    """Contours of one slice, ``(row, col)`` pixel coordinates of the slice as stored in the image file.

    ``slice`` is the slice index (NIfTI/PNG: index in the file; DICOM: index after sorting along the
    slice normal); ``instance_number`` is the DICOM InstanceNumber. One of the two is set.
    """

    slice: int | None = None
    instance_number: int | None = None
    epicardium: np.ndarray | None = None
    endocardium: np.ndarray | None = None
    insertion_point: np.ndarray | None = None

    def key(self) -> tuple[str, int]:
        return (
            ("slice", int(self.slice))
            if self.slice is not None
            else ("instance_number", int(self.instance_number))
        )  # type: ignore[arg-type]


def _xy_to_rowcol(xy: Any, where: str) -> np.ndarray:
    try:
        arr = np.asarray(xy, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ContourError(f"{where}: coordinates are not numbers ({exc})") from exc
    if arr.ndim == 1 and arr.size == 2:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ContourError(f"{where}: expected a list of [x, y] pairs, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ContourError(f"{where}: non-finite coordinates (NaN/inf)")
    return arr[:, ::-1].copy()


def _merge(
    items: dict[tuple[str, int], SliceContours],
    key: tuple[str, int],
    structure: str,
    value: np.ndarray,
    where: str,
) -> None:
    entry = items.setdefault(key, SliceContours(**{key[0]: key[1]}))
    if getattr(entry, structure) is not None:
        raise ContourError(f"{where}: {structure} given twice for {key[0]} {key[1]}")
    if structure == "insertion_point":
        if len(value) != 1:
            raise ContourError(f"{where}: insertion_point must be one [x, y] pair, got {len(value)} points")
        value = value[0]
    setattr(entry, structure, value)


def _read_json(path: Path) -> list[SliceContours]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LGEFormatError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("slices"), list):
        raise LGEFormatError(
            f"{path}: a contour JSON needs a top-level object with a 'slices' list (docs/CMR_FORMATS.md)"
        )
    items: dict[tuple[str, int], SliceContours] = {}
    for n, entry in enumerate(doc["slices"]):
        where = f"{path} slices[{n}]"
        if not isinstance(entry, dict):
            raise LGEFormatError(f"{where}: each slice must be an object")
        key = _key(entry, where)
        unknown = set(entry) - {"slice", "instance_number", *STRUCTURES}
        if unknown:
            raise LGEFormatError(
                f"{where}: unknown fields {sorted(unknown)}; allowed: slice, instance_number, "
                f"{', '.join(STRUCTURES)}"
            )
        for structure in STRUCTURES:
            if entry.get(structure) is not None:
                _merge(items, key, structure, _xy_to_rowcol(entry[structure], f"{where}.{structure}"), where)
    return list(items.values())


def _key(entry: Any, where: str) -> tuple[str, int]:
    for name in ("slice", "instance_number"):
        value = entry.get(name)
        if value is not None and not (isinstance(value, float) and np.isnan(value)) and str(value) != "":
            try:
                return name, int(value)
            except (TypeError, ValueError) as exc:
                raise LGEFormatError(f"{where}: {name} must be an integer, got {value!r}") from exc
    raise LGEFormatError(f"{where}: give 'slice' (0-based index) or 'instance_number' (DICOM)")


def _read_csv(path: Path) -> list[SliceContours]:
    import pandas as pd

    try:
        table = pd.read_csv(path)
    except Exception as exc:  # pandas raises parser-specific types
        raise LGEFormatError(f"{path}: not a readable CSV file ({exc})") from exc
    missing = {"structure", "x", "y"} - set(table.columns)
    if missing or not ({"slice", "instance_number"} & set(table.columns)):
        raise LGEFormatError(
            f"{path}: contour CSV needs columns slice (or instance_number), structure, x, y; missing "
            f"{sorted(missing) or ['slice/instance_number']} (docs/CMR_FORMATS.md)"
        )
    bad = sorted(set(table["structure"].astype(str)) - set(STRUCTURES))
    if bad:
        raise LGEFormatError(f"{path}: unknown structure values {bad}; use {', '.join(STRUCTURES)}")
    items: dict[tuple[str, int], SliceContours] = {}
    key_column = "slice" if "slice" in table.columns else "instance_number"
    for (key_value, structure), group in table.groupby([key_column, "structure"], sort=False):
        rows = f"{group.index.min() + 2}-{group.index.max() + 2}"
        where = f"{path} ({key_column} {key_value}, {structure}, rows {rows})"
        key = _key({key_column: key_value}, where)
        _merge(items, key, str(structure), _xy_to_rowcol(group[["x", "y"]].to_numpy(), where), where)
    return list(items.values())


def _read_sunnybrook(paths: list[Path]) -> list[SliceContours]:
    items: dict[tuple[str, int], SliceContours] = {}
    for path in paths:
        match = _SUNNYBROOK.search(path.name)
        if match is None or match.group(2).lower() not in _SUNNYBROOK_KIND:
            continue
        try:
            xy = np.loadtxt(path, ndmin=2)
        except ValueError as exc:
            raise ContourError(f"{path}: not a list of 'x y' numbers ({exc})") from exc
        key = ("instance_number", int(match.group(1)))
        _merge(items, key, _SUNNYBROOK_KIND[match.group(2).lower()], _xy_to_rowcol(xy, str(path)), str(path))
    return list(items.values())


def read_contours(path: str | Path) -> list[SliceContours]:
    """Read a contour file or folder.

    Parameters
    ----------
    path : str or Path
        - ``*.json`` / ``*.csv``: the paper's form (docs/CMR_FORMATS.md): per slice, epicardium,
          endocardium and insertion point as ``x, y`` pixel coordinates (x = column, y = row).
        - a Sunnybrook text file ``IM-0001-NNNN-icontour-manual.txt`` (i = endocardium, o = epicardium),
          or a folder holding such files (searched recursively); NNNN is the DICOM InstanceNumber.

    Returns
    -------
    list of SliceContours
        ``(row, col)`` coordinates in the image file's pixel grid (``read_lge(..., contours=path)``
        moves them into the study's frame).

    Raises
    ------
    LGEFormatError
        Unknown file type, unreadable file, missing columns or fields.
    ContourError
        Non-numeric or non-finite coordinates, a structure given twice for a slice.
    """
    path = Path(path)
    with named_failures(path, "contour file"):
        if not path.exists():
            raise LGEFormatError(f"contour path {path} does not exist")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*.txt") if _SUNNYBROOK.search(p.name))
            if not files:
                raise LGEFormatError(
                    f"{path}: no Sunnybrook contour files (IM-*-NNNN-[io]contour-manual.txt) found"
                )
            return _read_sunnybrook(files)
        suffix = path.suffix.lower()
        if suffix == ".json":
            return _read_json(path)
        if suffix == ".csv":
            return _read_csv(path)
        if _SUNNYBROOK.search(path.name):
            return _read_sunnybrook([path])
        raise LGEFormatError(
            f"{path}: unknown contour file type; use .json, .csv or Sunnybrook IM-*-contour-manual.txt"
        )


def contours_to_rows(contours: list[SliceContours]) -> list[dict[str, Any]]:
    """Long-form rows (slice/instance_number, structure, x, y) of the paper's CSV form."""
    rows: list[dict[str, Any]] = []
    for entry in contours:
        name, value = entry.key()
        for structure in STRUCTURES:
            points = getattr(entry, structure)
            if points is None:
                continue
            for r, c in np.atleast_2d(points):
                rows.append(
                    {name: value, "structure": structure, "x": round(float(c), 3), "y": round(float(r), 3)}
                )
    return rows


def contours_to_json(contours: list[SliceContours], *, patient_id: str = "") -> dict[str, Any]:
    """The paper's JSON form of a list of slice contours."""
    slices = []
    for entry in contours:
        name, value = entry.key()
        item: dict[str, Any] = {name: value}
        for structure in STRUCTURES:
            points = getattr(entry, structure)
            if points is not None:
                xy = np.atleast_2d(points)[:, ::-1].round(3)
                item[structure] = xy[0].tolist() if structure == "insertion_point" else xy.tolist()
        slices.append(item)
    return {
        "format": "cardiopredict-contours",
        "version": 1,
        "patient_id": patient_id,
        "coordinates": "x = column, y = row, pixels",
        "slices": slices,
    }
