"""Public entry points of the LGE readers: read_lge, read_label_map, write_contours.

Every failure of a read is a :class:`~cardiopredict.errors.CardioPredictError` naming the file: the
format readers name the failures they expect, and ``named_failures`` turns anything else (nibabel's lazy
``EOFError`` on a truncated ``.nii.gz``, a pixel codec error, ...) into an :class:`LGEFormatError` that
says what to do (``docs/RELIABILITY.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np

from cardiopredict._io import atomic_write_json, atomic_write_text
from cardiopredict.cmr.io._contours import (
    SliceContours,
    contours_to_json,
    contours_to_rows,
    read_contours,
)
from cardiopredict.cmr.io._dicom import load_dicom_series
from cardiopredict.cmr.io._guard import named_failures
from cardiopredict.cmr.io._labels import map_labels
from cardiopredict.cmr.io._nifti import Volume, load_nifti, require_spacing
from cardiopredict.cmr.io._orient import Reorientation
from cardiopredict.cmr.io._png import load_png_slices, png_mask_files, png_slice_files
from cardiopredict.cmr.study import LGEStudy
from cardiopredict.errors import ContourError, LGEFormatError, SpacingError

_NIFTI_SUFFIXES = (".nii", ".nii.gz")
_LABEL_MARKERS = ("_gd", "_gt", "_manual", "_seg", "_label", "_labels")


def _is_nifti(path: Path) -> bool:
    return path.name.lower().endswith(_NIFTI_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii", ".png", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _looks_like_labels(path: Path) -> bool:
    stem = _stem(path).lower()
    return any(stem.endswith(m) for m in _LABEL_MARKERS) or path.parent.name.lower() == "contours"


def _find_label_file(image: Path) -> Path | None:
    """Label map beside a NIfTI image, by the layouts of MyoPS (X_LGE -> X_gd), MS-CMRSeg (X -> X_manual),
    ACDC (X -> X_gt) and EMIDEC (Images/X -> Contours/X)."""
    stem, suffix = _stem(image), image.name[len(_stem(image)) :]
    candidates = []
    if stem.endswith("_LGE"):
        candidates.append(image.with_name(stem[:-4] + "_gd" + suffix))
    candidates += [image.with_name(f"{stem}{m}{suffix}") for m in ("_gd", "_gt", "_manual")]
    if image.parent.name == "Images":
        candidates.append(image.parent.parent / "Contours" / image.name)
    return next((c for c in candidates if c.is_file()), None)


def _nifti_in_folder(folder: Path) -> Path | None:
    images = [
        p for p in sorted(folder.rglob("*")) if p.is_file() and _is_nifti(p) and not _looks_like_labels(p)
    ]
    if not images:
        return None
    if len(images) > 1:
        raise LGEFormatError(
            f"{folder}: {len(images)} NIfTI images ({', '.join(p.name for p in images[:5])}); pass one file"
        )
    return images[0]


def _load_volume(
    path: Path,
    *,
    series_uid: str | None,
    frame: int | None,
    case: str | None,
    pixel_spacing_mm: Any,
    slice_thickness_mm: float | None,
) -> tuple[Volume, Path, list[Path] | None]:
    """(volume, the image path actually read, PNG files or None)."""
    if not path.exists():
        raise LGEFormatError(f"LGE path {path} does not exist")
    if path.is_file() and _is_nifti(path):
        return load_nifti(path, frame=frame, pixel_spacing_mm=pixel_spacing_mm), path, None
    if path.suffix.lower() == ".png" or (path.is_dir() and any(path.glob("*_slice*.png"))):
        files = png_slice_files(path, case)
        if pixel_spacing_mm is None:
            raise SpacingError(
                f"{path}: PNG slices carry no pixel spacing (EMIDEC png_256 were resized to 256x256, which "
                "also distorts the aspect ratio); pass pixel_spacing_mm=(row_mm, col_mm)"
            )
        spacing = tuple(float(v) for v in pixel_spacing_mm)
        volume = load_png_slices(files, pixel_spacing_mm=spacing, slice_thickness_mm=slice_thickness_mm)  # type: ignore[arg-type]
        return volume, path, files
    if path.is_dir():
        nifti = _nifti_in_folder(path)
        if nifti is not None:
            return load_nifti(nifti, frame=frame, pixel_spacing_mm=pixel_spacing_mm), nifti, None
        return load_dicom_series(path, series_uid=series_uid, pixel_spacing_mm=pixel_spacing_mm), path, None
    if path.is_file():
        # A single DICOM file: read its folder's series restricted to nothing else would be surprising.
        raise LGEFormatError(
            f"{path}: pass the folder of the DICOM series, a .nii/.nii.gz file or a PNG slice folder"
        )
    raise LGEFormatError(f"{path}: not a file or folder")


def _labels_for(
    volume: Volume, image_path: Path, labels: Any, png_files: list[Path] | None
) -> tuple[np.ndarray | None, Path | None]:
    """Raw label array in the study frame, or None."""
    if labels is None or labels is False:
        return None, None
    if isinstance(labels, str) and labels == "auto":
        if png_files is not None:
            masks = png_mask_files(png_files)
            if masks is None:
                return None, None
            mask_volume = load_png_slices(
                masks, pixel_spacing_mm=volume.pixel_spacing_mm, slice_thickness_mm=None
            )
            return mask_volume.data, masks[0].parent
        if image_path.is_file() and _is_nifti(image_path):
            label_path = _find_label_file(image_path)
            if label_path is None:
                return None, None
        else:
            return None, None
    else:
        label_path = Path(labels)
    if not label_path.exists():
        raise LGEFormatError(f"label map {label_path} does not exist")
    if _is_nifti(label_path):
        label_volume = load_nifti(label_path)
        if label_volume.data.shape != volume.data.shape or not np.array_equal(
            label_volume.order, volume.order
        ):
            raise LGEFormatError(
                f"{label_path}: label grid {label_volume.data.shape} does not match the image grid "
                f"{volume.data.shape} of {image_path}; resample the labels onto the image first"
            )
        return label_volume.data, label_path
    if label_path.is_dir() or label_path.suffix.lower() == ".png":
        files = png_slice_files(label_path, None)
        return load_png_slices(files, pixel_spacing_mm=None, slice_thickness_mm=None).data, label_path
    raise LGEFormatError(f"{label_path}: label maps must be NIfTI or PNG slices")


def _attach_contours(volume: Volume, contours: list[SliceContours], source: Path) -> tuple[list, list, list]:
    n = volume.data.shape[0]
    epi: list[np.ndarray | None] = [None] * n
    endo: list[np.ndarray | None] = [None] * n
    points: list[np.ndarray | None] = [None] * n
    file_index = {int(f): k for k, f in enumerate(volume.order)}
    instances = volume.meta.get("instance_numbers")
    for entry in contours:
        kind, value = entry.key()
        if kind == "slice":
            k = file_index.get(value)
            where = f"slice {value}"
        else:
            if instances is None:
                raise LGEFormatError(
                    f"{source}: contours refer to DICOM instance_number {value}, but the image is not DICOM; "
                    "use 'slice' (0-based) keys"
                )
            k = instances.index(value) if value in instances else None
            where = f"instance_number {value}"
        if k is None:
            raise LGEFormatError(
                f"{source}: contours for {where}, which is not in the image ({n} slices"
                + (f"; instance numbers {instances}" if instances is not None else "")
                + ")"
            )
        for structure, target in (("epicardium", epi), ("endocardium", endo), ("insertion_point", points)):
            value_rc = getattr(entry, structure)
            if value_rc is not None:
                if target[k] is not None:
                    raise ContourError(f"{source}: two {structure} contours for {where}")
                target[k] = volume.reorientation.apply_points(value_rc, volume.file_shape)
    return endo, epi, points


def read_lge(
    path: str | Path,
    *,
    labels: str | Path | None = "auto",
    label_convention: str | None = None,
    contours: str | Path | None = None,
    pixel_spacing_mm: tuple[float, float] | None = None,
    slice_thickness_mm: float | None = None,
    series_uid: str | None = None,
    frame: int | None = None,
    case: str | None = None,
    patient_id: str | None = None,
) -> LGEStudy:
    """Read a short-axis LGE study.

    Parameters
    ----------
    path : str or Path
        A DICOM series folder, a NIfTI file (``.nii``/``.nii.gz``), a folder holding exactly one NIfTI image
        (e.g. MyoPS ``Train/Case3001``, EMIDEC ``Case_P100``), or a folder of PNG slices
        ``<case>_sliceKKK.png`` (EMIDEC ``png_256``).
    labels : path, "auto" or None
        Label map (NIfTI on the image grid, or PNG mask slices). ``"auto"`` (default) looks beside the
        image: MyoPS ``X_LGE`` -> ``X_gd``, ``X_gt``, ``X_manual``, EMIDEC ``Images/X`` -> ``Contours/X``,
        png_256 ``train/`` -> ``trainannot/``. ``None``: no labels.
    label_convention : {"myops", "emidec", "acdc", "canonical"}, optional
        Detected from the label values when they decide it (docs/CMR_FORMATS.md); needed for {0,1,2,3}.
    contours : path, optional
        Contour file or folder (:func:`read_contours`): paper-form CSV/JSON or Sunnybrook text files.
    pixel_spacing_mm : (row_mm, col_mm), optional
        Spacing of the returned images when the file has none (PNG, DICOM without PixelSpacing); it
        overrides the file's spacing when given.
    slice_thickness_mm : float, optional
        Slice thickness for PNG slices (other formats read it from the header).
    series_uid : str, optional
        The series to read from a DICOM folder holding several.
    frame : int, optional
        Time frame of a 4-D NIfTI.
    case : str, optional
        The case of a PNG folder holding several.
    patient_id : str, optional
        Default: the case / file / folder name.

    Returns
    -------
    LGEStudy
        Slices sorted along the slice normal, reoriented to the standard short-axis display when the file's
        orientation is known (``meta["orientation"]``, ``meta["reorientation"]``); labels canonical.

    Raises
    ------
    MultipleSeriesError, SpacingError, LGEFormatError, LabelConventionError, ContourError, IntensityError
        Each names the file and says what to do; any other failure of a library underneath (a truncated
        ``.nii.gz``, an unknown pixel codec) is an :class:`LGEFormatError` naming the file too.
    """
    path = Path(path)
    with named_failures(path, "LGE study"):
        volume, image_path, png_files = _load_volume(
            path,
            series_uid=series_uid,
            frame=frame,
            case=case,
            pixel_spacing_mm=pixel_spacing_mm,
            slice_thickness_mm=slice_thickness_mm,
        )
        spacing = require_spacing(volume, image_path)
        raw_labels, label_path = _labels_for(volume, image_path, labels, png_files)
        mapped, convention = (None, None)
        if raw_labels is not None:
            mapped, convention = _map_read_labels(raw_labels, label_convention, label_path, volume, png_files)
        endo = epi = points = None
        if contours is not None:
            endo, epi, points = _attach_contours(volume, read_contours(contours), Path(contours))
        meta = _study_meta(volume, label_path, contours)
        if patient_id is None:
            patient_id = _default_patient_id(path, image_path, png_files)
        return LGEStudy(
            images=volume.data.astype(np.float32, copy=False),
            pixel_spacing_mm=spacing,
            slice_positions_mm=volume.slice_positions_mm,
            endo=endo or [],
            epi=epi or [],
            insertion_points=points or [],
            labels=mapped,
            label_convention=convention,
            meta=meta,
            patient_id=patient_id,
        )


def _map_read_labels(
    raw_labels: np.ndarray,
    label_convention: str | None,
    label_path: Path | None,
    volume: Volume,
    png_files: list[Path] | None,
) -> tuple[np.ndarray, str]:
    """Canonical labels and their convention; EMIDEC png_256 slices imply ``"emidec"`` when none is given."""
    if label_convention is None and png_files is not None and volume.meta["orientation"].startswith("EMIDEC"):
        label_convention = "emidec"  # EMIDEC png_256 file names (Case_[NP]NNN_sliceKKK.png)
    return map_labels(raw_labels, label_convention, source=str(label_path))


def _study_meta(volume: Volume, label_path: Path | None, contours: str | Path | None) -> dict[str, Any]:
    """The volume's metadata, the file slice order and shape, and where the labels and contours came from."""
    meta = dict(volume.meta)
    meta["file_slice_index"] = [int(i) for i in volume.order]
    meta["file_shape"] = list(volume.file_shape)
    if label_path is not None:
        meta["labels_source"] = str(label_path)
    if contours is not None:
        meta["contours_source"] = str(contours)
    return meta


