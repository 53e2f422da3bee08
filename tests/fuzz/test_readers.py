"""Fuzz every reader: damaged valid files give a sound object or a CardioPredictError, nothing else.

For each reader (WFDB header and signal file, xlsx, csv, DICOM ECG, MUSE, Philips, HL7 aECG, SCP-ECG,
NIfTI, NIfTI label map, DICOM LGE, contour JSON/CSV, manifest) four kinds of damage are drawn by
hypothesis: truncation, byte flips, header-field edits and value injections (NaN, inf, huge, wrong
type). A returned object must be sound (ECG: canonical leads, float32, no inf, a plausible rate; with
the header intact, the seed's rate and every untouched sample unchanged: no silent change of fs, units
or lead order). Any other exception, or an example slower than the deadline, fails.
"""

from __future__ import annotations

import gzip
import io
import re
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardiopredict.errors import CardioPredictError

from .conftest import FUZZ, Seed

ECG = ("wfdb", "wfdb-signal", "xlsx", "csv", "dicom-ecg", "muse", "philips", "hl7-aecg", "scp")
LGE = ("nifti-gz", "nifti", "label-map", "dicom-lge")
OTHER = ("contours-json", "contours-csv", "manifest")
REPLACEMENTS = (
    "",
    "0",
    "-1",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e300",
    "-1e300",
    "1e9",
    "abc",
    "0.0001",
    "ü",
    "1,5",
)


# --- reading and checking ------------------------------------------------------------------------
def _read(kind: str, path: Path):
    if kind in ECG:
        from cardiopredict import read_ecg

        return read_ecg(path.with_suffix(".hea") if kind == "wfdb-signal" else path)
    if kind in ("nifti-gz", "nifti"):
        from cardiopredict import read_lge

        return read_lge(path, labels=None)
    if kind == "label-map":
        from cardiopredict.cmr.io import read_label_map

        return read_label_map(path)
    if kind == "dicom-lge":
        from cardiopredict import read_lge

        return read_lge(path.parent)
    if kind.startswith("contours"):
        from cardiopredict.cmr.io import read_contours

        return read_contours(path)
    from cardiopredict import read_manifest

    return read_manifest(
        path, label_column="response", label_values=(0, 1), file_columns=("ecg_pre",),
        optional_file_columns=("ecg_post",),
    )  # fmt: skip


def _check_sound(kind: str, result) -> None:
    """What any object a reader returns must satisfy, however damaged its file was."""
    if kind in ECG:
        from cardiopredict.ecg.io import QUALITY_FLAGS
        from cardiopredict.ecg.leads import CANONICAL_LEADS

        assert result.leads == CANONICAL_LEADS
        assert result.signal.dtype == np.float32 and result.signal.shape[0] == 12
        assert not np.isinf(result.signal).any(), "inf reached the record"
        assert np.isfinite(result.fs) and result.fs >= 100
        assert set(result.meta["quality"]) == set(CANONICAL_LEADS)
        assert all(flag in QUALITY_FLAGS for flags in result.meta["quality"].values() for flag in flags)
        # a missing sample is always named by a flag on its lead
        for lead, row in zip(result.leads, result.signal, strict=True):
            if np.isnan(row).any():
                assert {"nan_run", "all_nan"} & set(result.meta["quality"][lead]), lead
    elif kind in ("nifti-gz", "nifti", "dicom-lge"):
        assert np.isfinite(result.images).all()
        assert all(np.isfinite(s) and s > 0 for s in result.pixel_spacing_mm)
    elif kind == "label-map":
        labels, convention = result
        assert labels.ndim == 3 and isinstance(convention, str)
    elif kind.startswith("contours"):
        for entry in result:
            for value in (entry.epicardium, entry.endocardium, entry.insertion_point):
                assert value is None or np.isfinite(value).all()
    else:
        assert len(result.patient_ids) == len(set(result.patient_ids))


def _outcome(kind: str, seed: Seed, folder: Path, data: bytes):
    """The reader's result on ``data``, or None when it raised a CardioPredictError."""
    path = seed.write(folder, data)
    try:
        result = _read(kind, path)
    except CardioPredictError as error:
        assert str(error), "an error without a message"
        return None
    _check_sound(kind, result)
    return result


# --- damage --------------------------------------------------------------------------------------
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def _replace_token(data: bytes, index: int, replacement: str, *, start: int = 0) -> bytes:
    tokens = [m for m in _NUMBER.finditer(data) if m.start() >= start]
    if not tokens:
        return data
    token = tokens[index % len(tokens)]
    return data[: token.start()] + replacement.encode() + data[token.end() :]


