"""write_ecg -> read_ecg round trips for xlsx, csv and WFDB."""

from __future__ import annotations

import numpy as np
import pytest

from cardiopredict import read_ecg, read_ecg_workbook, write_ecg
from cardiopredict.ecg.io import write_ecg_workbook
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import InputError


@pytest.mark.parametrize("name", ["ecg.xlsx", "ecg.csv"])
def test_table_round_trip_is_exact_in_float32(tmp_path, record, name):
    written = write_ecg(record, tmp_path / name)
    back = read_ecg(written)
    assert back.fs == record.fs
    assert back.leads == CANONICAL_LEADS
    assert back.signal.dtype == np.float32
    np.testing.assert_array_equal(back.signal, record.signal)
    assert back.meta["format"] == name.split(".")[1]
    assert back.meta["derived_leads"] == ()


@pytest.mark.parametrize("target", ["rec.hea", "rec"])
def test_wfdb_round_trip_within_adc_resolution(tmp_path, record, target):
    written = write_ecg(record, tmp_path / target)
    assert written == tmp_path / "rec.hea"
    assert (tmp_path / "rec.dat").is_file()
    back = read_ecg(written)
    assert back.meta["format"] == "wfdb"
    assert back.fs == record.fs
    # 16 bits spanning each lead's range: the error is at most half a step of range / 65535.
    step = np.ptp(record.signal, axis=1, keepdims=True) / 65535
    assert np.all(np.abs(back.signal - record.signal) <= step)
    # readable by record name without suffix too
    np.testing.assert_array_equal(read_ecg(tmp_path / "rec").signal, back.signal)


@pytest.mark.parametrize("name", ["ecg.xlsx", "ecg.csv", "ecg.hea"])
def test_nan_samples_survive_round_trip_and_are_flagged(tmp_path, record, name):
    signal = record.signal.copy()
    signal[7, 100:130] = np.nan  # a dropout in V2
    back = read_ecg(write_ecg(record.replace(signal=signal), tmp_path / name))
    assert np.isnan(back.lead("V2")[100:130]).all()
    assert not np.isnan(back.lead("V1")).any()
    assert back.meta["quality"]["V2"] == ["nan_run"]
    assert back.meta["quality"]["V1"] == []


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path, record):
    for name in ("a.xlsx", "b.csv", "c.hea"):
        write_ecg(record, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx", "b.csv", "c.dat", "c.hea"]


def test_failed_write_keeps_previous_file(tmp_path, record, monkeypatch):
    target = write_ecg(record, tmp_path / "ecg.csv")
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("cardiopredict.ecg.io._api.write_csv", boom)
    with pytest.raises(RuntimeError):
        write_ecg(record, target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ecg.csv"]


def test_wfdb_record_name_is_checked(tmp_path, record):
    with pytest.raises(InputError, match=r"WFDB record name 'p001.pre' .*letters, digits"):
        write_ecg(record, tmp_path / "p001.pre.hea")


def test_non_integer_sampling_rate_survives(tmp_path, record):
    odd = record.replace(fs=257.123456789)
    for name in ("a.csv", "a.xlsx"):
        assert read_ecg(write_ecg(odd, tmp_path / name)).fs == odd.fs


def test_explicit_format_overrides_suffix(tmp_path, record):
    written = write_ecg(record, tmp_path / "ecg.txt", format="csv")
    assert read_ecg(written).meta["format"] == "csv"
    with pytest.raises(InputError, match=r"ecg\.txt.*suffix"):
        write_ecg(record, tmp_path / "ecg.txt")
    with pytest.raises(InputError, match="format='edf' is not writable"):
        write_ecg(record, tmp_path / "ecg.edf", format="edf")


def test_workbook_round_trip_one_sheet_per_ecg(tmp_path, record):
    second = record.replace(signal=record.signal[:, ::-1].copy(), fs=1000.0, record_id="rec2")
    path = write_ecg_workbook([record, second], tmp_path / "cohort.xlsx")
    records = read_ecg_workbook(path, patient_id="P7")
    assert [r.record_id for r in records] == ["rec1", "rec2"]
    assert [r.fs for r in records] == [500.0, 1000.0]
    assert all(r.patient_id == "P7" for r in records)
    np.testing.assert_array_equal(records[1].signal, second.signal)
    # read_ecg needs to be told which sheet
    with pytest.raises(Exception, match=r"2 sheets.*sheet=.*read_ecg_workbook"):
        read_ecg(path)
    assert read_ecg(path, sheet="rec2").fs == 1000.0
    assert read_ecg(path, sheet=0).meta["sheet"] == "rec1"


def test_workbook_rejects_bad_sheet_names(tmp_path, record):
    with pytest.raises(InputError, match=r"'a/b' \(invalid\)"):
        write_ecg_workbook([record], tmp_path / "w.xlsx", sheet_names=["a/b"])
    with pytest.raises(InputError, match=r"'x' \(duplicate\)"):
        write_ecg_workbook([record, record], tmp_path / "w.xlsx", sheet_names=["x", "x"])
