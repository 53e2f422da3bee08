"""Cohort manifest: reading CSV/XLSX, path resolution, and reporting every bad row at once."""

from __future__ import annotations

import numpy as np
import pytest
import xlsxwriter

from cardiopredict import read_manifest
from cardiopredict.errors import DuplicatePatientError, ManifestError

HEADER = "patient_id,response,ecg_pre,ecg_post,qrs_duration_ms,lbbb,lvef,sex,age,site"


@pytest.fixture
def cohort(tmp_path):
    """A folder with three ECG files and a writer for manifest text."""
    (tmp_path / "ecg").mkdir()
    for name in ("a_pre.xlsx", "a_post.xlsx", "b_pre.xlsx", "c_pre.xlsx"):
        (tmp_path / "ecg" / name).write_bytes(b"not empty")

    def write(*rows: str, name: str = "manifest.csv"):
        path = tmp_path / name
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        return path

    return write


def read_crt(path, **kwargs):
    return read_manifest(
        path, label_column="response", label_values=(0, 1), file_columns=("ecg_pre",),
        optional_file_columns=("ecg_post",), **kwargs,
    )  # fmt: skip


def test_good_manifest_resolves_paths_and_types(cohort, tmp_path):
    path = cohort(
        "007,1,ecg/a_pre.xlsx,ecg/a_post.xlsx,162,1,25,m,70,north",
        "008,0,ecg/b_pre.xlsx,,120,0,33.5,F,,south",
        "009,1,ecg/c_pre.xlsx,,,yes,,,81,north",
    )
    manifest = read_crt(path)
    table = manifest.table
    assert manifest.path == path
    assert manifest.file_columns == ("ecg_pre", "ecg_post")
    assert manifest.patient_ids == ["007", "008", "009"]  # text, leading zeros kept
    assert table["response"].tolist() == [1, 0, 1]
    assert table["ecg_pre"].tolist() == [str(tmp_path / "ecg" / f"{p}_pre.xlsx") for p in "abc"]
    assert table["ecg_post"].iloc[0] == str(tmp_path / "ecg" / "a_post.xlsx")
    assert np.isnan(table["ecg_post"].iloc[1]) and np.isnan(table["ecg_post"].iloc[2])
    np.testing.assert_array_equal(table["lbbb"], [1.0, 0.0, 1.0])
    assert table["sex"].iloc[0] == "M" and table["sex"].iloc[1] == "F" and np.isnan(table["sex"].iloc[2])
    np.testing.assert_array_equal(table["lvef"], [25.0, 33.5, np.nan])
    assert table["site"].tolist() == ["north", "south", "north"]


def test_every_bad_row_is_reported_in_one_error(cohort):
    path = cohort(
        "P1,1,ecg/a_pre.xlsx,,162,1,25,M,70,x",
        "P2,2,ecg/b_pre.xlsx,,162,1,25,M,70,x",  # label not allowed
        "P3,1,ecg/missing.xlsx,,162,1,25,M,70,x",  # file missing
        "P4,0,ecg/c_pre.xlsx,,162,1,95,M,70,x",  # lvef out of range
        "P5,0,ecg/c_pre.xlsx,,162,1,25,X,130,x",  # sex and age
        "P6,0,ecg/c_pre.xlsx,,20,maybe,25,F,70,x",  # qrs duration and lbbb
        "P7,1,,,162,1,25,M,70,x",  # required file empty
    )
    with pytest.raises(ManifestError) as caught:
        read_crt(path)
    problems = caught.value.problems
    assert len(problems) == 8
    message = str(caught.value)
    assert "8 problem(s)" in message
    for expected in (
        r"row 3, patient_id 'P2', field 'response', value '2': not an allowed label; use one of 0, 1",
        r"row 4, patient_id 'P3', field 'ecg_pre', value 'ecg/missing.xlsx': file not found",
        r"row 5, patient_id 'P4', field 'lvef', value '95': outside the plausible range 5-80 %",
        r"row 6, patient_id 'P5', field 'sex', value 'X': use M or F",
        r"row 6, patient_id 'P5', field 'age', value '130': outside the plausible range 0-120 years",
        r"row 7, patient_id 'P6', field 'qrs_duration_ms', value '20': outside the plausible range 40-300 ms",
        r"row 7, patient_id 'P6', field 'lbbb', value 'maybe'",
        r"row 8, patient_id 'P7', field 'ecg_pre', value '': no file given",
    ):
        assert expected in message, expected


