"""Label-map conventions and their mapping to the canonical values of :mod:`cardiopredict.cmr.study`."""

from __future__ import annotations

import numpy as np

from cardiopredict.cmr.study import (
    BACKGROUND,
    LV_BLOOD_POOL,
    MYOCARDIUM,
    NO_REFLOW,
    RV_BLOOD_POOL,
    SCAR,
)
from cardiopredict.errors import LabelConventionError

#: File value -> canonical value, per named convention (docs/CMR_FORMATS.md).
CONVENTIONS: dict[str, dict[int, int]] = {
    # MyoPS / MS-CMRSeg: 200 healthy myocardium, 1220 edema (counted as myocardium), 2221 scar,
    # 500 LV blood pool, 600 RV blood pool.
    "myops": {
        0: BACKGROUND,
        200: MYOCARDIUM,
        1220: MYOCARDIUM,
        2221: SCAR,
        500: LV_BLOOD_POOL,
        600: RV_BLOOD_POOL,
    },
    # EMIDEC: 1 cavity, 2 healthy myocardium, 3 infarct, 4 no-reflow.
    "emidec": {0: BACKGROUND, 1: LV_BLOOD_POOL, 2: MYOCARDIUM, 3: SCAR, 4: NO_REFLOW},
    # ACDC: 1 RV cavity, 2 myocardium, 3 LV cavity.
    "acdc": {0: BACKGROUND, 1: RV_BLOOD_POOL, 2: MYOCARDIUM, 3: LV_BLOOD_POOL},
    "canonical": {v: v for v in range(6)},
}


def detect_convention(values: np.ndarray, *, source: str = "label map") -> str:
    """The convention of a set of label values, when the values alone decide it.

    Values >= 200 mean MyoPS; 5 means canonical; 4 (no-reflow) means EMIDEC (identical to canonical for
    0-4). Values within {0, 1, 2, 3} fit both EMIDEC and ACDC (1 is the LV cavity in one, the RV in the
    other), so they need ``label_convention=``.

    Raises
    ------
    LabelConventionError
        No convention holds every value, or more than one does and they disagree.
    """
    present = {int(v) for v in np.unique(values)}
    if present <= {0}:
        return "canonical"
    fits = [name for name, table in CONVENTIONS.items() if present <= set(table)]
    if not fits:
        raise LabelConventionError(
            f"{source}: label values {sorted(present)} fit no known convention "
            f"({', '.join(f'{k}: {sorted(v)}' for k, v in CONVENTIONS.items())}); map them to the canonical "
            "values 0-5 first"
        )
    mappings = {tuple(sorted((v, CONVENTIONS[name][v]) for v in present)) for name in fits}
    if len(mappings) > 1:
        raise LabelConventionError(
            f"{source}: label values {sorted(present)} fit several conventions that disagree "
            f"({', '.join(fits)}): "
            "pass label_convention='emidec' (1 = LV cavity) or label_convention='acdc' (1 = RV cavity)"
        )
    return "myops" if "myops" in fits else ("emidec" if "emidec" in fits else fits[0])


def map_labels(
    labels: np.ndarray, convention: str | None = None, *, source: str = "label map"
) -> tuple[np.ndarray, str]:
    """Map a label array to the canonical values.

    Parameters
    ----------
    labels : ndarray of int, any shape
    convention : {"myops", "emidec", "acdc", "canonical"}, optional
        Detected from the values when omitted (see :func:`detect_convention`).
    source : str
        Name of the file, used in messages.

    Returns
    -------
    (ndarray of uint8, same shape; str)
        Canonical labels and the convention used.

    Raises
    ------
    LabelConventionError
        Unknown convention, non-integer values, or values the convention does not define.
    """
    arr = np.asarray(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        rounded = np.round(arr)
        if not np.array_equal(arr, rounded):
            raise LabelConventionError(
                f"{source}: label values must be integers, got non-integer {arr.dtype} data"
            )
        arr = rounded.astype(np.int64)
    if convention is None:
        convention = detect_convention(arr, source=source)
    if convention not in CONVENTIONS:
        raise LabelConventionError(
            f"{source}: unknown label_convention {convention!r}; use one of {sorted(CONVENTIONS)}"
        )
    table = CONVENTIONS[convention]
    present = np.unique(arr)
    unknown = [int(v) for v in present if int(v) not in table]
    if unknown:
        raise LabelConventionError(
            f"{source}: values {unknown} are not part of the {convention!r} convention {sorted(table)}; "
            "check label_convention="
        )
    lut_keys = np.array(sorted(table), dtype=np.int64)
    lut_values = np.array([table[k] for k in lut_keys], dtype=np.uint8)
    out = lut_values[np.searchsorted(lut_keys, arr)]
    return out.astype(np.uint8, copy=False), convention