def _zip_member_edit(data: bytes, member: str, edit) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            blob = source.read(info)
            target.writestr(info, edit(blob) if info.filename == member else blob)
    return out.getvalue()


_DICOM_FIELDS = {
    "dicom-ecg": (
        "SamplingFrequency",
        "NumberOfWaveformSamples",
        "NumberOfWaveformChannels",
        "WaveformBitsAllocated",
    ),
    "dicom-lge": ("Rows", "Columns", "PixelSpacing", "ImagePositionPatient", "RescaleSlope", "BitsAllocated"),
}
_DICOM_VALUES = ("0", "-1", "1e9", "abc", "", "3\\4\\5", "nan", "65535")
# NIfTI-1 header fields: (offset, struct format): dim[0..3], datatype, bitpix, pixdim[1..3], vox_offset,
# scl_slope, qform_code, sform_code
_NIFTI_FIELDS = ((40, "<h"), (42, "<h"), (44, "<h"), (70, "<h"), (72, "<h"), (80, "<f"), (84, "<f"),
                 (108, "<f"), (112, "<f"), (252, "<h"), (254, "<h"))  # fmt: skip
_NIFTI_VALUES = (0, -1, 1, 3, 255, 32767, float("nan"), float("inf"), 1e30)


def _edit_dicom(kind: str, data: bytes, field_index: int, value_index: int) -> bytes:
    import pydicom

    dataset = pydicom.dcmread(io.BytesIO(data))
    name = _DICOM_FIELDS[kind][field_index % len(_DICOM_FIELDS[kind])]
    target = dataset.WaveformSequence[0] if kind == "dicom-ecg" else dataset
    try:
        with warnings.catch_warnings():  # pydicom warns about the hostile value we set on purpose
            warnings.simplefilter("ignore")
            setattr(target, name, _DICOM_VALUES[value_index % len(_DICOM_VALUES)])
            out = io.BytesIO()
            dataset.save_as(out, enforce_file_format=False)
    except Exception:  # pydicom refuses the value itself: write the raw file with a flipped byte instead
        return data[:200] + bytes([data[200] ^ 0xFF]) + data[201:]
    return out.getvalue()


def _edit_nifti(data: bytes, gz: bool, field_index: int, value_index: int) -> bytes:
    raw = bytearray(gzip.decompress(data) if gz else data)
    offset, fmt = _NIFTI_FIELDS[field_index % len(_NIFTI_FIELDS)]
    value = _NIFTI_VALUES[value_index % len(_NIFTI_VALUES)]
    if fmt == "<h":
        value = int(value) if np.isfinite(value) and abs(value) < 32768 else 32767
    struct.pack_into(fmt, raw, offset, value)
    return gzip.compress(bytes(raw)) if gz else bytes(raw)


def field_edit(kind: str, seed: Seed, draw) -> bytes:
    """Change one header field (or, for text, one number anywhere) to a hostile value."""
    index, value = draw(st.integers(0, 10_000)), draw(st.integers(0, 100))
    if kind in ("dicom-ecg", "dicom-lge"):
        return _edit_dicom(kind, seed.data, index, value)
    if kind in ("nifti-gz", "nifti", "label-map"):
        return _edit_nifti(seed.data, seed.name.endswith(".gz"), index, value)
    if kind == "xlsx":
        return _zip_member_edit(
            seed.data, "xl/worksheets/sheet1.xml",
            lambda xml: _replace_token(xml, index, REPLACEMENTS[value % len(REPLACEMENTS)]),
        )  # fmt: skip
    if seed.text:
        return _replace_token(seed.data, index, REPLACEMENTS[value % len(REPLACEMENTS)])
    offset = index % max(len(seed.data) - 2, 1)  # binary (SCP, WFDB signal): a 16-bit field rewritten
    return seed.data[:offset] + struct.pack("<h", value * 331 - 16000) + seed.data[offset + 2 :]


# --- the properties ------------------------------------------------------------------------------
ALL = (*ECG, *LGE, *OTHER)


@pytest.mark.parametrize("kind", ALL)
@FUZZ
@given(data=st.data())
def test_truncated_files(seeds, tmp_path_factory, kind, data):
    seed = seeds[kind]
    cut = data.draw(st.integers(0, len(seed.data) - 1), label="cut")
    result = _outcome(kind, seed, tmp_path_factory.mktemp(kind), seed.data[:cut])
    if result is not None and kind in ECG and seed.fs is not None and kind != "wfdb":
        assert result.fs == seed.fs, "a truncated body changed the sampling rate"