def _default_patient_id(path: Path, image_path: Path, png_files: list[Path] | None) -> str:
    """The case of PNG slices, else the image file's stem without ``_LGE``, else the folder name."""
    if png_files is not None:
        return png_files[0].name.rsplit("_slice", 1)[0]
    if image_path.is_file():
        return _stem(image_path).removesuffix("_LGE")
    return path.name


def read_label_map(
    path: str | Path, *, label_convention: str | None = None, frame: int | None = None
) -> tuple[np.ndarray, str]:
    """Read a label map (NIfTI or PNG slices) and map it to the canonical values.

    The slices are sorted and reoriented exactly as :func:`read_lge` does with an image of the same grid.

    Parameters
    ----------
    path : str or Path
        ``.nii``/``.nii.gz`` file, a PNG mask file or a folder of PNG mask slices.
    label_convention : {"myops", "emidec", "acdc", "canonical"}, optional
        Detected from the values when they decide it (docs/CMR_FORMATS.md).
    frame : int, optional
        Time frame of a 4-D NIfTI.

    Returns
    -------
    (ndarray of shape (n_slices, H, W), uint8; str)
        Canonical labels and the convention they were mapped from.
    """
    path = Path(path)
    with named_failures(path, "label map"):
        if path.is_dir() or path.suffix.lower() == ".png":
            files = png_slice_files(path, None)
            data = load_png_slices(files, pixel_spacing_mm=None, slice_thickness_mm=None).data
        elif _is_nifti(path):
            data = load_nifti(path, frame=frame).data
        else:
            raise LGEFormatError(f"{path}: label maps must be NIfTI (.nii/.nii.gz) or PNG slices")
        return map_labels(data, label_convention, source=str(path))


