"""NIfTI volumes (nibabel): spacing from the header zooms, orientation from a valid qform/sform."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cardiopredict.cmr.io._orient import Reorientation, standard_reorientation
from cardiopredict.errors import LGEFormatError, SpacingError


@dataclass
class Volume:
    """Slices ``(n, H, W)`` in the study frame, with what is needed to map file coordinates into it."""

    data: np.ndarray
    pixel_spacing_mm: tuple[float, float] | None
    slice_positions_mm: np.ndarray
    reorientation: Reorientation
    file_shape: tuple[int, int]
    order: np.ndarray  # file slice index of each study slice
    meta: dict[str, Any] = field(default_factory=dict)


def _raw_in_plane_pixdim(path: Path, header: Any) -> tuple[float, float] | None:
    """pixdim[1:3] as stored in the file. nibabel replaces zero pixdims by 1 on load (it only logs it), which
    would turn a file without spacing into 1 mm pixels; the raw header shows what the file really says."""
    from nibabel.openers import ImageOpener

    try:
        with ImageOpener(str(path)) as handle:
            raw = type(header).from_fileobj(handle, check=False)
        return float(raw["pixdim"][1]), float(raw["pixdim"][2])
    except Exception:  # other header types (Analyze pairs, MINC): trust nibabel's zooms
        return None


def _zooms_spacing(zooms: tuple[float, ...]) -> tuple[float, float] | None:
    spacing = tuple(float(z) for z in zooms[:2])
    return spacing if all(np.isfinite(s) and s > 0 for s in spacing) else None  # type: ignore[return-value]


def load_nifti(path: Path, *, frame: int | None = None, pixel_spacing_mm: Any = None) -> Volume:
    """Read a 2-D/3-D (or 4-D with ``frame=``) NIfTI file into study-frame slices.

    The in-plane spacing is the header's zooms (pixdim), never the affine's column norms: some files
    (EMIDEC, ACDC) carry an affine without spacing. The orientation is used only when the affine is
    trustworthy (qform or sform code > 0 and its column norms equal the zooms); otherwise slices are kept
    as stored, transposed so rows follow the file's j axis (the DICOM row axis for ITK/dcm2niix files),
    and ``meta["orientation"]`` says it is unknown. Steps: load (voxels included), pick the frame, read
    the spacing, place the slices.
    """
    image, data = _load(path)
    data = _three_d(data, path, frame=frame)
    header = image.header
    zooms = header.get_zooms()
    raw = _raw_in_plane_pixdim(path, header)
    spacing = _zooms_spacing(zooms) if raw is None or _zooms_spacing(raw) is not None else None
    dz = float(zooms[2]) if len(zooms) > 2 and np.isfinite(zooms[2]) and zooms[2] > 0 else None
    meta: dict[str, Any] = {"source": str(path), "format": "nifti"}
    if dz is not None:
        meta["slice_thickness_mm"] = dz
    n_i, n_j, n_slices = data.shape
    reorientation, positions, meta["orientation"] = _place_slices(image, zooms, n_slices, dz)
    order = np.argsort(positions, kind="stable")
    if spacing is not None and reorientation.transpose:
        spacing = (spacing[1], spacing[0])
    if pixel_spacing_mm is not None:  # given by the caller in the study frame (row_mm, col_mm)
        spacing = tuple(float(v) for v in pixel_spacing_mm)  # type: ignore[assignment]
    slices = np.moveaxis(data, 2, 0)[order]
    meta["reorientation"] = reorientation.to_dict()
    return Volume(
        data=reorientation.apply(slices),
        pixel_spacing_mm=spacing,
        slice_positions_mm=positions[order],
        reorientation=reorientation,
        file_shape=(n_i, n_j),
        order=order,
        meta=meta,
    )


def _load(path: Path) -> tuple[Any, np.ndarray]:
    """The nibabel image and its voxels, read now: nibabel reads them lazily, so a truncated file would
    otherwise fail later, far from the reader."""
    import nibabel as nib

    try:
        image = nib.load(str(path))
    except Exception as exc:  # nibabel raises several unrelated types for bad files
        detail = " ".join(str(exc).split())[:120]  # one line, shortened
        raise LGEFormatError(
            f"{path}: not a readable NIfTI file ({type(exc).__name__}: {detail}); check that it is "
            ".nii/.nii.gz and re-export it"
        ) from None
    try:
        return image, np.asanyarray(image.dataobj)
    except Exception as exc:  # EOFError, OSError, zlib.error, ValueError (short read) ...
        detail = " ".join(str(exc).split())[:120]  # one line, shortened
        raise LGEFormatError(
            f"{path}: the NIfTI header is readable but the voxel data are truncated or damaged "
            f"({type(exc).__name__}: {detail}); re-export or re-download the file"
        ) from None


def _three_d(data: np.ndarray, path: Path, *, frame: int | None) -> np.ndarray:
    """(i, j, k) voxels: a 2-D image gets a slice axis, a 4-D one gives its ``frame``."""
    if data.ndim == 4:
        if data.shape[3] == 1:
            data = data[..., 0]
        elif frame is None:
            raise LGEFormatError(
                f"{path}: 4-D volume with {data.shape[3]} frames; pass frame=<index> to pick one"
            )
        else:
            if not 0 <= int(frame) < data.shape[3]:
                raise LGEFormatError(f"{path}: frame={frame} out of range 0..{data.shape[3] - 1}")
            data = data[..., int(frame)]
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise LGEFormatError(f"{path}: expected a 2-D or 3-D image, got shape {data.shape}")
    return data


def _place_slices(
    image: Any, zooms: tuple[float, ...], n_slices: int, dz: float | None
) -> tuple[Reorientation, np.ndarray, str]:
    """Reorientation to the standard display, slice positions (mm, file order) and an orientation note."""
    header, affine = image.header, image.affine
    codes = (int(header["qform_code"]), int(header["sform_code"])) if "qform_code" in header else (1, 1)
    norms = np.linalg.norm(affine[:3, :3], axis=0)
    trusted = max(codes) > 0 and all(
        np.isclose(norms[a], float(zooms[a]), rtol=0.01) for a in range(min(3, len(zooms)))
    )
    if not trusted:
        positions = np.arange(n_slices, dtype=np.float64) * (dz if dz is not None else 1.0)
        note = (
            "unknown: the affine has no usable orientation (qform/sform code 0 or no spacing); slices kept "
            "in file order, rows = file j axis"
        )
        return Reorientation(transpose=True), positions, note
    lps = affine[:3, :3] * np.array([-1.0, -1.0, 1.0])[:, None]
    row_dir, col_dir = lps[:, 0] / norms[0], lps[:, 1] / norms[1]
    reorientation = standard_reorientation(row_dir, col_dir)
    down, right = reorientation.directions(row_dir, col_dir)
    normal = np.cross(right, down)
    origin = affine[:3, 3] * np.array([-1.0, -1.0, 1.0])
    positions = np.array([float((origin + lps[:, 2] * k) @ normal) for k in range(n_slices)])
    return reorientation, positions, "standard short-axis display (from the NIfTI affine)"


def require_spacing(volume: Volume, path: Path) -> tuple[float, float]:
    if volume.pixel_spacing_mm is None:
        raise SpacingError(
            f"{path}: the header has no valid pixel spacing (pixdim); pass pixel_spacing_mm=(row_mm, col_mm)"
        )
    return volume.pixel_spacing_mm
