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
    InstanceNumber (contour files refer to images by it).

    Raises
    ------
    MultipleSeriesError
        The folder holds several SeriesInstanceUIDs and ``series_uid`` was not given (all are listed).
    SpacingError
        No PixelSpacing and no ``pixel_spacing_mm`` hint.
    LGEFormatError
        No DICOM image, or images of different sizes / orientations in the series.
    """
    import pydicom

    headers = _read_headers(folder)
    if not headers:
        raise LGEFormatError(
            f"{folder}: no DICOM image files found (looked for *.dcm, *.ima and files without suffix)"
        )
    series: dict[str, list[tuple[Path, Any]]] = {}
    for path, ds in headers:
        series.setdefault(str(ds.get("SeriesInstanceUID", "<none>")), []).append((path, ds))
    if series_uid is not None:
        if series_uid not in series:
            raise MultipleSeriesError(
                f"{folder}: series_uid={series_uid!r} not found; present: {sorted(series)}"
            )
        chosen = series[series_uid]
    elif len(series) > 1:
        lines = [
            f"{uid} ({len(items)} images, SeriesNumber {items[0][1].get('SeriesNumber', '?')}, "
            f"'{items[0][1].get('SeriesDescription', '')}')"
            for uid, items in sorted(series.items())
        ]
        raise MultipleSeriesError(
            f"{folder}: {len(series)} DICOM series in one folder; pass series_uid=<one of them> or split the "
            "folder:\n" + "\n".join(f"  - {line}" for line in lines)
        )
    else:
        chosen = next(iter(series.values()))

    first = chosen[0][1]
    shape = (int(first.Rows), int(first.Columns))
    for path, ds in chosen:
        if (int(ds.Rows), int(ds.Columns)) != shape:
            raise LGEFormatError(
                f"{path}: image size {int(ds.Rows)}x{int(ds.Columns)} differs from {shape[0]}x{shape[1]} of "
                f"{chosen[0][0].name} in the same series"
            )
    if pixel_spacing_mm is None:
        if "PixelSpacing" not in first:
            raise SpacingError(
                f"{chosen[0][0]}: no PixelSpacing (0028,0030) in the DICOM header; pass "
                "pixel_spacing_mm=(row_mm, col_mm) if you know it"
            )
        spacing_file = (float(first.PixelSpacing[0]), float(first.PixelSpacing[1]))
        for path, ds in chosen:
            other = [float(v) for v in ds.get("PixelSpacing", [np.nan, np.nan])]
            if not np.allclose(other, spacing_file, rtol=1e-3):
                raise LGEFormatError(
                    f"{path}: PixelSpacing {other} differs from {list(spacing_file)} of "
                    f"{chosen[0][0].name} in the same series; resample the slices to one grid first"
                )
    else:
        spacing_file = None

    meta: dict[str, Any] = {
        "source": str(folder),
        "format": "dicom",
        "series_uid": str(first.get("SeriesInstanceUID", "")),
    }
    if "SliceThickness" in first and first.SliceThickness not in (None, ""):
        meta["slice_thickness_mm"] = float(first.SliceThickness)
    has_geometry = all("ImageOrientationPatient" in ds and "ImagePositionPatient" in ds for _, ds in chosen)
    instance = np.array([int(ds.get("InstanceNumber", 0) or 0) for _, ds in chosen])
    if has_geometry:
        iop = np.array(first.ImageOrientationPatient, dtype=np.float64)
        for path, ds in chosen:
            if not np.allclose(np.array(ds.ImageOrientationPatient, dtype=np.float64), iop, atol=1e-3):
                raise GeometryError(
                    f"{path}: ImageOrientationPatient differs from the rest of the series "
                    f"({list(ds.ImageOrientationPatient)} vs {iop.tolist()}); it is not one stack of "
                    "parallel slices"
                )
        along_row, along_col = iop[:3], iop[3:]  # directions of increasing column / row index
        reorientation = standard_reorientation(along_col, along_row)
        down, right = reorientation.directions(along_col, along_row)
        normal = np.cross(right, down)
        positions = np.array(
            [np.array(ds.ImagePositionPatient, dtype=np.float64) @ normal for _, ds in chosen]
        )
        meta["orientation"] = "standard short-axis display (from ImageOrientationPatient)"
    else:
        reorientation = Reorientation()
        locations = [ds.get("SliceLocation") for _, ds in chosen]
        if all(v is not None for v in locations):
            positions = np.array([float(v) for v in locations])
        else:
            raise GeometryError(
                f"{folder}: no ImagePositionPatient/ImageOrientationPatient and no SliceLocation; the slices "
                "cannot be ordered"
            )
        meta["orientation"] = (
            "unknown: no ImageOrientationPatient; slices kept as stored, sorted by SliceLocation"
        )
    order = np.lexsort((instance, positions))
    images = []
    for index in order:
        path = chosen[index][0]
        ds = pydicom.dcmread(path)
        try:
            pixels = ds.pixel_array.astype(np.float64)
        except Exception as exc:  # pixel decoding raises many types (missing codec, truncated data)
            raise LGEFormatError(f"{path}: cannot decode the pixel data ({exc})") from exc
        if pixels.ndim != 2:
            raise LGEFormatError(f"{path}: expected one 2-D frame, got pixel array shape {pixels.shape}")
        slope = float(ds.get("RescaleSlope", 1.0) or 1.0)
        intercept = float(ds.get("RescaleIntercept", 0.0) or 0.0)
        images.append(pixels * slope + intercept)
    stack = np.stack(images).astype(np.float32)
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
