"""WFDB records (``.hea`` header + ``.dat``/``.mat`` signal file) via the ``wfdb`` package."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np
import wfdb
from wfdb.io._signal import DAT_FMTS

from cardiopredict.ecg.io._raw import RawECG
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import CorruptFileError, ECGFormatError, EmptyDataError, InputError

_RECORD_NAME = re.compile(r"[A-Za-z0-9_-]+")


def read_wfdb(header: Path) -> RawECG:
    """Read a single-segment WFDB record from its header path.

    The header text is checked before the signal file is opened (record line, one signal line per
    signal, a known storage format), so a bad header is blamed on the header. A header without a
    sampling frequency gives ``fs=None`` (``wfdb`` would silently assume 250 Hz). The 16-bit checksums in
    the header are verified, so a damaged signal file is reported rather than read as plausible-looking
    numbers. Header comments (age, sex, diagnoses, sometimes names) are not kept.
    """
    stated_fs = _check_header_text(header)
    record = _read_record(header)
    if record.d_signal is None or record.n_sig == 0 or record.sig_len == 0:
        raise EmptyDataError(f"WFDB record {header} holds no samples. Re-export the ECG.")
    _check_checksums(header, record)
    physical = record.dac(return_res=64)  # (n_samples, n_leads) float64, NaN where the ADC was invalid
    return RawECG(
        signal=np.ascontiguousarray(physical.T),
        lead_names=list(record.sig_name),
        fs=float(record.fs) if stated_fs else None,
        units=[unit or None for unit in (record.units or [None] * record.n_sig)],
        format="wfdb",
        meta={"wfdb_fmt": sorted(set(record.fmt or []))},
    )


def _check_header_text(header: Path) -> bool:
    """Check the record and signal lines; return True when the record line states a sampling frequency."""
    try:
        text = header.read_text(encoding="latin-1")
    except OSError as error:
        raise CorruptFileError(f"WFDB header {header} cannot be read ({error}).") from None
    lines = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise EmptyDataError(f"WFDB header {header} holds no record line. Re-export the record.")
    record_line = lines[0]
    if len(record_line) < 2 or not record_line[1].isdigit():
        raise CorruptFileError(
            f"WFDB header {header}: the record line {' '.join(record_line)!r} does not read "
            "'<name> <n_signals> <fs> <n_samples>'. Fix the header's first line."
        )
    if "/" in record_line[0]:
        raise ECGFormatError(f"{header} is a multi-segment WFDB record; convert it to one segment first.")
    n_signals, signal_lines = int(record_line[1]), lines[1:]
    if n_signals != len(signal_lines):
        raise CorruptFileError(
            f"WFDB header {header} announces {n_signals} signals on its record line but has "
            f"{len(signal_lines)} signal line(s). Fix the number on the record line, or restore the missing "
            "signal lines."
        )
    formats = {re.match(r"\d*", fields[1]).group() if len(fields) > 1 else "" for fields in signal_lines}
    unknown = sorted(formats - set(DAT_FMTS))
    if unknown:
        raise CorruptFileError(
            f"WFDB header {header} gives storage format(s) {', '.join(repr(f) for f in unknown)}, which WFDB "
            f"does not define (known: {', '.join(DAT_FMTS)}). Fix the format field of the signal lines."
        )
    return len(record_line) >= 3


def _read_record(header: Path) -> wfdb.Record:
    """``wfdb.rdrecord``; a failure is blamed on the header when the header alone does not parse."""
    name = str(header.with_suffix(""))
    try:
        return wfdb.rdrecord(name, physical=False)
    except FileNotFoundError as error:
        raise CorruptFileError(
            f"WFDB header {header} refers to a signal file that is missing ({error.filename or error}). "
            "Keep the .dat/.mat file beside the .hea file."
        ) from None
    except Exception as error:  # wfdb raises ValueError, TypeError, IndexError, struct errors ...
        detail = f"{type(error).__name__}: {' '.join(str(error).split())[:160]}"
    try:
        wfdb.rdheader(name)
    except Exception:  # the header itself is the problem
        raise CorruptFileError(
            f"WFDB header {header} cannot be parsed ({detail}). Check its record line "
            "('<name> <n_signals> <fs> <n_samples>') and its signal lines ('<file> <format> <gain>/<unit> "
            "...'); re-export it."
        ) from None
    raise CorruptFileError(
        f"The signal file of WFDB record {header} cannot be read ({detail}): it is damaged or truncated, "
        "or holds fewer samples than the header announces. Re-export it."
    )


def _check_checksums(header: Path, record: wfdb.Record) -> None:
    if record.checksum is None:
        return
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
