"""2-D PNG slices (EMIDEC ``png_256``: ``<case>_sliceKKK.png`` with masks in a sibling ``<folder>annot``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cardiopredict.cmr.io._nifti import Volume
from cardiopredict.cmr.io._orient import Reorientation
from cardiopredict.errors import LGEFormatError

_SLICE = re.compile(r"^(?P<case>.+)_slice(?P<index>\d+)\.png$", re.IGNORECASE)
_EMIDEC_SLICE = re.compile(r"^Case_[NP]\d{3}_slice\d+\.png$")
# EMIDEC png_256 slices are rot180 of the NIfTI slice (SOURCE.md); rot180 then transpose gives the frame
# read_lge uses for the EMIDEC NIfTI files, checked on Case_P100 (image correlation 1.00 on all 7 slices).
_EMIDEC_PNG_TO_NIFTI = Reorientation(transpose=True, flip_rows=True, flip_cols=True)


def _read_png(path: Path) -> np.ndarray:
    from skimage.io import imread

    try:
        array = np.asarray(imread(path))
    except Exception as exc:  # imageio raises various types for damaged files
        raise LGEFormatError(f"{path}: not a readable PNG ({exc})") from exc
    if array.ndim == 3:  # grey stored as RGB(A): all channels must agree
        if not all(np.array_equal(array[..., 0], array[..., c]) for c in range(1, min(array.shape[2], 3))):
            raise LGEFormatError(f"{path}: a colour PNG; slices and masks must be single-channel grey")
        array = array[..., 0]
    return array


def png_slice_files(path: Path, case: str | None) -> list[Path]:
    """The slice files of one case: ``path`` itself, or ``<case>_slice*.png`` in the folder ``path``."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.glob("*.png") if _SLICE.match(p.name))
    cases = sorted({_SLICE.match(p.name).group("case") for p in files})  # type: ignore[union-attr]
    if case is None:
        if len(cases) != 1:
            raise LGEFormatError(
                f"{path}: PNG slices of {len(cases)} cases "
                f"({', '.join(cases[:5])}{', ...' if len(cases) > 5 else ''}); "
                "pass case=<name>"
            )
        case = cases[0]
    chosen = [p for p in files if _SLICE.match(p.name).group("case") == case]  # type: ignore[union-attr]
    if not chosen:
        raise LGEFormatError(f"{path}: no files {case}_sliceNNN.png")
    return sorted(chosen, key=lambda p: int(_SLICE.match(p.name).group("index")))  # type: ignore[union-attr]


def load_png_slices(
    files: list[Path], *, pixel_spacing_mm: tuple[float, float] | None, slice_thickness_mm: float | None
) -> Volume:
    """Stack PNG slices (file order = slice order). PNGs carry no spacing: it comes from the caller."""
    arrays = [_read_png(p) for p in files]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise LGEFormatError(f"{files[0].parent}: PNG slices of different sizes {sorted(shapes)}")
    step = float(slice_thickness_mm) if slice_thickness_mm is not None else 1.0
    emidec = all(_EMIDEC_SLICE.match(p.name) for p in files)
    reorientation = _EMIDEC_PNG_TO_NIFTI if emidec else Reorientation()
    meta = {
        "source": str(files[0].parent),
        "format": "png",
        "files": [p.name for p in files],
        "orientation": (
            "EMIDEC png_256: rotated back to the frame of the EMIDEC NIfTI files (orientation unknown)"
            if emidec
            else "unknown: PNG slices kept as stored"
        ),
        "reorientation": reorientation.to_dict(),
    }
    if slice_thickness_mm is not None:
        meta["slice_thickness_mm"] = float(slice_thickness_mm)
    else:
        meta["slice_positions_note"] = "no slice_thickness_mm given: positions are slice indices x 1 mm"
    stack = np.stack(arrays)
    return Volume(
        data=reorientation.apply(stack),
        pixel_spacing_mm=pixel_spacing_mm,
        slice_positions_mm=np.arange(len(files), dtype=np.float64) * step,
        reorientation=reorientation,
        file_shape=stack.shape[1:],  # type: ignore[arg-type]
        order=np.arange(len(files)),
        meta=meta,
    )


def png_mask_files(image_files: list[Path]) -> list[Path] | None:
    """Mask files beside an EMIDEC png_256 image folder: ``train`` -> ``trainannot``, same names."""
    folder = image_files[0].parent
    mask_folder = folder.parent / f"{folder.name}annot"
    if not mask_folder.is_dir():
        return None
    masks = [mask_folder / p.name for p in image_files]
    return masks if all(m.is_file() for m in masks) else None