def write_contours(
    study: LGEStudy, path: str | Path, *, format: Literal["csv", "json"] | None = None
) -> Path:
    """Write a study's contours and insertion points in the paper's form (CSV or JSON, by suffix).

    Coordinates are written in the image file's pixel grid (the reader's reorientation is undone, using
    ``meta["reorientation"]`` and ``meta["file_shape"]``), so ``read_lge(image, contours=path)`` reads them
    back onto the same pixels. DICOM studies are keyed by ``instance_number``, others by ``slice``.

    Parameters
    ----------
    study : LGEStudy
        With ``epi``/``endo``/``insertion_points`` in the study frame, (row, col) pixels.
    path : str or Path
        Target ``.csv`` or ``.json``, written atomically.
    format : {"csv", "json"}, optional
        Default from the suffix.

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    fmt = format or path.suffix.lower().lstrip(".")
    if fmt not in ("csv", "json"):
        raise LGEFormatError(f"{path}: contour files are .csv or .json, got format {fmt!r}")
    reorientation = Reorientation(**study.meta.get("reorientation", {}))
    file_shape = tuple(
        study.meta.get("file_shape", study.shape if not reorientation.transpose else study.shape[::-1])
    )
    file_index = study.meta.get("file_slice_index", list(range(study.n_slices)))
    instances = study.meta.get("instance_numbers")
    entries = []
    for k in range(study.n_slices):
        if study.epi[k] is None and study.endo[k] is None and study.insertion_points[k] is None:
            continue
        entry = (
            SliceContours(instance_number=instances[k])
            if instances
            else SliceContours(slice=int(file_index[k]))
        )
        for structure, value in (
            ("epicardium", study.epi[k]),
            ("endocardium", study.endo[k]),
            ("insertion_point", study.insertion_points[k]),
        ):
            if value is not None:
                setattr(entry, structure, reorientation.invert_points(value, file_shape))  # type: ignore[arg-type]
        entries.append(entry)
    if fmt == "json":
        atomic_write_json(path, contours_to_json(entries, patient_id=study.patient_id))
    else:
        import pandas as pd

        rows = contours_to_rows(entries)
        key = "instance_number" if instances else "slice"
        table = pd.DataFrame(rows, columns=[key, "structure", "x", "y"])
        atomic_write_text(path, table.to_csv(index=False))
    return path
