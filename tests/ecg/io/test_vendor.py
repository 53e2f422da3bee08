"""Vendor formats: DICOM 12-lead waveform (pydicom's real file), GE MUSE XML and HL7 aECG (built here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cardiopredict import read_ecg
from cardiopredict.ecg.io import _vendor
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import CorruptFileError, ECGFormatError, UnitError

from .conftest import UV_PER_BIT, hl7_aecg_xml, muse_xml, philips_xml, scp_ecg

pydicom = pytest.importorskip("pydicom")


@pytest.fixture(scope="module")
def dicom_path():
    from pydicom.data import get_testdata_file

    return get_testdata_file("waveform_ecg.dcm")


def test_dicom_waveform_reads_12_leads_at_1000_hz_in_mv(dicom_path):
    from pydicom.waveforms.numpy_handler import multiplex_array

    record = read_ecg(dicom_path)
    assert record.meta["format"] == "dicom"
    assert record.fs == 1000.0
    assert record.leads == CANONICAL_LEADS
    assert record.signal.shape == (12, 10000)
    assert record.meta["derived_leads"] == ()
    assert record.meta["units_in_file"] == ["uV"]
    # Independent decoding: raw int16 counts x ChannelSensitivity (1.25 µV) / 1000 = mV.
    dataset = pydicom.dcmread(dicom_path)
    raw = multiplex_array(dataset, 0, as_raw=True).T.astype(np.float64)
    sensitivity = float(dataset.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSensitivity)
    np.testing.assert_allclose(record.signal, raw * sensitivity / 1000, atol=1e-6)
    # A real surface ECG: peak-to-peak between 0.2 and 5 mV in every lead, Einthoven holds.
    ptp = np.ptp(record.signal, axis=1)
    assert np.all((ptp > 0.2) & (ptp < 5))
    einthoven = record.lead("III") - (record.lead("II") - record.lead("I"))
    assert np.median(np.abs(einthoven)) < 0.01


def test_dicom_pydicom_fallback_agrees_with_ecgdatakit(dicom_path):
    via_pydicom = _vendor._read_dicom_with_pydicom(Path(dicom_path))
    via_ecgdatakit = _vendor._read_with_ecgdatakit("dicom", Path(dicom_path))
    np.testing.assert_allclose(via_pydicom.signal, via_ecgdatakit.signal)
    assert via_pydicom.fs == via_ecgdatakit.fs == 1000.0


def test_dicom_read_through_pydicom_when_ecgdatakit_fails(dicom_path, tmp_path, monkeypatch):
    expected = read_ecg(dicom_path).signal  # through ecgdatakit
    # Median beat group first: the fallback must still pick the rhythm group.
    dataset = pydicom.dcmread(dicom_path)
    rhythm, median = list(dataset.WaveformSequence)
    dataset.WaveformSequence = pydicom.sequence.Sequence([median, rhythm])
    path = tmp_path / "median_first.dcm"
    dataset.save_as(path)

    def broken(fmt, target):
        raise CorruptFileError("ecgdatakit could not decode it")

    monkeypatch.setattr(_vendor, "_read_with_ecgdatakit", broken)
    record = read_ecg(path)
    assert record.meta["reader"].startswith("pydicom")
    assert record.signal.shape == (12, 10000) and record.fs == 1000.0
    np.testing.assert_allclose(record.signal, expected, atol=1e-6)


def _modified_dicom(dicom_path, tmp_path, *, unit, sensitivity):
    dataset = pydicom.dcmread(dicom_path)
    for channel in dataset.WaveformSequence[0].ChannelDefinitionSequence:
        channel.ChannelSensitivity = sensitivity
        channel.ChannelSensitivityUnitsSequence[0].CodeValue = unit
        channel.ChannelSensitivityUnitsSequence[0].CodeMeaning = unit
    path = tmp_path / "modified.dcm"
    dataset.save_as(path)
    return path


def test_dicom_channel_sensitivity_in_mv_gives_same_values(dicom_path, tmp_path):
    original = read_ecg(dicom_path)
    in_mv = read_ecg(_modified_dicom(dicom_path, tmp_path, unit="mV", sensitivity=0.00125))
    np.testing.assert_allclose(in_mv.signal, original.signal, rtol=1e-6)


def test_dicom_unknown_sensitivity_unit_is_refused(dicom_path, tmp_path):
    path = _modified_dicom(dicom_path, tmp_path, unit="mm[Hg]", sensitivity=1.25)
    with pytest.raises(UnitError, match=r"Unknown signal unit 'mm\[Hg\]' for lead .*modified\.dcm.*units="):
        read_ecg(path)


def test_truncated_dicom_is_corrupt(dicom_path, tmp_path):
    data = Path(dicom_path).read_bytes()
    path = tmp_path / "cut.dcm"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptFileError, match=r"cut\.dcm"):
        read_ecg(path)


def test_muse_xml_derives_limb_leads_and_keeps_identifiers_out(tmp_path, vendor_signal):
    path = tmp_path / "muse.xml"
    path.write_bytes(muse_xml(vendor_signal))
    record = read_ecg(path)
    assert record.meta["format"] == "muse-xml"
    assert record.fs == 500.0
    assert record.meta["derived_leads"] == ("III", "aVR", "aVL", "aVF")
    # Stored as int16 counts of 4.88 µV: half a count per stored lead, one count for III = II - I.
    stored = [CANONICAL_LEADS.index(name) for name in ("I", "II", "V1", "V6")]
    assert np.max(np.abs(record.signal[stored] - vendor_signal[stored])) <= UV_PER_BIT / 2 / 1000 + 1e-6
    assert np.max(np.abs(record.signal - vendor_signal)) <= UV_PER_BIT / 1000 + 1e-6
    text = repr(record.meta) + str(record.patient_id) + str(record.record_id)
    for identifier in ("Doe", "Janet", "MRN-998877", "2021"):
        assert identifier not in text


def test_muse_checksum_mismatch_is_corrupt(tmp_path, vendor_signal):
    path = tmp_path / "muse.xml"
    path.write_bytes(muse_xml(vendor_signal, crc_ok=False))
    with pytest.raises(CorruptFileError, match=r"muse\.xml fails its checksum"):
        read_ecg(path)


def test_muse_without_amplitude_unit_is_refused(tmp_path, vendor_signal):
    path = tmp_path / "muse.xml"
    path.write_bytes(muse_xml(vendor_signal, unit=""))
    with pytest.raises(UnitError, match=r"Lead I of muse-xml file .*muse\.xml has no amplitude scale"):
        read_ecg(path)


def test_hl7_aecg_reads_scaled_digits(tmp_path, vendor_signal):
    path = tmp_path / "aecg.xml"
    path.write_bytes(hl7_aecg_xml(vendor_signal))
    record = read_ecg(path)
    assert record.meta["format"] == "hl7-aecg"
    assert record.fs == 500.0
    assert record.meta["derived_leads"] == ()
    assert np.max(np.abs(record.signal - vendor_signal)) <= 2.5 / 2 / 1000 + 1e-6
    assert "Doe" not in repr(record.meta) and "SUBJ-4711" not in repr(record.meta)


def test_hl7_aecg_in_millivolts(tmp_path, vendor_signal):
    path = tmp_path / "aecg.xml"
    path.write_bytes(hl7_aecg_xml(vendor_signal / 1000, scale_unit="mV"))  # digits x 2.5 mV
    record = read_ecg(path)
    assert record.meta["units_in_file"] == ["mV"]


@pytest.mark.parametrize("root", ["RestingECG", "restingecgdata", "AnnotatedECG"])
def test_xml_entity_expansion_is_refused(tmp_path, root):
    # ecgdatakit's Philips parser uses xmltodict, not defusedxml: the defusedxml check runs first for all.
    path = tmp_path / "bomb.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE {root} [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        f"<{root}><x>&b;</x></{root}>"
    )
    with pytest.raises(ECGFormatError, match=r"bomb\.xml declares entities"):
        read_ecg(path)


def test_truncated_xml_is_corrupt(tmp_path, vendor_signal):
    path = tmp_path / "muse.xml"
    path.write_bytes(muse_xml(vendor_signal)[:3000])
    with pytest.raises(CorruptFileError, match=r"muse\.xml is not well-formed"):
        read_ecg(path)


def test_unknown_xml_root_is_named(tmp_path):
    path = tmp_path / "other.xml"
    path.write_text('<?xml version="1.0"?><Invoice><Total>3</Total></Invoice>')
    with pytest.raises(ECGFormatError, match=r"root element <invoice>.*GE MUSE"):
        read_ecg(path)


def test_philips_xml_uncompressed_base64(tmp_path, vendor_signal):
    path = tmp_path / "philips.xml"
    path.write_bytes(philips_xml(vendor_signal))
    record = read_ecg(path)
    assert record.meta["format"] == "philips-xml"
    assert record.fs == 500.0 and record.n_samples == vendor_signal.shape[1]
    assert np.max(np.abs(record.signal - vendor_signal)) <= 5.0 / 2 / 1000 + 1e-6
    assert "Doe" not in repr(record.meta) and "MRN-998877" not in repr(record.meta)


def test_scp_ecg_detected_by_content_and_scaled_by_avm(tmp_path, vendor_signal):
    path = tmp_path / "export.bin"  # the suffix says nothing; the SCPECG marker in section 0 does
    path.write_bytes(scp_ecg(vendor_signal))
    record = read_ecg(path)
    assert record.meta["format"] == "scp-ecg"
    assert record.fs == 500.0
    assert record.meta["derived_leads"] == ("III", "aVR", "aVL", "aVF")
    stored = [CANONICAL_LEADS.index(name) for name in ("I", "II", "V1", "V6")]
    assert np.max(np.abs(record.signal[stored] - vendor_signal[stored])) <= 5.0 / 2 / 1000 + 1e-6
    assert "MRN-998877" not in repr(record.meta)


def test_scp_ecg_damaged_byte_fails_crc(tmp_path, vendor_signal):
    data = bytearray(scp_ecg(vendor_signal))
    data[-100] ^= 0x55  # inside the rhythm data of section 6
    path = tmp_path / "bad.scp"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptFileError, match=r"bad\.scp fails its checksum.*CRC"):
        read_ecg(path)


def test_scp_ecg_truncated(tmp_path, vendor_signal):
    path = tmp_path / "cut.scp"
    path.write_bytes(scp_ecg(vendor_signal)[:4000])
    with pytest.raises(CorruptFileError, match=r"cut\.scp cannot be decoded.*re-export"):
        read_ecg(path)
