"""DICOM series folders (pydicom): one series, sorted along the slice normal, rescaled, reoriented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.cmr.io._nifti import Volume
from cardiopredict.cmr.io._orient import Reorientation, standard_reorientation
from cardiopredict.errors import GeometryError, LGEFormatError, MultipleSeriesError, SpacingError


def _read_headers(folder: Path) -> list[tuple[Path, Any]]:
    import pydicom
    from pydicom.errors import InvalidDicomError

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix.lower() not in ("", ".dcm", ".ima", ".dicom"):
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError):
            continue
        if "Rows" in ds and "Columns" in ds:
            found.append((path, ds))
    return found


def load_dicom_series(folder: Path, *, series_uid: str | None = None, pixel_spacing_mm: Any = None) -> Volume:
    """Read one DICOM series from a folder (searched recursively).

    Slices are sorted by their position along the slice normal (ImagePositionPatient projected on
    the cross product of the ImageOrientationPatient vectors), then by InstanceNumber; pixel values are
    ``stored * RescaleSlope + RescaleIntercept``. ``meta["instance_numbers"]`` keeps each slice's
    InstanceNumber (contour files refer to images by it). The steps: read the headers, choose the series,
    check its grid, place the slices, decode the pixels.

    Raises
    ------
    MultipleSeriesError
        The folder holds several SeriesInstanceUIDs and ``series_uid`` was not given (all are listed).
    SpacingError
        No PixelSpacing and no ``pixel_spacing_mm`` hint.
    LGEFormatError
        No DICOM image, images of different sizes / spacings, or pixel data that cannot be decoded.
    GeometryError
        Slices that are not one stack of parallel planes, or that cannot be ordered.
    """
    headers = _read_headers(folder)
    if not headers:
        raise LGEFormatError(
            f"{folder}: no DICOM image files found (looked for *.dcm, *.ima and files without suffix)"
        )
    chosen = _choose_series(folder, headers, series_uid)
    first = chosen[0][1]
    shape = _check_grid(chosen)
    spacing_file = _file_spacing(chosen) if pixel_spacing_mm is None else None
    meta: dict[str, Any] = {
        "source": str(folder),
        "format": "dicom",
        "series_uid": str(first.get("SeriesInstanceUID", "")),
    }
    thickness = _number(first.get("SliceThickness"))
    if thickness is not None:
        meta["slice_thickness_mm"] = thickness
    reorientation, positions, meta["orientation"] = _place_slices(folder, chosen)
    instance = np.array([_int_or_zero(ds.get("InstanceNumber")) for _, ds in chosen])
    order = np.lexsort((instance, positions))
    stack = _decode_pixels([chosen[i][0] for i in order])
    if spacing_file is not None:
        spacing = (spacing_file[1], spacing_file[0]) if reorientation.transpose else spacing_file
    else:
        spacing = tuple(float(v) for v in pixel_spacing_mm)  # study frame
    meta["instance_numbers"] = instance[order].tolist()
    meta["files"] = [chosen[i][0].name for i in order]
    meta["reorientation"] = reorientation.to_dict()
    if "PatientID" in first:
        meta["dicom_patient_id"] = str(first.PatientID)
    return Volume(
        data=reorientation.apply(stack),
        pixel_spacing_mm=spacing,  # type: ignore[arg-type]
        slice_positions_mm=positions[order].astype(np.float64),
        reorientation=reorientation,
        file_shape=shape,
        order=np.arange(len(order)),  # contour files address DICOM slices by InstanceNumber or sorted index
        meta=meta,
    )


def _choose_series(folder: Path, headers: list[tuple[Path, Any]], series_uid: str | None) -> list:
    """The (path, header) pairs of the one series to read; several without ``series_uid`` are listed."""
    series: dict[str, list[tuple[Path, Any]]] = {}
    for path, ds in headers:
        series.setdefault(str(ds.get("SeriesInstanceUID", "<none>")), []).append((path, ds))
    if series_uid is not None:
        if series_uid not in series:
            raise MultipleSeriesError(
                f"{folder}: series_uid={series_uid!r} not found; present: {sorted(series)}"
            )
        return series[series_uid]
    if len(series) > 1:
        lines = [
            f"{uid} ({len(items)} images, SeriesNumber {items[0][1].get('SeriesNumber', '?')}, "
            f"'{items[0][1].get('SeriesDescription', '')}')"
            for uid, items in sorted(series.items())
        ]
        raise MultipleSeriesError(
            f"{folder}: {len(series)} DICOM series in one folder; pass series_uid=<one of them> or split the "
            "folder:\n" + "\n".join(f"  - {line}" for line in lines)
        )
    return next(iter(series.values()))


def _check_grid(chosen: list[tuple[Path, Any]]) -> tuple[int, int]:
    """(rows, columns) shared by every image of the series."""
    sizes = [(_int_or_zero(ds.get("Rows")), _int_or_zero(ds.get("Columns"))) for _, ds in chosen]
    shape = sizes[0]
    for (path, _), size in zip(chosen, sizes, strict=True):
        if size != shape or min(size) <= 0:
            raise LGEFormatError(
                f"{path}: image size {size[0]}x{size[1]} differs from {shape[0]}x{shape[1]} of "
                f"{chosen[0][0].name} in the same series (or is empty); fix or remove that file"
            )
    return shape


def _file_spacing(chosen: list[tuple[Path, Any]]) -> tuple[float, float]:
    """PixelSpacing (row_mm, col_mm) of the series, the same for every image."""
    first_path, first = chosen[0]
    spacing = _spacing_of(first_path, first)
    if spacing is None:
        raise SpacingError(
            f"{first_path}: no valid PixelSpacing (0028,0030) in the DICOM header; pass "
            "pixel_spacing_mm=(row_mm, col_mm) if you know it"
        )
    for path, ds in chosen:
        other = _spacing_of(path, ds)
        if other is None or not np.allclose(other, spacing, rtol=1e-3):
            raise LGEFormatError(
                f"{path}: PixelSpacing {other} differs from {list(spacing)} of "
                f"{first_path.name} in the same series; resample the slices to one grid first"
            )
    return spacing


def _spacing_of(path: Path, ds: Any) -> tuple[float, float] | None:
    try:
        values = [float(v) for v in ds.PixelSpacing]
    except (AttributeError, TypeError, ValueError):
        return None
    if len(values) != 2 or not all(np.isfinite(v) and v > 0 for v in values):
        return None
    return values[0], values[1]


def _place_slices(folder: Path, chosen: list[tuple[Path, Any]]) -> tuple[Reorientation, np.ndarray, str]:
    """Reorientation to the standard display, each slice's position along the normal (mm), and a note."""
    iops = [_vector(ds.get("ImageOrientationPatient"), 6) for _, ds in chosen]
    ipps = [_vector(ds.get("ImagePositionPatient"), 3) for _, ds in chosen]
    if all(v is not None for v in iops + ipps):
        iop = iops[0]
        for (path, _), other in zip(chosen, iops, strict=True):
            if not np.allclose(other, iop, atol=1e-3):
                raise GeometryError(
                    f"{path}: ImageOrientationPatient differs from the rest of the series "
                    f"({other.tolist()} vs {iop.tolist()}); it is not one stack of parallel slices"
                )
        along_row, along_col = iop[:3], iop[3:]  # directions of increasing column / row index
        reorientation = standard_reorientation(along_col, along_row)
        down, right = reorientation.directions(along_col, along_row)
        normal = np.cross(right, down)
        positions = np.array([ipp @ normal for ipp in ipps])
        return reorientation, positions, "standard short-axis display (from ImageOrientationPatient)"
    locations = [_number(ds.get("SliceLocation")) for _, ds in chosen]
    if any(v is None for v in locations):
        raise GeometryError(
            f"{folder}: no valid ImagePositionPatient/ImageOrientationPatient and no SliceLocation; the "
            "slices cannot be ordered. Re-export the series with its geometry tags."
        )
    note = "unknown: no ImageOrientationPatient; slices kept as stored, sorted by SliceLocation"
    return Reorientation(), np.array(locations, dtype=np.float64), note


