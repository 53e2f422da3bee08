"""Synthetic cohorts: manifest/oracle contract, determinism, atomic writes, bad input, calibration."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from cardiopredict.cohort import oracle_auc, simulate_cardiomyopathy_cohort, simulate_crt_cohort
from cardiopredict.cohort.synthetic import CM_CLASSES, draw_cardiomyopathy_patients, draw_crt_patients
from cardiopredict.ecg.io import read_ecg, write_xlsx_sheets
from cardiopredict.ecg.simulate import simulate_ecg
from cardiopredict.errors import InputError, InsufficientDataError


def _digest(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def crt(tmp_path_factory):
    return simulate_crt_cohort(tmp_path_factory.mktemp("crt") / "cohort", n=16, seed=7, format="csv")


def test_crt_manifest_and_oracle_follow_the_contract(crt):
    manifest = pd.read_csv(crt, dtype={"patient_id": str})
    assert list(manifest.columns) == [
        "patient_id", "response", "ecg_pre", "ecg_post", "qrs_duration_ms", "lbbb", "lvef", "sex", "age",
    ]  # fmt: skip
    assert len(manifest) == 16 and manifest["patient_id"].is_unique
    assert set(manifest["response"]) == {0, 1} and set(manifest["lbbb"]) <= {0, 1}
    assert set(manifest["sex"]) <= {"M", "F"} and manifest["lvef"].between(15, 35).all()
    oracle = pd.read_csv(crt.parent / "oracle.csv", dtype={"patient_id": str})
    assert list(oracle.columns) == ["patient_id", "p_response"]
    assert list(oracle["patient_id"]) == list(manifest["patient_id"])
    assert oracle["p_response"].between(0, 1).all()
    for column in ("ecg_pre", "ecg_post"):
        assert not manifest[column].str.startswith("/").any()  # relative to the manifest
    pre = read_ecg(crt.parent / manifest["ecg_pre"][0])
    post = read_ecg(crt.parent / manifest["ecg_post"][0])
    assert pre.signal.shape == post.signal.shape == (12, 5000) and pre.fs == 500
    assert 100 < manifest["qrs_duration_ms"].median() < 220
    assert set(oracle_auc(crt)) == {"response"}


def test_same_seed_gives_byte_identical_cohort_and_other_seed_differs(crt, tmp_path):
    again = simulate_crt_cohort(tmp_path / "again", n=16, seed=7, format="csv")
    other = simulate_crt_cohort(tmp_path / "other", n=16, seed=8, format="csv")
    assert _digest(crt.parent) == _digest(again.parent)
    assert _digest(crt.parent) != _digest(other.parent)


def _folder_digest(folder):
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# Whole-folder sha256 (relative paths + bytes, sorted) of the cohorts, re-recorded on 2026-12-02 when the
# simulated QRS edges were slowed by default (QRS_EDGE_RAMP = 0.35) and the LBBB, IVCD and fragmentation
# waves re-designed for it (issue 16): manifest.csv and oracle.csv kept their bytes, only the ECG files
# changed. The earlier digests were those of commit 981354b. A change here is a change of the cohorts.
RECORDED_DIGESTS = {
    ("crt", "csv"): "9df4d9d1ef6303578d87e830e863a246feb6f6900877c5e4093cfc6c656894c6",
    ("crt", "xlsx"): "66e1a4c25f87ab8a7881e3dfe5cf25b47dc2084007a94e95235917c360f0481f",
    ("cm", "csv"): "02bb2377e0143892472a68c12d0e89a177f160f6c2056b8b9c847afbf2c9398f",
    ("cm", "xlsx"): "eabaa5aa85741ae9e8ce56721f23d2a0304fa8f284c3b23f1760111676a3de67",
}


@pytest.mark.parametrize(("study", "fmt"), sorted(RECORDED_DIGESTS))
def test_cohort_bytes_are_the_recorded_ones(tmp_path, study, fmt):
    if study == "crt":
        manifest = simulate_crt_cohort(tmp_path / "c", n=10, seed=5, format=fmt)
    else:
        manifest = simulate_cardiomyopathy_cohort(tmp_path / "c", n=10, seed=2, format=fmt)
    assert _folder_digest(manifest.parent) == RECORDED_DIGESTS[study, fmt]


def test_xlsx_is_deterministic_and_reads_back_to_the_microvolt(tmp_path):
    record = simulate_ecg("lbbb_strict", seed=3, record_id="p1_pre")
    a = write_xlsx_sheets([record], ["p1_pre"], tmp_path / "a.xlsx")
    b = write_xlsx_sheets([record], ["p1_pre"], tmp_path / "b.xlsx")
    assert a.read_bytes() == b.read_bytes()
    back = read_ecg(a)
    assert back.fs == 500 and back.leads == record.leads and back.meta["sheet"] == "p1_pre"
    assert np.abs(back.signal - record.signal).max() <= 0.0005 + 1e-6


def test_cohort_in_xlsx_round_trips(tmp_path):
    manifest = simulate_cardiomyopathy_cohort(tmp_path / "cm", n=10, seed=2, format="xlsx")
    table = pd.read_csv(manifest)
    record = read_ecg(manifest.parent / table["ecg"][0])
    assert record.signal.shape == (12, 5000) and record.meta["format"] == "xlsx"
    assert (manifest.parent / table["ecg"][0]).suffix == ".xlsx"


def test_wfdb_format(tmp_path):
    manifest = simulate_crt_cohort(tmp_path / "w", n=10, seed=1, format="wfdb")
    table = pd.read_csv(manifest)
    assert table["ecg_pre"][0].endswith(".hea")
    assert read_ecg(manifest.parent / table["ecg_pre"][0]).signal.shape == (12, 5000)


def test_cardiomyopathy_manifest_and_oracle(tmp_path):
    manifest = simulate_cardiomyopathy_cohort(tmp_path / "cm", n=24, seed=4, format="csv")
    table = pd.read_csv(manifest, dtype={"patient_id": str})
    assert list(table.columns) == ["patient_id", "diagnosis", "ecg", "qrs_duration_ms", "lvef", "sex", "age"]
    assert set(table["diagnosis"]) == set(CM_CLASSES)
    oracle = pd.read_csv(manifest.parent / "oracle.csv")
    ecg_columns = ["p_ecg_GEN", "p_ecg_MYO", "p_ecg_SARC"]
    assert list(oracle.columns) == ["patient_id", "p_GEN", "p_MYO", "p_SARC", *ecg_columns]
    np.testing.assert_allclose(oracle[["p_GEN", "p_MYO", "p_SARC"]].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(oracle[ecg_columns].sum(axis=1), 1.0, atol=1e-5)
    assert set(oracle_auc(manifest)) == {"gen-vs-myo", "gen-vs-sarc", "myo-vs-sarc", "3class"}
    assert set(oracle_auc(manifest, source="ecg")) == set(oracle_auc(manifest))


def test_bad_requests_are_refused(tmp_path, crt):
    with pytest.raises(InsufficientDataError, match="at least 10"):
        simulate_crt_cohort(tmp_path / "x", n=9)
    with pytest.raises(InputError, match="format='xls'"):
        simulate_crt_cohort(tmp_path / "x", n=10, format="xls")
    with pytest.raises(InputError, match=r"not empty.*--overwrite"):
        simulate_crt_cohort(crt.parent, n=10, format="csv")
    assert not (tmp_path / "x").exists()
    # overwrite replaces the folder as a whole and leaves no staging folder behind
    replaced = simulate_crt_cohort(tmp_path / "again", n=10, seed=1, format="csv")
    simulate_crt_cohort(tmp_path / "again", n=11, seed=2, format="csv", overwrite=True)
    assert len(pd.read_csv(replaced)) == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    with pytest.raises(InputError, match=r"oracle\.csv"):
        oracle_auc(tmp_path / "missing" / "manifest.csv")


def test_crt_generative_model_is_calibrated():
    """Latent model at n = 20000: ~60-70 % respond and the oracle AUC is 0.85-0.9."""
    from sklearn.metrics import roc_auc_score

    patients = draw_crt_patients(20000, rng=np.random.default_rng(0))
    y = patients["response"].to_numpy()
    assert 0.60 <= y.mean() <= 0.70
    assert 0.85 <= roc_auc_score(y, patients["p_response"]) <= 0.91


def test_cardiomyopathy_gen_vs_myo_is_easier_than_gen_vs_sarc():
    from sklearn.metrics import roc_auc_score

    patients = draw_cardiomyopathy_patients(20000, rng=np.random.default_rng(0))
    diagnosis = patients["diagnosis"].to_numpy()

    def pairwise(a, b):
        pick = np.isin(diagnosis, (a, b))
        pa, pb = patients[f"p_{a}"][pick], patients[f"p_{b}"][pick]
        return roc_auc_score(diagnosis[pick] == a, pa / (pa + pb))

    assert pairwise("GEN", "MYO") > pairwise("GEN", "SARC") + 0.1
    # rhythm traits alone (rate, AV conduction, ectopy) carry part of the information
    rhythm = patients[["heart_rate_bpm", "av_disease", "ectopy"]].to_numpy()
    from sklearn.linear_model import LogisticRegression

    pick = np.isin(diagnosis, ("GEN", "MYO"))
    model = LogisticRegression().fit(rhythm[pick], diagnosis[pick] == "GEN")
    assert roc_auc_score(diagnosis[pick] == "GEN", model.predict_proba(rhythm[pick])[:, 1]) > 0.75
