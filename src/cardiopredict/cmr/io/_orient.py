"""In-plane reorientation to the standard short-axis display (docs/CMR_FORMATS.md, "Orientation").

Of the 8 flips/transposes of a slice, the reader keeps the one whose downward direction points most
towards the patient's posterior-inferior and whose rightward direction points most towards the patient's
left (DICOM patient coordinates, LPS). In a short-axis view this puts the anterior wall at the top and the
RV on the viewer's left, and it never mirrors the anatomy, so "counter-clockwise" means the same in every
study.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

_DOWN_LPS = np.array([0.0, 1.0, -1.0]) / np.sqrt(2.0)
_RIGHT_LPS = np.array([1.0, 0.0, 0.0])


@dataclass(frozen=True)
class Reorientation:
    """Transpose first, then flip rows, then flip columns (applied to the last two axes)."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def apply(self, array: np.ndarray) -> np.ndarray:
        if self.transpose:
            array = np.swapaxes(array, -1, -2)
        if self.flip_rows:
            array = array[..., ::-1, :]
        if self.flip_cols:
            array = array[..., :, ::-1]
        return np.ascontiguousarray(array)

    def apply_points(self, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Map ``(row, col)`` points of a file slice of ``shape`` to the reoriented slice."""
        pts = np.asarray(points, dtype=np.float64).copy()
        H, W = shape
        if self.transpose:
            pts = pts[..., ::-1].copy()
            H, W = W, H
        if self.flip_rows:
            pts[..., 0] = H - 1 - pts[..., 0]
        if self.flip_cols:
            pts[..., 1] = W - 1 - pts[..., 1]
        return pts

    def invert_points(self, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Map ``(row, col)`` points of the reoriented slice back to the file slice of ``shape``."""
        pts = np.asarray(points, dtype=np.float64).copy()
        H, W = (shape[1], shape[0]) if self.transpose else shape
        if self.flip_cols:
            pts[..., 1] = W - 1 - pts[..., 1]
        if self.flip_rows:
            pts[..., 0] = H - 1 - pts[..., 0]
        if self.transpose:
            pts = pts[..., ::-1].copy()
        return pts

    def directions(self, row_dir: np.ndarray, col_dir: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LPS directions of increasing row and column after the reorientation."""
        down, right = (col_dir, row_dir) if self.transpose else (row_dir, col_dir)
        return (-down if self.flip_rows else down), (-right if self.flip_cols else right)

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)


def standard_reorientation(row_dir_lps: np.ndarray, col_dir_lps: np.ndarray) -> Reorientation:
    """Reorientation to the standard short-axis display, from the LPS directions of increasing row index
    (``row_dir``: down the image) and increasing column index (``col_dir``: across to the right)."""
    row_dir = np.asarray(row_dir_lps, dtype=np.float64)
    col_dir = np.asarray(col_dir_lps, dtype=np.float64)
    best, best_score = Reorientation(), -np.inf
    for flags in itertools.product((False, True), repeat=3):
        candidate = Reorientation(*flags)
        down, right = candidate.directions(row_dir, col_dir)
        score = float(down @ _DOWN_LPS + right @ _RIGHT_LPS)
        if score > best_score + 1e-9:
            best, best_score = candidate, score
    return best
