"""Excel/CSV clinical-export layout: where fs and units come from, and every kind of bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xlsxwriter

from cardiopredict import read_ecg, read_ecg_workbook, write_ecg
from cardiopredict.ecg.leads import CANONICAL_LEADS
from cardiopredict.errors import (
    CorruptFileError,
    ECGFormatError,
    EmptyDataError,
    InputError,
    MissingLeadError,
    SamplingRateError,
    SignalQualityError,
    UnitError,
    UnknownLeadError,
)

from .conftest import make_signal


def write_csv(path, header_rows, leads, signal, *, delimiter=",", fmt="{:.4f}"):
    lines = [delimiter.join(map(str, row)) for row in header_rows]
    lines.append(delimiter.join(leads))
    lines += [delimiter.join(fmt.format(v) if np.isfinite(v) else "" for v in row) for row in signal.T]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_sheets(path, sheets):
    """sheets: {name: list of rows}; a row is a list of cells (None = empty)."""
    workbook = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = workbook.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                if cell is not None:
                    sheet.write(r, c, cell)
    workbook.close()
    return path


@pytest.fixture
def signal():
    return make_signal(1000).astype(np.float64)


# --- where the sampling rate and unit come from -------------------------------------------------
def test_plain_columns_need_fs_and_units_hints(tmp_path, signal):
    path = write_csv(tmp_path / "plain.csv", [], CANONICAL_LEADS, signal)
    with pytest.raises(SamplingRateError, match=r"plain\.csv does not state its sampling rate.*fs=<Hz>"):
        read_ecg(path)
    with pytest.raises(UnitError, match=r"plain\.csv does not state the signal unit of lead I.*units='mV'"):
        read_ecg(path, fs=500)
    record = read_ecg(path, fs=500, units="mV")
    assert record.fs == 500.0 and record.leads == CANONICAL_LEADS
    np.testing.assert_allclose(record.signal, signal, atol=5e-5)


def test_microvolt_values_are_converted(tmp_path, signal):
    path = write_csv(tmp_path / "uv.csv", [["Sampling rate", "500 Hz"]], CANONICAL_LEADS, signal * 1000)
    np.testing.assert_allclose(read_ecg(path, units="uV").signal, signal, atol=1e-6)
    annotated = [f"{lead} (µV)" for lead in CANONICAL_LEADS]
    path = write_csv(tmp_path / "uv2.csv", [["fs: 500"]], annotated, signal * 1000)
    np.testing.assert_allclose(read_ecg(path).signal, signal, atol=1e-6)
    with pytest.raises(UnitError, match=r"units='mV' was given but .*uv2\.csv states 'µV' for lead I"):
        read_ecg(path, units="mV")


def test_microvolts_labelled_as_millivolts_are_caught(tmp_path, signal):
    path = write_csv(tmp_path / "wrong.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal * 1000)
    with pytest.raises(UnitError, match=r"wrong\.csv: median peak-to-peak amplitude .*units='uV'"):
        read_ecg(path)


def test_unknown_unit(tmp_path, signal):
    path = write_csv(tmp_path / "u.csv", [["fs", 500], ["units", "mmHg"]], CANONICAL_LEADS, signal)
    with pytest.raises(
        UnitError, match=r"Unknown signal unit 'mmHg' in .*u\.csv\. Supported: mV, uV \(µV\), V.*units='mV'"
    ):
        read_ecg(path)


def test_sidecar_json_and_time_column(tmp_path, signal):
    path = write_csv(tmp_path / "ecg.csv", [], CANONICAL_LEADS, signal)
    (tmp_path / "ecg.json").write_text(json.dumps({"sampling_rate_hz": 250, "units": "mV"}))
    assert read_ecg(path).fs == 250.0
    assert read_ecg(path).meta["fs_origin"] == "sidecar JSON"
    timed = np.vstack([np.arange(signal.shape[1]) * 2.0, signal])  # ms at 500 Hz
    path = write_csv(tmp_path / "timed.csv", [["units", "mV"]], ("time_ms", *CANONICAL_LEADS), timed)
    assert read_ecg(path).fs == pytest.approx(500.0)


def test_disagreeing_sampling_rates(tmp_path, signal):
    path = write_csv(
        tmp_path / "ecg.csv", [["sampling_rate_hz", 500], ["units", "mV"]], CANONICAL_LEADS, signal
    )
    (tmp_path / "ecg.csv.json").write_text('{"fs": 1000}')
    with pytest.raises(SamplingRateError, match=r"header cell says 500 Hz, sidecar JSON says 1000 Hz"):
        read_ecg(path)
    (tmp_path / "ecg.csv.json").unlink()
    with pytest.raises(SamplingRateError, match=r"fs=250 Hz was given but .*ecg\.csv states 500 Hz"):
        read_ecg(path, fs=250)


def test_sampling_rate_below_100_hz(tmp_path, signal):
    path = write_csv(tmp_path / "slow.csv", [["fs", 50], ["units", "mV"]], CANONICAL_LEADS, signal)
    with pytest.raises(SamplingRateError, match=r"50 Hz of .*slow\.csv is below 100 Hz"):
        read_ecg(path)
    with pytest.raises(SamplingRateError, match=r"'fast' \(header cell\) in .*not a number of Hz"):
        read_ecg(write_csv(tmp_path / "t.csv", [["fs", "fast"], ["units", "mV"]], CANONICAL_LEADS, signal))


def test_semicolon_csv_with_decimal_commas_and_identifying_header(tmp_path, signal):
    rows = [["Patient name", "Janet Doe"], ["MRN", "998877"], ["Sample rate (Hz)", "500"], ["Unit", "mV"]]
    path = write_csv(tmp_path / "eu.csv", rows, CANONICAL_LEADS, signal, delimiter=";")
    path.write_text(path.read_text().replace(".", ","))
    record = read_ecg(path)
    np.testing.assert_allclose(record.signal, signal, atol=5e-5)
    assert "Doe" not in repr(record.meta) and "998877" not in repr(record.meta)


# --- leads ---------------------------------------------------------------------------------------
def test_limb_leads_derived_and_aliases_accepted(tmp_path, signal):
    names = ["lead i", "II", "v1", "V2", "V3", "V4", "V5", "V6"]
    keep = [0, 1, 6, 7, 8, 9, 10, 11]
    path = write_csv(tmp_path / "eight.csv", [["fs", 500], ["units", "mV"]], names, signal[keep])
    record = read_ecg(path)
    assert record.meta["derived_leads"] == ("III", "aVR", "aVL", "aVF")
    np.testing.assert_allclose(record.lead("aVF"), record.lead("II") - record.lead("I") / 2, atol=1e-6)


def test_pandas_index_column_is_ignored_but_other_unnamed_data_is_not(tmp_path, signal):
    import pandas as pd

    frame = pd.DataFrame(signal.T, columns=list(CANONICAL_LEADS))
    frame.to_excel(tmp_path / "pandas.xlsx")  # writes an unnamed index column A
    np.testing.assert_allclose(
        read_ecg(tmp_path / "pandas.xlsx", fs=500, units="mV").signal, signal, atol=1e-6
    )
    rows = [["fs", 500], ["units", "mV"], ["", *CANONICAL_LEADS], *([0.5, *r] for r in signal.T.tolist())]
    path = write_sheets(tmp_path / "unnamed.xlsx", {"ecg": rows})
    with pytest.raises(
        ECGFormatError, match=r"Column cell A3 of sheet 'ecg' .* holds values but has no lead name"
    ):
        read_ecg(path)


def test_missing_precordial_lead_is_named(tmp_path, signal):
    names = [lead for lead in CANONICAL_LEADS if lead != "V3"]
    path = write_csv(
        tmp_path / "no_v3.csv", [["fs", 500], ["units", "mV"]], names, np.delete(signal, 8, axis=0)
    )
    with pytest.raises(MissingLeadError, match=r"Lead\(s\) V3 missing from .*no_v3\.csv"):
        read_ecg(path)


def test_unknown_column_is_named_with_its_cell(tmp_path, signal):
    sheet = [
        ["fs", 500],
        ["units", "mV"],
        [*CANONICAL_LEADS, "Marker"],
        *([*r, 0] for r in signal.T.tolist()),
    ]
    path = write_sheets(tmp_path / "x.xlsx", {"ecg": sheet})
    with pytest.raises(
        UnknownLeadError, match=r"Column cell M3 of sheet 'ecg' .*named 'Marker'.*Rename or delete"
    ):
        read_ecg(path)


# --- bad cells, NaN runs, flat leads -------------------------------------------------------------
def test_non_numeric_cells_are_listed_with_address_and_lead(tmp_path, signal):
    rows = [["fs", 500], ["units", "mV"], list(CANONICAL_LEADS), *(list(r) for r in signal.T)]
    rows[10][6] = "n/a"  # V1, sample 8
    rows[20][11] = "0,12,3"
    path = write_sheets(tmp_path / "bad.xlsx", {"ecg": rows})
    with pytest.raises(
        SignalQualityError, match=r"cell G11 \(lead V1\) = 'n/a'; cell L21 \(lead V6\) = '0,12,3'"
    ):
        read_ecg(path)


def test_non_numeric_csv_cells_name_line_and_column(tmp_path, signal):
    path = write_csv(tmp_path / "bad.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    lines = path.read_text().splitlines()
    cells = lines[9].split(",")
    cells[2] = "1.2.3"
    lines[9] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(SignalQualityError, match=r"line 10 column 3 \(lead III\) = '1\.2\.3'"):
        read_ecg(path)


def test_blank_csv_line_is_a_gap_not_dropped(tmp_path, signal):
    path = write_csv(tmp_path / "blank.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:100], "", *lines[100:]]) + "\n")
    with pytest.raises(SignalQualityError, match=r"samples 97-97 .* missing in every lead"):
        read_ecg(path)


def test_nan_run_and_empty_lead_are_flagged_not_filled(tmp_path, signal):
    signal = signal.copy()
    signal[7, 200:400] = np.nan  # V2 dropout
    signal[9] = np.nan  # V4 column empty
    path = write_csv(tmp_path / "gaps.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    record = read_ecg(path)
    assert record.meta["quality"]["V2"] == ["nan_run"]
    assert record.meta["quality"]["V4"] == ["all_nan"]
    assert np.isnan(record.lead("V2")[200:400]).all() and np.isnan(record.lead("V4")).all()
    assert record.meta["quality"]["V1"] == []


def test_gap_in_every_lead_is_an_error(tmp_path, signal):
    signal = signal.copy()
    signal[:, 300:310] = np.nan
    path = write_csv(tmp_path / "gap.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    with pytest.raises(
        SignalQualityError, match=r"gap\.csv: samples 300-309 \(20 ms from 0\.600 s\) are missing"
    ):
        read_ecg(path)


def test_trailing_empty_rows_are_trimmed(tmp_path, signal):
    signal = np.hstack([signal, np.full((12, 5), np.nan)])
    path = write_csv(tmp_path / "tail.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    assert read_ecg(path).n_samples == 1000


def test_flat_lead_flagged_and_all_flat_refused(tmp_path, signal):
    signal = signal.copy()
    signal[10] = 0.2
    path = write_csv(tmp_path / "flat.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    assert read_ecg(path).meta["quality"]["V5"] == ["flat"]
    path = write_csv(
        tmp_path / "dead.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, np.zeros_like(signal)
    )
    with pytest.raises(SignalQualityError, match=r"No usable lead in .*dead\.csv: every lead is flat"):
        read_ecg(path)


def test_too_short(tmp_path, signal):
    path = write_csv(tmp_path / "short.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal[:, :50])
    with pytest.raises(SignalQualityError, match=r"short\.csv holds 50 samples \(100 ms at 500 Hz\)"):
        read_ecg(path)


# --- empty, corrupt, unknown ---------------------------------------------------------------------
def test_empty_sheet_in_workbook_is_named(tmp_path, record):
    good = [["fs", 500], ["units", "mV"], list(CANONICAL_LEADS), *(list(r) for r in record.signal.T.tolist())]
    path = write_sheets(tmp_path / "wb.xlsx", {"p1": good, "Sheet2": []})
    with pytest.raises(
        EmptyDataError, match=r"Sheet 'Sheet2' of .*wb\.xlsx is empty\. Delete the empty sheet"
    ):
        read_ecg_workbook(path)
    assert read_ecg(path, sheet="p1").n_samples == record.n_samples


def test_header_without_samples(tmp_path):
    path = write_sheets(tmp_path / "h.xlsx", {"ecg": [["fs", 500], list(CANONICAL_LEADS)]})
    with pytest.raises(EmptyDataError, match=r"lead-name row but no samples"):
        read_ecg(path)


def test_no_lead_header(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ECGFormatError, match=r"No lead-name row .*numbers\.csv.*DATA_FORMATS"):
        read_ecg(path)


def test_truncated_xlsx_is_corrupt(tmp_path, record):
    path = write_ecg(record, tmp_path / "ecg.xlsx")
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CorruptFileError, match=r"ecg\.xlsx.*(damaged|truncated)"):
        read_ecg(path)


def test_empty_and_binary_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(EmptyDataError, match=r"empty\.csv is empty \(0 bytes\)"):
        read_ecg(tmp_path / "empty.csv")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 10)
    with pytest.raises(ECGFormatError, match=r"Cannot tell the format of .*blob\.bin"):
        read_ecg(tmp_path / "blob.bin")


def test_misspelt_or_misplaced_hints(tmp_path, record):
    path = write_ecg(record, tmp_path / "ecg.csv")
    with pytest.raises(TypeError, match="unexpected keyword argument 'sampling_rate'"):
        read_ecg(path, sampling_rate=500)
    with pytest.raises(InputError, match=r"sheet='x' was given but .*ecg\.csv is csv"):
        read_ecg(path, sheet="x")


def test_wordy_bad_cells_are_not_echoed(tmp_path, signal):
    rows = [["fs", 500], ["units", "mV"], list(CANONICAL_LEADS), *(list(r) for r in signal.T)]
    rows.append(["Patient: Janet Doe"] + [None] * 11)  # a footer under the samples
    path = write_sheets(tmp_path / "footer.xlsx", {"ecg": rows})
    with pytest.raises(
        SignalQualityError, match=r"cell A1004 \(lead I\) = <text of 18 characters>"
    ) as caught:
        read_ecg(path)
    assert "Doe" not in str(caught.value)


def test_implausibly_large_lead_is_flagged(tmp_path, signal):
    signal = signal.copy()
    signal[6, 500] = 30.0  # a 30 mV spike in V1
    path = write_csv(tmp_path / "spike.csv", [["fs", 500], ["units", "mV"]], CANONICAL_LEADS, signal)
    quality = read_ecg(path).meta["quality"]
    assert quality["V1"] == ["amplitude"] and quality["V2"] == []


# --- the C-reader fast path reads what the cell-by-cell path reads -------------------------------
def _index_column(signal):
    return np.vstack([np.arange(signal.shape[1], dtype=np.float64), signal])


@pytest.mark.parametrize(
    ("names", "values", "delimiter"),
    [
        (CANONICAL_LEADS, lambda s: s, ","),
        (CANONICAL_LEADS, lambda s: s, ";"),
        (("index", *CANONICAL_LEADS), _index_column, ","),
        (("", *CANONICAL_LEADS), _index_column, ","),
        (CANONICAL_LEADS, lambda s: s, "\t"),
        (("time_ms", *CANONICAL_LEADS), lambda s: np.vstack([2.0 * np.arange(s.shape[1]), s]), ","),
        (CANONICAL_LEADS, lambda s: np.hstack([s, np.full((12, 4), np.nan)]), ","),
    ],
)
def test_fast_csv_path_reads_what_the_cell_by_cell_path_reads(tmp_path, signal, names, values, delimiter):
    import csv

    from cardiopredict.ecg.io import _table

    signal = signal.copy()
    signal[3, 100:140] = np.nan  # a gap: empty cells
    path = write_csv(tmp_path / "ecg.csv", [["units", "mV"]], names, values(signal), delimiter=delimiter)
    if delimiter != ",":  # ";" and tab exports use decimal commas
        path.write_text(path.read_text().replace(".", ","))
    text = path.read_text()
    assert _table._fast_body(text, 1, len(names), delimiter) is not None  # the fast path is taken
    fast = _table.read_csv(path)
    slow = _table.parse_rows(
        list(csv.reader(text.splitlines(), delimiter=delimiter)),
        source=str(path),
        address=_table._csv_address,
        decimal_comma=delimiter != ",",
        sidecar={"fs": 500} if names[0] != "time_ms" else {},
        fmt="csv",
    )
    if names[0] != "time_ms":
        assert fast.fs is None
        fast.fs = 500.0
    assert np.array_equal(fast.signal, slow.signal, equal_nan=True)
    assert (fast.lead_names, fast.fs, fast.units) == (slow.lead_names, slow.fs, slow.units)


def test_first_lines_match_splitlines_across_line_endings():
    from cardiopredict.ecg.io._table import _first_lines

    text = "a,b\r\n" * 3 + "c\rd\n" + "x" * 5000 + "\r\n" + "\n".join(f"{k},{k}" for k in range(3000))
    for n in (1, 4, 6, 50, 4000):
        assert _first_lines(text, n) == text.splitlines()[:n]
