"""Detect an ECG file's format from its content (the suffix is only a tie-breaker)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from cardiopredict.errors import CorruptFileError, ECGFormatError, EmptyDataError

FORMATS = (
    "wfdb",
    "xlsx",
    "xls",
    "csv",
    "dicom",
    "muse-xml",
    "philips-xml",
    "hl7-aecg",
    "scp-ecg",
)
_XML_ROOTS = {"restingecg": "muse-xml", "restingecgdata": "philips-xml", "annotatedecg": "hl7-aecg"}
# "<name>[/<n_segments>] <n_signals> [<fs>...]" - the record line of a WFDB header.
_WFDB_RECORD_LINE = re.compile(
    r"^[\w\-.~]+(?:/\d+)?[ \t]+\d+(?:[ \t]+[\d.eE+-]+(?:/[\d.eE+-]+)?(?:\([^)]*\))?)?"
)
_XML_ROOT = re.compile(rb"<(?!\?|!)(?:[\w.-]+:)?([\w.-]+)")
# Containers we recognise but do not read: magic bytes -> what the file is and how to convert it.
_UNSUPPORTED = (
    (b"\x89HDF\r\n\x1a\n", "HDF5 (a research container, e.g. CODE/PTB-XL exports)", "convert it to WFDB"),
    (b"\x93NUMPY", "a NumPy .npy array", "write it with cardiopredict.write_ecg (WFDB or CSV) with its fs"),
    (
        b"MATLAB 5.0 MAT-file",
        "a MATLAB .mat file without a WFDB header",
        "add its .hea header or convert to WFDB",
    ),
    (b"%PDF", "a PDF (a printed ECG)", "export the waveform itself (XML, DICOM, WFDB or CSV), not a print"),
    (b"\x89PNG", "a PNG image (a printed ECG)", "export the waveform itself, not an image"),
    (b"\xff\xd8\xff", "a JPEG image (a printed ECG)", "export the waveform itself, not an image"),
    (b"\x1f\x8b", "a gzip archive", "decompress it first"),
)


def resolve_wfdb_header(path: Path) -> Path | None:
    """Header belonging to ``path`` when it names a WFDB record (``1``, ``1.hea``, ``1.dat``, ``1.mat``)."""
    if path.suffix.lower() == ".hea" and path.is_file():
        return path
    for candidate in (path.with_name(path.name + ".hea"), path.with_suffix(".hea")):
        if candidate.is_file() and _looks_like_wfdb_header(candidate.read_bytes()[:4096]):
            return candidate
    return None


def sniff_format(path: Path) -> tuple[str, Path]:
    """Return ``(format, path_to_read)``.

    Parameters
    ----------
    path : Path
        File as the user gave it. A WFDB record may be named without suffix or by its signal file.

    Raises
    ------
    FileNotFoundError-like ECGFormatError, EmptyDataError
    """
    if not path.exists():
        header = resolve_wfdb_header(path)
        if header is not None:
            return "wfdb", header
        raise ECGFormatError(f"ECG file {path} does not exist. Check the path (relative to {Path.cwd()}).")
    if path.is_dir():
        raise ECGFormatError(f"{path} is a folder, not an ECG file. Give the path of one file.")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        raise EmptyDataError(f"ECG file {path} is empty (0 bytes). Re-export the ECG.")

    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text: Excel "Unicode text", Philips XML
        text16 = head.decode("utf-16", errors="ignore").lstrip()
        return (_sniff_xml(path, text16.encode("utf-8")) if text16.startswith("<") else "csv"), path
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path), path
    _refuse_unsupported(path, head)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "xls", path
    if head[128:132] == b"DICM":
        return "dicom", path
    if len(head) >= 22 and head[16:22] == b"SCPECG":
        return "scp-ecg", path
    if path.suffix.lower() in {".dat", ".mat"}:
        header = resolve_wfdb_header(path)
        if header is not None:
            return "wfdb", header
    if path.suffix.lower() == ".scp":
        return "scp-ecg", path

    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return _sniff_xml(path, head), path
    if _looks_like_wfdb_header(head):
        return "wfdb", path
    if _is_text(head):
        return "csv", path
    raise ECGFormatError(
        f"Cannot tell the format of {path}: it is binary but not xlsx/xls, DICOM, SCP-ECG, or a WFDB "
        "signal file with its .hea header beside it. Supported formats: " + ", ".join(FORMATS) + "."
    )


def _refuse_unsupported(path: Path, head: bytes) -> None:
    for magic, what, fix in _UNSUPPORTED:
        if head.startswith(magic) and not (magic == b"MATLAB 5.0 MAT-file" and resolve_wfdb_header(path)):
            raise ECGFormatError(f"{path} is {what}, which cardiopredict does not read: {fix}.")
    if head[:8] == b"0       " and head[184:192].strip().isdigit():  # EDF: version "0", header bytes
        raise ECGFormatError(
            f"{path} is EDF/EDF+, which cardiopredict does not read: convert it to WFDB "
            "(e.g. wfdb.io.convert.edf.read_edf, then wfdb.wrsamp)."
        )


def _sniff_zip(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise CorruptFileError(
            f"{path} starts like a zip/xlsx file but the archive is damaged or truncated. Re-export it."
        ) from None
    if any(name.startswith("xl/") for name in names):
        return "xlsx"
    raise ECGFormatError(f"{path} is a zip archive but not an Excel workbook (.xlsx). Unzip it first.")


def _sniff_xml(path: Path, head: bytes) -> str:
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.DOTALL)
    match = _XML_ROOT.search(body)
    root = match.group(1).decode("ascii", "replace").lower() if match else ""
    if root in _XML_ROOTS:
        return _XML_ROOTS[root]
    raise ECGFormatError(
        f"{path} is XML with root element <{root or '?'}>, which is not a known ECG format. "
        "Supported XML: GE MUSE (<RestingECG>), Philips (<restingecgdata>), HL7 aECG (<AnnotatedECG>)."
    )


def _looks_like_wfdb_header(head: bytes) -> bool:
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines or _WFDB_RECORD_LINE.match(lines[0]) is None or "," in lines[0] or ";" in lines[0]:
        return False
    n_signals = int(lines[0].split()[1])
    return n_signals == 0 or len(lines) >= 2


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the end of the 8 kB window is still text.
        return error.start >= len(head) - 3 or _latin1_text(head)
    return True


def _latin1_text(head: bytes) -> bool:
    return all(byte >= 0x20 or byte in b"\t\r\n" for byte in head)
