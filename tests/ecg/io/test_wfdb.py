"""WFDB reader on the real LUDB records and on damaged copies."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from cardiopredict import read_ecg
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import CorruptFileError


@pytest.mark.realdata
def test_ludb_record_reads_as_canonical_12_leads_in_mv(ludb_dir):
    record = read_ecg(ludb_dir / "data" / "1.hea")
    assert record.signal.shape == (12, 5000)
    assert record.fs == 500.0
    assert record.leads == CANONICAL_LEADS
    assert record.signal.dtype == np.float32
    assert record.meta["format"] == "wfdb"
    assert record.meta["derived_leads"] == ()
    assert all(flags == [] for flags in record.meta["quality"].values())
    # LUDB as distributed rescales every lead to span exactly 1 "mV" (true of all 150 records: the
    # per-lead ADC gains differ). Getting exactly 1.000 checks that each lead's gain and baseline were
    # applied; it also means LUDB amplitudes are not physiological (Einthoven III = II - I fails).
    np.testing.assert_allclose(np.ptp(record.signal, axis=1), 1.0, atol=1e-3)


@pytest.mark.realdata
def test_ludb_header_comments_stay_out_of_meta(ludb_dir):
    record = read_ecg(ludb_dir / "data" / "1", patient_id="P001")
    text = repr(record.meta)
    assert "sex" not in text and "age" not in text and "Rhythm" not in text
    assert record.patient_id == "P001"
    assert record.record_id == "1"


@pytest.mark.realdata
def test_ludb_signal_file_path_and_header_path_agree(ludb_dir):
    by_header = read_ecg(ludb_dir / "data" / "2.hea")
    by_signal = read_ecg(ludb_dir / "data" / "2.dat")
    np.testing.assert_array_equal(by_header.signal, by_signal.signal)


@pytest.fixture
def wfdb_copy(tmp_path, record):
    from cardiopredict import write_ecg

    return write_ecg(record, tmp_path / "r.hea")


def test_truncated_signal_file_is_corrupt(wfdb_copy):
    dat = wfdb_copy.with_suffix(".dat")
    dat.write_bytes(dat.read_bytes()[:5000])
    with pytest.raises(CorruptFileError, match=r"r\.hea.*truncated"):
        read_ecg(wfdb_copy)


def test_flipped_bytes_fail_the_checksum_and_name_the_lead(wfdb_copy):
    dat = wfdb_copy.with_suffix(".dat")
    data = bytearray(dat.read_bytes())
    data[24 * 10 + 14] ^= 0xFF  # sample 10 of lead 8 (V2): 12 leads x 2 bytes per sample frame
    dat.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"checksum of lead\(s\) V2 .*Re-export"):
        read_ecg(wfdb_copy)


def test_missing_signal_file(wfdb_copy):
    wfdb_copy.with_suffix(".dat").unlink()
    with pytest.raises(CorruptFileError, match=r"missing.*beside the \.hea"):
        read_ecg(wfdb_copy)


def test_missing_record(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        read_ecg(tmp_path / "nope.hea")


@pytest.mark.realdata
def test_copy_of_real_record_keeps_values(tmp_path, ludb_dir):
    for suffix in (".hea", ".dat"):
        shutil.copy(ludb_dir / "data" / f"3{suffix}", tmp_path / f"3{suffix}")
    np.testing.assert_array_equal(
        read_ecg(tmp_path / "3.hea").signal, read_ecg(ludb_dir / "data" / "3.hea").signal
    )


def test_header_units_in_microvolts_are_converted(tmp_path, record):
    import wfdb

    wfdb.wrsamp(
        "uv", fs=500, units=["uV"] * 12, sig_name=[lead.lower() for lead in record.leads],
        p_signal=record.signal.T.astype(np.float64) * 1000, fmt=["16"] * 12, write_dir=str(tmp_path),
    )  # fmt: skip
    back = read_ecg(tmp_path / "uv.hea")
    assert back.meta["units_in_file"] == ["uV"]
    np.testing.assert_allclose(back.signal, record.signal, atol=1e-3)
