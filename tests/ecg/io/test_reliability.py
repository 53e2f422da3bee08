"""Issue 15 at the reader: every failure is named, the rate is never assumed, bad values are flagged."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cardiopredict import read_ecg, write_ecg
from cardiopredict.ecg import quality_issues
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import (
    CorruptFileError,
    ECGFormatError,
    EmptyDataError,
    LeadError,
    SamplingRateError,
    UnknownLeadError,
)

from .conftest import hl7_aecg_xml, make_signal, muse_xml, philips_xml


def _wfdb_pair(tmp_path, record):
    header = write_ecg(record, tmp_path / "rec.hea")
    return header, header.read_text().splitlines()


def test_wfdb_header_without_sampling_frequency_is_never_read_at_250_hz(tmp_path, record):
    header, lines = _wfdb_pair(tmp_path, record)
    name, n_signals = lines[0].split()[:2]
    header.write_text("\n".join([f"{name} {n_signals}", *lines[1:]]) + "\n")
    with pytest.raises(SamplingRateError, match=r"rec\.hea does not state its sampling rate.*fs=<Hz>"):
        read_ecg(header)
    assert read_ecg(header, fs=500).fs == 500.0


def test_inconsistent_wfdb_header_is_blamed_on_the_header(tmp_path, record):
    header, lines = _wfdb_pair(tmp_path, record)
    fields = lines[0].split()
    header.write_text("\n".join([" ".join([fields[0], "14", *fields[2:]]), *lines[1:]]) + "\n")
    with pytest.raises(CorruptFileError, match=r"announces 14 signals .* but has 12 signal line\(s\)"):
        read_ecg(header)
    header.write_text("\n".join([lines[0], *(re.sub(r" 16 ", " 99 ", line, count=1) for line in lines[1:])]))
    with pytest.raises(CorruptFileError, match=r"storage format\(s\) '99', which WFDB does not define"):
        read_ecg(header)


def test_dicom_without_waveform_says_so(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    with pytest.raises(EmptyDataError, match=r"holds no waveform .*modality CT, SOP class CT Image Storage"):
        read_ecg(get_testdata_file("CT_small.dcm"))
    dataset = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    del dataset.WaveformSequence
    dataset.save_as(tmp_path / "empty.dcm")
    with pytest.raises(EmptyDataError, match=r"no WaveformSequence \(5400,0100\)"):
        read_ecg(tmp_path / "empty.dcm")


def test_muse_without_waveform_is_empty_not_corrupt(tmp_path, vendor_signal):
    text = muse_xml(vendor_signal).decode("latin-1")
    path = tmp_path / "summary.xml"
    path.write_bytes(re.sub(r"<Waveform>.*</Waveform>", "", text, flags=re.S).encode("latin-1"))
    with pytest.raises(EmptyDataError, match=r"holds no waveform samples \(no <waveformdata>"):
        read_ecg(path)


def test_duplicated_lead_is_not_called_unknown(tmp_path, record):
    path = write_ecg(record, tmp_path / "dup.csv")
    lines = path.read_text().splitlines()
    lines[2] = lines[2].replace("aVL", "V1")
    path.write_text("\n".join(lines))
    with pytest.raises(LeadError, match=r"Lead V1 appears twice in .*dup\.csv") as caught:
        read_ecg(path)
    assert not isinstance(caught.value, UnknownLeadError)


@pytest.mark.parametrize(
    ("magic", "expected"),
    [
        (b"\x89HDF\r\n\x1a\n", r"HDF5 \(a research container.*convert it to WFDB"),
        (b"%PDF-1.7\n", r"a PDF \(a printed ECG\)"),
        (b"\x93NUMPY\x01\x00", r"NumPy \.npy"),
    ],
)
def test_known_unsupported_containers_are_named(tmp_path, magic, expected):
    path = tmp_path / "ecg.bin"
    path.write_bytes(magic + bytes(range(256)) * 4)
    with pytest.raises(ECGFormatError, match=expected):
        read_ecg(path)


def test_unexpected_library_failure_becomes_a_named_error(tmp_path, record, monkeypatch):
    path = write_ecg(record, tmp_path / "ecg.csv")

    def broken(*args, **kwargs):
        raise MemoryError("struct unpack failed")

    monkeypatch.setattr("cardiopredict.ecg.io._api.read_csv", broken)
    with pytest.raises(CorruptFileError, match=r"csv file .*ecg\.csv cannot be read \(MemoryError"):
        read_ecg(path)


@pytest.mark.parametrize(("cell", "flag"), [("inf", "non_finite"), ("-inf", "non_finite"), ("1e300", "huge")])
def test_inf_and_huge_cells_become_missing_and_flag_their_lead(tmp_path, record, cell, flag):
    path = write_ecg(record, tmp_path / "ecg.csv")
    lines = path.read_text().splitlines()
    row = lines[100].split(",")
    row[CANONICAL_LEADS.index("V4")] = cell
    lines[100] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    back = read_ecg(path)
    assert not np.isinf(back.signal).any()
    assert np.isnan(back.lead("V4")).sum() == 1
    assert back.meta["quality"]["V4"] == ["nan_run", flag]
    assert quality_issues(back) == {"V4": ["nan_run", flag]}


def test_inf_in_lead_i_is_inherited_by_derived_limb_leads(tmp_path, record):
    eight = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
    signal = record.signal[[CANONICAL_LEADS.index(lead) for lead in eight]].copy()
    signal[0, 50] = np.inf
    path = tmp_path / "eight.csv"
    body = "\n".join(",".join(str(v) for v in row) for row in signal.T.tolist())
    path.write_text("sampling_rate_hz,500\nunits,mV\n" + ",".join(eight) + "\n" + body + "\n")
    back = read_ecg(path)
    assert "non_finite" in back.meta["quality"]["I"] and "non_finite" in back.meta["quality"]["aVR"]
    assert back.meta["quality"]["V1"] == []


def test_saturated_lead_is_flagged_clipped_with_its_name(tmp_path, record):
    signal = record.signal.copy()
    lead_ii = signal[1] if signal[1].max() > -signal[1].min() else -signal[1]  # R waves upwards
    signal[1] = np.minimum(lead_ii, 0.6 * lead_ii.max())  # lead II saturates on every R wave
    back = read_ecg(write_ecg(record.replace(signal=signal), tmp_path / "clip.csv"))
    assert "clipped" in back.meta["quality"]["II"]
    assert [lead for lead, flags in back.meta["quality"].items() if "clipped" in flags] == ["II"]


def test_quality_issues_judges_records_built_in_memory():
    signal = make_signal(2000)
    signal[6:12] = 0.0
    record = ECGRecord(signal=signal, fs=500.0, leads=CANONICAL_LEADS)
    issues = quality_issues(record)
    assert issues == {lead: ["flat"] for lead in CANONICAL_LEADS[6:]}


def _beats(fs_true: float, seconds: float, *, rr_s: float, mains_hz: float = 0.0) -> np.ndarray:
    """(12, n) mV: 60 ms Gaussian R waves every ``rr_s`` seconds, sampled at ``fs_true``."""
    t = np.arange(int(seconds * fs_true)) / fs_true
    beat = np.exp(-(((t % rr_s) - 0.3) ** 2) / (2 * 0.012**2))
    gains = np.linspace(0.5, 1.5, 12)[:, None]
    noise = 0.01 * np.random.default_rng(0).standard_normal((12, t.size))
    return gains * beat + noise + 0.05 * np.sin(2 * np.pi * mains_hz * t)


def test_implausible_rate_is_a_warning_with_the_reason(tmp_path):
    slow = ECGRecord(signal=_beats(1000.0, 10.0, rr_s=0.8), fs=250.0, leads=CANONICAL_LEADS)
    back = read_ecg(write_ecg(slow, tmp_path / "slow.csv"))  # 800 ms RR at 1000 Hz stated as 250 Hz
    assert back.meta["record_flags"] == ["fs_implausible"]
    assert re.search(r"median RR interval is 3200 ms at the stated 250 Hz", back.meta["warnings"][0])
    assert quality_issues(back)["record"] == ["fs_implausible"]
    fine = ECGRecord(signal=_beats(500.0, 10.0, rr_s=0.8, mains_hz=50.0), fs=500.0, leads=CANONICAL_LEADS)
    assert "warnings" not in read_ecg(write_ecg(fine, tmp_path / "fine.csv")).meta


def test_mains_line_at_25_hz_reveals_a_halved_rate(tmp_path):
    # 500 Hz data with 50 Hz mains stated as 250 Hz: the RR (1600 ms) alone looks possible
    halved = ECGRecord(signal=_beats(500.0, 10.0, rr_s=0.8, mains_hz=50.0), fs=250.0, leads=CANONICAL_LEADS)
    back = read_ecg(write_ecg(halved, tmp_path / "halved.csv"))
    assert back.meta["record_flags"] == ["fs_implausible"]
    assert any(
        "mains-interference line appears at 25 Hz" in w and "500 Hz" in w for w in back.meta["warnings"]
    )


def test_a_row_wider_than_the_lead_names_is_refused_not_shifted(tmp_path, record):
    path = write_ecg(record, tmp_path / "wide.csv")
    lines = path.read_text().splitlines()
    lines[10] = "1,5," + lines[10].split(",", 1)[1]  # '1,5' typed with a decimal comma: one cell too many
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ECGFormatError, match=r"column 13 of .*wide\.csv holds values but has no lead name"):
        read_ecg(path)


@pytest.mark.parametrize(
    ("builder", "edit"),
    [
        (muse_xml, (rb"<SampleBase>500</SampleBase>", b"")),
        (hl7_aecg_xml, (rb'<increment value="[^"]*" unit="s"/>', b"")),
        (philips_xml, (rb"<samplingrate>500</samplingrate>", b"")),
    ],
)
def test_vendor_file_without_a_rate_is_a_sampling_rate_error(tmp_path, vendor_signal, builder, edit):
    data = re.sub(edit[0], edit[1], builder(vendor_signal)).replace(b'samplespersecond="500" ', b"")
    path = tmp_path / "nofs.xml"
    path.write_bytes(data)
    with pytest.raises(SamplingRateError, match=r"nofs\.xml states no valid sampling rate.*never assumes"):
        read_ecg(path)


def test_dicom_waveform_without_a_rate_is_a_sampling_rate_error(tmp_path):
    import pydicom
    from pydicom.data import get_testdata_file

    dataset = pydicom.dcmread(get_testdata_file("waveform_ecg.dcm"))
    for group in dataset.WaveformSequence:
        del group.SamplingFrequency
    dataset.save_as(tmp_path / "nofs.dcm")
    with pytest.raises(SamplingRateError, match=r"nofs\.dcm states no valid sampling rate"):
        read_ecg(tmp_path / "nofs.dcm")


def test_xml_with_an_unknown_encoding_is_named(tmp_path, vendor_signal):
    path = tmp_path / "enc.xml"
    path.write_bytes(muse_xml(vendor_signal).replace(b'encoding="ISO-8859-1"', b'encoding="ISO-1"'))
    with pytest.raises(CorruptFileError, match=r"enc\.xml declares an unknown character encoding"):
        read_ecg(path)


def test_lead_flags_are_computed_anew_when_the_samples_change(record):
    from cardiopredict.ecg.io._quality import lead_flags

    signal = record.signal.copy()
    first = lead_flags(signal, record.fs, record.leads)
    assert first["V1"] == []
    first["V1"].append("flat")  # the caller's copy: the kept answer must not change with it
    assert lead_flags(signal.copy(), record.fs, record.leads)["V1"] == []
    signal[record.leads.index("V1")] = 0.0  # changed in place: same array object, new samples
    assert lead_flags(signal, record.fs, record.leads)["V1"] == ["flat"]
    assert quality_issues(record.replace(signal=signal))["V1"] == ["flat"]
    assert "V1" not in quality_issues(record)