@pytest.mark.parametrize("kind", ALL)
@FUZZ
@given(data=st.data())
def test_byte_flips(seeds, tmp_path_factory, kind, data):
    seed = seeds[kind]
    blob = bytearray(seed.data)
    for _ in range(data.draw(st.integers(1, 8), label="n_flips")):
        position = data.draw(st.integers(0, len(blob) - 1), label="position")
        blob[position] ^= data.draw(st.integers(1, 255), label="xor")
    result = _outcome(kind, seed, tmp_path_factory.mktemp(kind), bytes(blob))
    if result is not None and kind == "wfdb-signal":  # the header is intact: its rate must stand
        assert result.fs == seed.fs


@pytest.mark.parametrize("kind", ALL)
@FUZZ
@given(data=st.data())
def test_header_field_edits(seeds, tmp_path_factory, kind, data):
    seed = seeds[kind]
    _outcome(kind, seed, tmp_path_factory.mktemp(kind), field_edit(kind, seed, data.draw))


def _body_start(kind: str, blob: bytes) -> int:
    """Offset of the first sample cell below the lead-name row (csv) or of the third sheet row (xlsx)."""
    if kind == "csv":
        return len(b"\n".join(blob.split(b"\n")[:3])) + 1
    return blob.index(b'<row r="4"')


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
@FUZZ
@given(data=st.data())
def test_value_injection_changes_nothing_else(seeds, tmp_path_factory, kind, data):
    """NaN, inf, huge, text or empty in one sample cell: the record (if any) keeps fs, units and lead
    order, every other sample is exactly as written, and the damaged lead is flagged."""
    from cardiopredict import read_ecg

    seed = seeds[kind]
    original = read_ecg(seed.write(tmp_path_factory.mktemp("clean")))
    index = data.draw(st.integers(0, 10_000), label="cell")
    value = data.draw(st.sampled_from(REPLACEMENTS), label="value")

    def inject(blob: bytes) -> bytes:
        return _replace_token(blob, index, value, start=_body_start(kind, blob))

    damaged = (
        inject(seed.data)
        if kind == "csv"
        else _zip_member_edit(seed.data, "xl/worksheets/sheet1.xml", inject)
    )
    result = _outcome(kind, seed, tmp_path_factory.mktemp(kind), damaged)
    if result is None:
        return
    assert result.fs == original.fs and result.leads == original.leads
    changed = ~((result.signal == original.signal) | (np.isnan(result.signal) & np.isnan(original.signal)))
    assert changed.sum() <= 1, "more than the injected sample changed"
    for lead_index in np.flatnonzero(changed.any(axis=1)):
        if not np.isfinite(result.signal[lead_index]).all():
            assert result.meta["quality"][result.leads[lead_index]], "a damaged lead without a flag"


@pytest.mark.parametrize("kind", ["nifti-gz", "contours-json", "contours-csv", "manifest", "hl7-aecg"])
@FUZZ
@given(data=st.data())
def test_value_injection_in_data(seeds, tmp_path_factory, kind, data):
    """Special values where the data are (voxels, coordinates, cells, digits)."""
    seed = seeds[kind]
    value = data.draw(st.sampled_from(REPLACEMENTS), label="value")
    if kind == "nifti-gz":
        raw = bytearray(gzip.decompress(seed.data))
        special = np.array([np.nan, np.inf, -np.inf, 1e38, 0.0], np.float32)
        at = 352 + 4 * data.draw(st.integers(0, (len(raw) - 356) // 4), label="voxel")
        raw[at : at + 4] = special[data.draw(st.integers(0, 4))].tobytes()
        damaged = gzip.compress(bytes(raw))
    else:
        start = seed.data.find(b"<digits>") if kind == "hl7-aecg" else seed.data.find(b"\n") + 1
        damaged = _replace_token(seed.data, data.draw(st.integers(0, 10_000)), value, start=max(start, 0))
    _outcome(kind, seed, tmp_path_factory.mktemp(kind), damaged)


def test_every_seed_reads_cleanly(seeds, tmp_path):
    """The undamaged seeds are valid: a fuzz failure is about the damage, not the seed."""
    for kind in ALL:
        assert _outcome(kind, seeds[kind], tmp_path / kind, seeds[kind].data) is not None, kind
