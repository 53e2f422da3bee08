"""write_xlsx_sheets: the one xlsx writer (bytes of the former cohort writer, several sheets, NaN cells)."""

from __future__ import annotations

import hashlib
import zipfile

import numpy as np
import pytest

from cardiopredict import read_ecg, read_ecg_workbook
from cardiopredict.ecg.io import write_xlsx_sheets
from cardiopredict.ecg.io._xlsx import column_letters
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.ecg.record import ECGRecord
from cardiopredict.errors import InputError

from .conftest import make_signal

# sha256 of the uncompressed zip members (name + text, in order) that cohort.synthetic.write_xlsx_fast
# wrote on 2026-12-01 for make_signal(n, fs, seed) and the sheet name; zlib-independent.
RECORDED = {
    (1000, 500.0, 0, "p1_pre"): "b89eea9212a4a58b3aaefe0e95de7662949de97736c1a720a7e270987607c69d",
    (5000, 500.0, 7, "P-002_post"): "f7036f73588d69aa518a853b4617b73910628d67c8b9c252e548e8381bf4b1ff",
    (300, 257.123456789, 1, "x"): "41713e3a0dce3e5eda2d84c057af15a48f94b92183bfed09f6046af21df17809",
}


def _reference_xlsx(record: ECGRecord, path, *, sheet_name: str) -> None:
    """Frozen copy of ``cohort.synthetic.write_xlsx_fast`` as of 2026-12-01 (commit 981354b)."""
    columns = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[: record.signal.shape[0]]
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

    def text_cell(ref, text):
        return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'

    n_leads, n_samples = record.signal.shape
    rows_head = [
        f'<row r="1">{text_cell("A1", "sampling_rate_hz")}<c r="B1"><v>{record.fs!r}</v></c></row>',
        f'<row r="2">{text_cell("A2", "units")}{text_cell("B2", "mV")}</row>',
        '<row r="3">'
        + "".join(text_cell(f"{c}3", lead) for c, lead in zip(columns, record.leads, strict=True))
        + "</row>",
    ]
    row_format = '<row r="%d">' + "".join(f'<c r="{c}%d"><v>%.3f</v></c>' for c in columns) + "</row>"
    rows = np.arange(4, n_samples + 4)
    table = np.empty((n_samples, 1 + 2 * n_leads), dtype=object)
    table[:, 0] = rows
    table[:, 1::2] = rows[:, None]
    table[:, 2::2] = np.round(record.signal.astype(np.float64), 3).T
    body = (row_format * n_samples) % tuple(table.ravel().tolist())
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    office = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sheet = (
        f'{head}<worksheet xmlns="{main}"><dimension ref="A1:{columns[-1]}{n_samples + 3}"/><sheetData>'
        + "".join(rows_head)
        + body
        + "</sheetData></worksheet>"
    )
    parts = (
        (
            "[Content_Types].xml",
            f'{head}<Types xmlns="{pkg}/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{office}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{office}.worksheet+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{office}.styles+xml"/></Types>',
        ),
        (
            "_rels/.rels",
            f'{head}<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
            f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        ),
        (
            "xl/workbook.xml",
            f'{head}<workbook xmlns="{main}" xmlns:r="{rel}">'
            f'<sheets><sheet name="{sheet_name}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        ),
        (
            "xl/_rels/workbook.xml.rels",
            f'{head}<Relationships xmlns="{pkg}/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{rel}/styles" Target="styles.xml"/></Relationships>',
        ),
        (
            "xl/styles.xml",
            f'{head}<styleSheet xmlns="{main}">'
            '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill>'
            '<fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            "</styleSheet>",
        ),
        ("xl/worksheets/sheet1.xml", sheet),
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in parts:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode("utf-8"), compresslevel=1)


def _members_sha256(path) -> str:
    digest = hashlib.sha256()
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            digest.update(info.filename.encode() + b"\0" + archive.read(info) + b"\0")
    return digest.hexdigest()


@pytest.mark.parametrize("case", sorted(RECORDED))
def test_one_nan_free_record_gives_the_former_cohort_writer_bytes(tmp_path, case):
    n_samples, fs, seed, sheet_name = case
    record = ECGRecord(signal=make_signal(n_samples, fs, seed), fs=fs, leads=CANONICAL_LEADS)
    written = write_xlsx_sheets([record], [sheet_name], tmp_path / "new.xlsx")
    _reference_xlsx(record, tmp_path / "old.xlsx", sheet_name=sheet_name)
    assert written.read_bytes() == (tmp_path / "old.xlsx").read_bytes()
    assert _members_sha256(written) == RECORDED[case]
    back = read_ecg(written)
    assert back.fs == fs and back.leads == CANONICAL_LEADS
    np.testing.assert_allclose(back.signal, record.signal, atol=5.01e-4)  # rounded to 1 µV


def test_several_sheets_with_nan_cells_read_back(tmp_path, record):
    gappy = record.signal.copy()
    gappy[7, 100:130] = np.nan  # a dropout in V2
    gappy[:, 0] = np.nan  # a first row missing in every lead is trimmed by the reader
    second = record.replace(signal=gappy, fs=1000.0)
    path = write_xlsx_sheets([record, second], ["a&b", 'q"1'], tmp_path / "w.xlsx", decimals=None)
    first, back = read_ecg_workbook(path)
    assert [first.record_id, back.record_id] == ["a&b", 'q"1']
    np.testing.assert_array_equal(first.signal, record.signal)  # decimals=None: exact in float32
    assert back.fs == 1000.0
    np.testing.assert_array_equal(back.signal, gappy[:, 1:])
    assert back.meta["quality"]["V2"] == ["nan_run"]
    assert back.meta["trimmed_samples"] == (1, 0)


def test_more_than_26_columns_use_double_letters(tmp_path):
    assert [column_letters(j) for j in (0, 25, 26, 27, 701, 702)] == ["A", "Z", "AA", "AB", "ZZ", "AAA"]
    leads = tuple(f"X{k}" for k in range(30))
    record = ECGRecord(signal=np.zeros((30, 10), np.float32), fs=500.0, leads=leads)
    path = write_xlsx_sheets([record], ["s"], tmp_path / "wide.xlsx")
    with zipfile.ZipFile(path) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml").decode()
    assert '<dimension ref="A1:AD13"/>' in sheet and '<c r="AD3" t="inlineStr"><is><t>X29</t>' in sheet


def test_infinite_samples_and_mismatched_names_are_refused(tmp_path, record):
    signal = record.signal.copy()
    signal[3, 5] = np.inf
    with pytest.raises(InputError, match=r"1 infinite sample.*set them to NaN"):
        write_xlsx_sheets([record.replace(signal=signal)], ["s"], tmp_path / "x.xlsx")
    with pytest.raises(InputError, match="2 records but 1 sheet names"):
        write_xlsx_sheets([record, record], ["s"], tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())  # nothing half-written
