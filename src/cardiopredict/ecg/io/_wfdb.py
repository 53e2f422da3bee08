"""WFDB records (``.hea`` header + ``.dat``/``.mat`` signal file) via the ``wfdb`` package."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import wfdb

from cardiopredict.ecg.io._raw import RawECG
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import CorruptFileError, ECGFormatError, EmptyDataError, InputError

_RECORD_NAME = re.compile(r"[A-Za-z0-9_-]+")


def read_wfdb(header: Path) -> RawECG:
    """Read a single-segment WFDB record from its header path.

    The 16-bit checksums in the header are verified, so a damaged signal file is reported rather than
    read as plausible-looking numbers. Header comments (age, sex, diagnoses, sometimes names) are not
    kept.
    """
    record_path = str(header.with_suffix(""))
    try:
        record = wfdb.rdrecord(record_path, physical=False)
    except FileNotFoundError as error:
        raise CorruptFileError(
            f"WFDB header {header} refers to a signal file that is missing ({error.filename or error}). "
            "Keep the .dat/.mat file beside the .hea file."
        ) from None
    except (ValueError, IndexError, TypeError, OSError) as error:
        raise CorruptFileError(
            f"WFDB record {header} cannot be read: {error}. The header or the signal file is damaged or "
            "truncated (the signal file holds fewer samples than the header announces). Re-export it."
        ) from None
    if isinstance(record, wfdb.MultiRecord):  # pragma: no cover - rdrecord returns Record unless m2s=False
        raise ECGFormatError(f"{header} is a multi-segment WFDB record; convert it to one segment first.")
    if record.d_signal is None or record.n_sig == 0 or record.sig_len == 0:
        raise EmptyDataError(f"WFDB record {header} holds no samples. Re-export the ECG.")
    if record.checksum is not None:
        computed = record.calc_checksum()
        bad = [
            name
            for name, stated, found in zip(record.sig_name, record.checksum, computed, strict=True)
            if stated is not None and int(stated) % 65536 != int(found) % 65536
        ]
        if bad:
            raise CorruptFileError(
                f"WFDB record {header}: the checksum of lead(s) {', '.join(bad)} does not match the header; "
                "the signal file is damaged or belongs to another header. Re-export or re-download it."
            )
    physical = record.dac(return_res=64)  # (n_samples, n_leads) float64, NaN where the ADC was invalid
    return RawECG(
        signal=np.ascontiguousarray(physical.T),
        lead_names=list(record.sig_name),
        fs=float(record.fs) if record.fs else None,
        units=[unit or None for unit in (record.units or [None] * record.n_sig)],
        format="wfdb",
        meta={"wfdb_fmt": sorted(set(record.fmt or []))},
    )


def write_wfdb(record: ECGRecord, path: Path) -> Path:
    """Write ``record`` as ``<dir>/<name>.hea`` + ``<name>.dat`` (format 16, gains chosen by ``wfdb``).

    Each lead's gain is chosen by ``wfdb`` to span its range with 16 bits, so the stored precision is
    ``1 / adc_gain`` mV per lead (typically < 0.1 µV). NaN samples are stored as the invalid value.
    Both files appear atomically: they are written in a temporary folder beside the target and moved.
    """
    name = path.stem if path.suffix.lower() == ".hea" else path.name
    if not _RECORD_NAME.fullmatch(name):
        raise InputError(
            f"WFDB record name {name!r} (from {path}) may hold only letters, digits, '-' and '_'. "
            "Rename it, e.g. p001_pre.hea."
        )
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    n_leads = len(record.leads)
    with tempfile.TemporaryDirectory(dir=folder, prefix=f".{name}.") as tmp:
        wfdb.wrsamp(
            name,
            fs=record.fs,
            units=["mV"] * n_leads,
            sig_name=list(record.leads),
            p_signal=record.signal.T.astype(np.float64),
            fmt=["16"] * n_leads,
            write_dir=tmp,
        )
        Path(tmp, f"{name}.dat").replace(folder / f"{name}.dat")
        Path(tmp, f"{name}.hea").replace(folder / f"{name}.hea")
    return folder / f"{name}.hea"