def _decode_pixels(paths: list[Path]) -> np.ndarray:
    """Rescaled pixel values of each file, shape (n_slices, rows, cols), float32."""
    import pydicom

    images = []
    for path in paths:
        try:
            ds = pydicom.dcmread(path)
            pixels = ds.pixel_array.astype(np.float64)
        except Exception as exc:  # pixel decoding raises many types (missing codec, truncated data)
            detail = " ".join(str(exc).split())[:120]  # one line, shortened
            raise LGEFormatError(
                f"{path}: cannot decode the pixel data ({type(exc).__name__}: {detail}); the file is "
                "truncated or uses a codec that is not installed (pylibjpeg/gdcm); re-export it uncompressed"
            ) from None
        if pixels.ndim != 2:
            raise LGEFormatError(f"{path}: expected one 2-D frame, got pixel array shape {pixels.shape}")
        slope = _number(ds.get("RescaleSlope")) or 1.0
        intercept = _number(ds.get("RescaleIntercept")) or 0.0
        images.append(pixels * slope + intercept)
    if len({image.shape for image in images}) > 1:
        raise LGEFormatError(
            f"{paths[0].parent}: decoded pixel arrays differ in size from the Rows/Columns of their headers; "
            "the files are damaged, re-export the series"
        )
    return np.stack(images).astype(np.float32)


def _number(value: Any) -> float | None:
    """A finite float from a DICOM value, or None (absent, empty, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _int_or_zero(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _vector(value: Any, size: int) -> np.ndarray | None:
    """A DICOM multi-value as a finite float vector of ``size`` values, or None."""
    try:
        vector = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return vector if vector.shape == (size,) and np.isfinite(vector).all() else None
