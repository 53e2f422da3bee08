"""Format detection from content."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from cardiopredict import read_ecg, write_ecg
from cardiopredict.ecg.io._sniff import sniff_format
from cardiopredict.errors import CorruptFileError, ECGFormatError

from .conftest import philips_xml


def test_content_beats_suffix(tmp_path, record):
    written = write_ecg(record, tmp_path / "ecg.xlsx")
    renamed = written.rename(tmp_path / "ecg.csv")  # an xlsx with a misleading suffix
    assert sniff_format(renamed)[0] == "xlsx"
    np.testing.assert_array_equal(read_ecg(renamed).signal, record.signal)


def test_zip_that_is_not_a_workbook(tmp_path):
    path = tmp_path / "ecg.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.txt", "hello")
    with pytest.raises(ECGFormatError, match=r"zip archive but not an Excel workbook"):
        read_ecg(path)
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(CorruptFileError, match=r"archive is damaged or truncated"):
        read_ecg(path)


def test_utf16_tab_separated_text_as_excel_saves_it(tmp_path, record):
    text = write_ecg(record, tmp_path / "ecg.csv").read_text().replace(",", "\t")
    path = tmp_path / "unicode.txt"
    path.write_text(text, encoding="utf-16")
    back = read_ecg(path)
    assert back.meta["format"] == "csv"
    np.testing.assert_array_equal(back.signal, record.signal)


def test_utf16_philips_xml(tmp_path, vendor_signal):
    xml = philips_xml(vendor_signal).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "philips16.xml"
    path.write_text(xml, encoding="utf-16")
    assert sniff_format(path)[0] == "philips-xml"
    assert read_ecg(path).n_samples == vendor_signal.shape[1]


def test_namespaced_xml_root(tmp_path):
    path = tmp_path / "a.xml"
    path.write_text('<?xml version="1.0"?>\n<!-- export -->\n<v3:AnnotatedECG xmlns:v3="urn:hl7-org:v3"/>')
    assert sniff_format(path)[0] == "hl7-aecg"