def test_duplicate_patient_ids_raise_duplicate_error_with_both_rows(cohort):
    path = cohort(
        "P1,1,ecg/a_pre.xlsx,,,,,,,",
        "P2,1,ecg/b_pre.xlsx,,,,,,,",
        "P1,0,ecg/c_pre.xlsx,,,,,,,",
        "P2,0,ecg/c_pre.xlsx,,,,,,,",
    )
    with pytest.raises(DuplicatePatientError, match=r"row 4, patient_id 'P1': duplicate of row 2") as caught:
        read_crt(path)
    assert len(caught.value.problems) == 2
    assert "row 5, patient_id 'P2': duplicate of row 3" in str(caught.value)


def test_missing_columns_are_named(cohort, tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("patient_id,outcome\nP1,1\n")
    with pytest.raises(
        ManifestError, match=r"lacks the column\(s\) response, ecg_pre; it has patient_id, outcome"
    ):
        read_crt(path)


def test_check_files_false_skips_existence(cohort):
    path = cohort("P1,1,ecg/nowhere.xlsx,,,,,,,")
    assert read_crt(path, check_files=False).table["ecg_pre"].iloc[0].endswith("nowhere.xlsx")


def test_empty_file_is_unreadable(cohort, tmp_path):
    (tmp_path / "ecg" / "empty.xlsx").write_bytes(b"")
    with pytest.raises(ManifestError, match=r"field 'ecg_pre'.*file is empty"):
        read_crt(cohort("P1,1,ecg/empty.xlsx,,,,,,,"))


def test_wfdb_record_without_suffix_counts_as_present(cohort, tmp_path):
    (tmp_path / "ecg" / "r1.hea").write_text("r1 12 500 5000\n")
    assert read_crt(cohort("P1,1,ecg/r1,,,,,,,")).table["ecg_pre"].iloc[0] == str(tmp_path / "ecg" / "r1")


def test_text_labels_are_case_insensitive_and_unlabelled_manifest_reads(tmp_path):
    (tmp_path / "e.csv").write_text("x")
    path = tmp_path / "m.csv"
    path.write_text("patient_id;diagnosis;ecg\nA;gen;e.csv\nB;Sarc;e.csv\nC;HCM;e.csv\n")
    with pytest.raises(
        ManifestError, match=r"row 4, patient_id 'C', field 'diagnosis', value 'HCM'"
    ) as caught:
        read_manifest(
            path, label_column="diagnosis", label_values=("GEN", "MYO", "SARC"), file_columns=("ecg",)
        )
    assert len(caught.value.problems) == 1
    path.write_text("patient_id;diagnosis;ecg\nA;gen;e.csv\nB;Sarc;e.csv\n")
    table = read_manifest(
        path, label_column="diagnosis", label_values=("GEN", "MYO", "SARC"), file_columns=("ecg",)
    ).table
    assert table["diagnosis"].tolist() == ["GEN", "SARC"]
    unlabelled = read_manifest(path, label_column=None, file_columns=("ecg",))
    assert unlabelled.label_column is None and unlabelled.patient_ids == ["A", "B"]


def test_xlsx_manifest_reads_like_csv(tmp_path):
    (tmp_path / "e.csv").write_text("x")
    path = tmp_path / "m.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet()
    for r, row in enumerate(
        [["patient_id", "response", "ecg_pre", "lvef"], [1, 1, "e.csv", 30], [2, 0, "e.csv", 200]]
    ):
        sheet.write_row(r, 0, row)
    workbook.close()
    with pytest.raises(ManifestError, match=r"row 3, patient_id '2', field 'lvef', value '200'"):
        read_crt(path)


def test_empty_manifest_and_missing_file(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("\n\n")
    with pytest.raises(ManifestError, match="is empty"):
        read_crt(path)
    with pytest.raises(ManifestError, match="does not exist"):
        read_crt(tmp_path / "none.csv")


def test_header_and_row_shape_problems(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("patient_id,response,response\nP1,1,1\n")
    with pytest.raises(ManifestError, match=r"column\(s\) response appear more than once"):
        read_manifest(path, label_column="response")
    path.write_text("patient_id,response\nP1,1,extra\n")
    with pytest.raises(ManifestError, match=r"row 2 has more cells than the header .*'extra'"):
        read_manifest(path, label_column="response")
