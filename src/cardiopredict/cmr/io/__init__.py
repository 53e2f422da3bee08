"""Readers for LGE studies: DICOM series, NIfTI, PNG slices, label maps and contour files.

Everything returns :class:`cardiopredict.cmr.study.LGEStudy` (or parts of one). File forms, label
conventions and the orientation rule are described in ``docs/CMR_FORMATS.md``; what each reader
guarantees on bad input in ``docs/RELIABILITY.md``.
"""

from cardiopredict.cmr.io._api import read_label_map, read_lge, write_contours
from cardiopredict.cmr.io._contours import SliceContours, read_contours
from cardiopredict.cmr.io._labels import CONVENTIONS, detect_convention, map_labels

__all__ = [
    "CONVENTIONS",
    "SliceContours",
    "detect_convention",
    "map_labels",
    "read_contours",
    "read_label_map",
    "read_lge",
    "write_contours",
]
